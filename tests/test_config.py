"""Config: the bundled example, env overrides, and one-line errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmtui.config import Config, ConfigError, bundled_example, find_config, load_config

ROOT = Path(__file__).resolve().parents[1]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_is_valid_and_bundled() -> None:
    cfg, _ = load_config(ROOT / "config.example.yaml", env={})
    assert cfg.mode == "sim" and cfg.strategies and cfg.strategies[0].kind == "avellaneda_stoikov"
    assert bundled_example().read_text() == (ROOT / "config.example.yaml").read_text()


def test_discovery_order(tmp_path: Path) -> None:
    explicit = _write(tmp_path, "mode: sim\n")
    assert find_config(explicit, env={"MMTUI_CONFIG": "/x.yaml"}) == explicit
    assert find_config(None, env={"MMTUI_CONFIG": "/x.yaml"}) == Path("/x.yaml")


def test_env_overrides_file_even_when_null(tmp_path: Path) -> None:
    path = _write(tmp_path, "risk:\n  max_loss: null\nsim:\n  speed: 2\n")
    cfg, _ = load_config(path, env={"MMTUI_RISK__MAX_LOSS": "123", "MMTUI_SIM__SEED": "99"})
    assert str(cfg.risk.max_loss) == "123" and cfg.sim.seed == 99 and cfg.sim.speed == 2


def test_env_reaches_into_lists() -> None:
    cfg, _ = load_config(
        ROOT / "config.example.yaml", env={"MMTUI_STRATEGIES__0__PARAMS__GAMMA": "0.05"}
    )
    assert cfg.strategies[0].params["gamma"] == 0.05


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("risk:\n  max_los: 5\n", {}, "key 'risk.max_los': Extra inputs are not permitted"),
        ("sim:\n  step_ms: -1\n", {}, "key 'sim.step_ms'"),
        ("mode: sim\n", {"MMTUI_RISK__MAX_LOSS": "abc"}, "(from MMTUI_RISK__MAX_LOSS)"),
        ("risk: [1, 2\n", {}, "invalid YAML"),
        ("- 1\n- 2\n", {}, "top level must be a mapping"),
        ("venues:\n  sim:\n    type: sim\n    api_secret: abc\n", {}, "secrets do not belong"),
        (
            "strategies:\n  - {name: a, kind: nope, venue: sim, symbol: BTC-PERP}\n",
            {},
            "unknown 'nope'",
        ),
        (
            "strategies:\n  - {name: a, kind: avellaneda_stoikov, venue: x, symbol: BTC-PERP}\n",
            {},
            "not a configured venue",
        ),
        (
            "strategies:\n  - {name: a, kind: avellaneda_stoikov, venue: sim, symbol: BTC-PERP, "
            "params: {gamma: -1}}\n",
            {},
            "params: gamma",
        ),
        (
            "strategies:\n  - {name: a, kind: avellaneda_stoikov, venue: sim, symbol: DOGE-PERP}\n",
            {},
            "not listed on sim",
        ),
    ],
)
def test_errors_are_one_line_naming_file_and_key(
    tmp_path: Path, text: str, env: dict[str, str], expected: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"config error: {path}")
    assert expected in message, message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml", env={})


def test_defaults_build_a_sim() -> None:
    cfg = Config.model_validate({})
    assert cfg.mode == "sim" and "sim" in cfg.venues and cfg.asset_specs()[0].symbol == "BTC-PERP"


def test_cross_venue_params_must_name_a_configured_venue(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "strategies:\n  - {name: h, kind: hedge_ladder, venue: sim, symbol: BTC-PERP, "
        "params: {hedge_venue: nowhere}}\n",
    )
    with pytest.raises(
        ConfigError, match=r"params.hedge_venue: 'nowhere' is not a configured venue"
    ):
        load_config(path, env={})
