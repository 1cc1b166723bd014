"""`mmtui emulate grvt` as a new user would use it: the written config trades the
emulator through the real GRVT connector, and the safe shutdown leaves nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmtui.config import load_config
from mmtui.emulate import start_grvt
from mmtui.session import SessionError, build_session
from tests.rehearsal import emulated, trade_until_fills


async def test_written_config_trades_the_emulator(tmp_path: Path) -> None:
    async with emulated(start_grvt, tmp_path / "emu") as (harness, config_path):
        assert (tmp_path / "emu" / "grvt_key.yaml").stat().st_mode & 0o077 == 0
        summary, report = await trade_until_fills(config_path, "grvt", "BTC_USDT_Perp")
        assert summary.fills_by_venue.get("grvt", 0) > 0, summary
        assert report.ok and summary.open_orders_left == 0
        assert harness.call(lambda: harness.dialect.orders_of("rehearsal")) == []


def test_missing_keys_are_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GRVT_API_KEY", "GRVT_TRADING_ACCOUNT_ID", "GRVT_PRIVATE_KEY"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "c.yaml"
    path.write_text(
        "venues:\n  g: {type: grvt, base_url: 'http://127.0.0.1:9', ws_url: 'ws://127.0.0.1:9/ws'}\n"
    )
    config, _ = load_config(path, env={})
    with pytest.raises(SessionError, match="no GRVT keys") as info:
        build_session(config)
    assert "\n" not in str(info.value)


def test_the_factory_registers_the_keys_for_redaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connectors.grvt.emulator import new_credentials
    from mmtui.logsetup import redact

    creds = new_credentials()
    monkeypatch.setenv("GRVT_API_KEY", creds.api_key)
    monkeypatch.setenv("GRVT_TRADING_ACCOUNT_ID", creds.sub_account_id)
    monkeypatch.setenv("GRVT_PRIVATE_KEY", creds.private_key)
    path = tmp_path / "c.yaml"
    path.write_text(
        "venues:\n  g: {type: grvt, base_url: 'http://127.0.0.1:9', ws_url: 'ws://127.0.0.1:9/ws'}\n"
        "journal: {enabled: false}\n"
    )
    config, _ = load_config(path, env={})
    session = build_session(config)
    conn = session.engine.connectors["g"]
    assert conn.keys.trading_account_id == creds.sub_account_id  # type: ignore[attr-defined]
    text = redact(f"login {creds.api_key} key {creds.private_key}")
    assert creds.api_key not in text and creds.private_key[2:] not in text
