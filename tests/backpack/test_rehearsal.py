"""`mmtui emulate backpack` as a new user would use it: the written config trades the
emulator through the real Backpack connector, and the safe shutdown leaves nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmtui.config import ConfigError, load_config
from mmtui.emulate import start_backpack
from mmtui.session import SessionError, build_session
from tests.rehearsal import emulated, trade_until_fills


async def test_written_config_trades_the_emulator(tmp_path: Path) -> None:
    async with emulated(start_backpack, tmp_path / "emu") as (harness, config_path):
        assert (tmp_path / "emu" / "backpack_key.yaml").stat().st_mode & 0o077 == 0
        summary, report = await trade_until_fills(config_path, "backpack", "BTC_USDC_PERP")
        assert summary.fills_by_venue.get("backpack", 0) > 0, summary
        assert report.ok and summary.open_orders_left == 0
        assert harness.call(lambda: harness.venue.open_orders("rehearsal")) == []


def test_a_real_exchange_url_needs_live_mode(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("venues:\n  bp: {type: backpack}\n")
    with pytest.raises(ConfigError, match="point at a real exchange"):
        load_config(path, env={})


def test_missing_keys_are_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BACKPACK_API_KEY", raising=False)
    monkeypatch.delenv("BACKPACK_API_SECRET", raising=False)
    path = tmp_path / "c.yaml"
    path.write_text(
        "venues:\n  bp: {type: backpack, rest_url: 'http://127.0.0.1:9', "
        "ws_url: 'ws://127.0.0.1:9/'}\n"
    )
    config, _ = load_config(path, env={})
    with pytest.raises(SessionError, match="no Backpack keys") as info:
        build_session(config)
    assert "\n" not in str(info.value)
