"""`mmtui emulate backpack` as a new user would use it: the written config trades the
emulator through the real Backpack connector, and the safe shutdown leaves nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mmtui.config import ConfigError, load_config
from mmtui.emulate import start_backpack
from mmtui.session import SessionError, build_session


async def test_written_config_trades_the_emulator(tmp_path: Path) -> None:
    harness, config_path = await asyncio.to_thread(start_backpack, tmp_path / "emu")
    try:
        key_file = tmp_path / "emu" / "backpack_key.yaml"
        assert key_file.stat().st_mode & 0o077 == 0
        config, _ = load_config(config_path, env={})
        session = build_session(config)
        await session.start()
        try:
            runner = session.engine.runner("as_btc")
            for _ in range(60):  # real time: the emulator runs on the wall clock
                await asyncio.sleep(0.5)
                if runner.position("backpack", "BTC_USDC_PERP").fills >= 2:
                    break
        finally:
            report = await session.stop()
        summary = session.summary()
        assert summary.fills_by_venue.get("backpack", 0) > 0, summary
        assert report.ok and summary.open_orders_left == 0
        left = harness.call(lambda: harness.venue.open_orders("rehearsal"))
        assert left == []
    finally:
        await asyncio.to_thread(harness.stop)


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
