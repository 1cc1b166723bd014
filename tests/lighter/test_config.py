"""``type: lighter`` in the config: defaults, safety rules, missing keys."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from connectors.lighter.connector import LighterConnector
from mmtui.config import ConfigError, LighterVenueConfig, load_config
from mmtui.session import SessionError, build_session
from mmtui.venue_factory import venue_connector

LOOP = "url: http://127.0.0.1:9\n    ws_url: ws://127.0.0.1:9/stream"


def _load(tmp_path: Path, venue: str, mode: str = "sim", env: dict | None = None):  # type: ignore[no-untyped-def]
    path = tmp_path / "c.yaml"
    path.write_text(f"mode: {mode}\nvenues:\n  lighter:\n    type: lighter\n    {venue}\n")
    return load_config(path, env=env or {})[0]


def test_defaults_are_mainnet_and_a_standard_account() -> None:
    cfg = LighterVenueConfig()
    assert cfg.url.startswith("https://mainnet.zklighter")
    assert cfg.ws_url.endswith("/stream")
    assert cfg.tier == "standard" and cfg.batch_txs
    # the connector paces by the tier (connectors/lighter/pacing.py), not the core
    assert cfg.rate_limit is None
    assert cfg.dead_man_switch_s is None


@pytest.mark.parametrize("tier", [None, "standard", "premium"])
def test_the_tier_sets_the_connectors_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tier: str | None
) -> None:
    monkeypatch.setenv("LIGHTER_ACCOUNT_INDEX", "281")
    monkeypatch.setenv("LIGHTER_API_KEY_INDEX", "3")
    monkeypatch.setenv("LIGHTER_API_PRIVATE_KEY", "0x" + "ab" * 40)
    line = f"\n    tier: {tier}" if tier else ""
    config = _load(tmp_path, LOOP + line, env=dict(os.environ))
    conn = venue_connector("lighter", config.venues["lighter"], "mmtest")
    assert isinstance(conn, LighterConnector) and conn.pacer is not None
    assert conn.pacer.tier.name == (tier or "standard")
    pacer = conn.pacer
    if tier == "premium":  # 24,000 weighted reads, 4,000 txs a minute, the volume quota
        assert pacer.rest.capacity == 24_000 and pacer.tier.cost("trades") == 600
        assert pacer.tx is not None and pacer.tx.capacity == 4_000
        assert pacer.quota is not None
    else:  # 60 requests a minute, orders included; trades (weight 600) 40
        assert pacer.tx is None and pacer.quota is None
        assert pacer.rest.capacity / pacer.tier.cost("sendTx") == 60
        assert pacer.rest.capacity / pacer.tier.cost("trades") == 40
    assert conn.tx.queue.limit == 50


def test_sim_mode_refuses_a_real_lighter_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="set mode: live"):
        _load(tmp_path, "url: https://mainnet.zklighter.elliot.ai")


def test_dead_man_switch_floor_on_a_real_venue(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at least 300 s"):
        _load(tmp_path, "dead_man_switch_s: 60", mode="live")
    assert _load(tmp_path, "dead_man_switch_s: 600", mode="live").mode == "live"
    # an emulator on loopback may use a short one (tests of the switch do)
    assert _load(tmp_path, f"{LOOP}\n    dead_man_switch_s: 3").venues["lighter"]


def test_no_keys_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LIGHTER_ACCOUNT_INDEX", "LIGHTER_API_KEY_INDEX", "LIGHTER_API_PRIVATE_KEY"):
        monkeypatch.delenv(name, raising=False)
    config = _load(tmp_path, LOOP)
    config.journal.enabled = False
    with pytest.raises(SessionError, match=r"no Lighter keys: set venues\.lighter\.key_file"):
        build_session(config)
