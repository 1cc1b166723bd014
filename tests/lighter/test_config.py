"""``type: lighter`` in the config: defaults, safety rules, missing keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmtui.config import ConfigError, LighterVenueConfig, load_config
from mmtui.session import SessionError, build_session

LOOP = "url: http://127.0.0.1:9\n    ws_url: ws://127.0.0.1:9/stream"


def _load(tmp_path: Path, venue: str, mode: str = "sim", env: dict | None = None):  # type: ignore[no-untyped-def]
    path = tmp_path / "c.yaml"
    path.write_text(f"mode: {mode}\nvenues:\n  lighter:\n    type: lighter\n    {venue}\n")
    return load_config(path, env=env or {})[0]


def test_defaults_are_mainnet_with_lighter_weights() -> None:
    cfg = LighterVenueConfig()
    assert cfg.url.startswith("https://mainnet.zklighter")
    assert cfg.ws_url.endswith("/stream")
    assert cfg.rate_limit is not None and cfg.rate_limit.weights["place"] == 6
    assert cfg.dead_man_switch_s is None


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
