"""Bad settings of mode replay / paper: ``mmtui check-config FILE`` exits 2 with one
line naming the file and the key (in-process: ``mmtui.cli.main``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mmtui.cli import main

from .conftest import replay_config, write_config

LOOP = {"rest_url": "http://127.0.0.1:9", "ws_url": "ws://127.0.0.1:9"}


def _check(
    tmp_path: Path, raw: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    path = write_config(tmp_path / "c.yaml", raw)
    code = main(["check-config", str(path)])
    out = capsys.readouterr()
    return code, (out.err if code else out.out)


def _replay(data: Path, venue: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    raw = replay_config(data)
    if venue is not None:
        raw["replay"]["venues"]["sim"].update(venue)
    raw.update(top)
    return raw


def _paper(**top: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "mode": "paper",
        "venues": {"bp": {"type": "backpack", **LOOP}},
        "journal": {"enabled": False},
    }
    raw.update(top)
    return raw


def test_a_good_replay_and_paper_config_pass(
    recorded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _check(tmp_path, _replay(recorded, journal={"enabled": False}), capsys)
    assert code == 0 and "replay mode" in out
    # paper: a real venue with no key file and no keys in the environment is fine
    code, out = _check(tmp_path, _paper(), capsys)
    assert code == 0 and "paper mode" in out


CASES = [
    ("mode-unknown", lambda d: {"mode": "backtest"}, "key 'mode'"),
    (
        "queue-model",
        lambda d: _replay(d, {"queue": {"model": "fifo"}}),
        "replay.venues.sim.queue.model",
    ),
    ("queue-n", lambda d: _replay(d, {"queue": {"n": 0}}), "replay.venues.sim.queue.n"),
    (
        "latency-negative",
        lambda d: _replay(d, {"latency": {"entry_ms": -1}}),
        "replay.venues.sim.latency.entry_ms",
    ),
    ("latency-unknown-key", lambda d: _replay(d, {"latency": {"ack_ms": 1}}), "latency.ack_ms"),
    ("fee-huge", lambda d: _replay(d, {"maker_fee": 2}), "replay.venues.sim.maker_fee"),
    ("collateral-zero", lambda d: _replay(d, {"collateral": 0}), "replay.venues.sim.collateral"),
    (
        "grid-off-step",
        lambda d: _replay(
            d, {"instruments": {"BTC-PERP": {"step_size": "0.01", "min_size": "0.015"}}}
        ),
        "not a multiple of step_size",
    ),
    (
        "grid-string",
        lambda d: _replay(d, {"instruments": "guess"}),
        "replay.venues.sim.instruments",
    ),
    (
        "grid-for-unlisted-symbol",
        lambda d: _replay(d, {"symbols": ["BTC-PERP"], "instruments": {"ETH-PERP": {}}}),
        "['ETH-PERP'] are not among its symbols",
    ),
    (
        "strategy-not-a-replay-venue",
        lambda d: {**_replay(d), "strategies": [{**_replay(d)["strategies"][0], "venue": "bp"}]},
        "'bp' is not a replay venue",
    ),
    ("data-missing", lambda d: _replay(d.parent / "nowhere"), "key 'replay.data'"),
    ("data-unset", lambda d: _replay(None), "no data directory"),  # type: ignore[arg-type]
    (
        "exchange-not-in-data",
        lambda d: _replay(d, {"exchange": "binance"}),
        "no book data of exchange 'binance'",
    ),
    (
        "symbol-not-in-data",
        lambda d: _replay(d, {"symbols": ["BTC-PERP", "ETH-PERP"]}),
        "['ETH-PERP'] not in the data of sim",
    ),
    ("paper-on-sim-venue", lambda d: {"mode": "paper"}, "mode paper trades a real venue"),
    (
        "paper-unknown-venue",
        lambda d: _paper(paper={"venues": {"nope": {}}}),
        "paper.venues: ['nope'] are not configured venues",
    ),
    (
        "paper-bad-queue",
        lambda d: _paper(paper={"venues": {"bp": {"queue": {"model": "x"}}}}),
        "paper.venues.bp.queue.model",
    ),
]


@pytest.mark.parametrize(("case", "raw", "expect"), CASES, ids=[c[0] for c in CASES])
def test_bad_mode_settings_are_one_line(
    case: str,
    raw: Any,
    expect: str,
    recorded: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, err = _check(tmp_path, raw(recorded), capsys)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert str(tmp_path / "c.yaml") in lines[0] and expect in lines[0], lines[0]
    assert "Traceback" not in err
    # a run refuses it with the same line, before it starts anything
    code = main(["--headless", "--config", str(tmp_path / "c.yaml"), "--duration", "1"])
    assert code == 2
    assert capsys.readouterr().err.strip() == lines[0]


def test_replay_and_paper_keep_their_own_default_journal() -> None:
    """Their fills must never count as a live strategy's inventory at a live start."""
    from mmtui.session import default_journal_path

    live = default_journal_path("live")
    assert default_journal_path("sim") == live
    assert default_journal_path("paper") == live.with_name("journal-paper.sqlite")
    assert default_journal_path("replay") == live.with_name("journal-replay.sqlite")


def test_a_backtest_replays_a_live_config_without_its_keys(
    recorded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``mmtui backtest --data`` on a live config: mode replay, the strategies on the
    data's exchange of their venue's name, no key asked for, nothing sent anywhere."""
    from mmtui.backtest import load_backtest_config

    for name in ("BACKPACK_API_KEY", "BACKPACK_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    raw = replay_config(None)
    raw.pop("replay")
    raw.update(mode="live", venues={"sim": {"type": "backpack", "key_file": "missing.yaml"}})
    path = write_config(tmp_path / "live.yaml", raw)
    config, _ = load_backtest_config(str(path), str(recorded), tmp_path / "out")
    assert config.mode == "replay" and config.replay.data == recorded
    assert config.journal.path == tmp_path / "out" / "journal.sqlite"


def test_replay_settings_map_onto_the_replay_venue_spec(recorded: Path) -> None:
    from decimal import Decimal as D

    from connectors.replay.queue import QueueSpec
    from connectors.replay.spec import InstrumentSpec, LatencySpec
    from mmtui.config import Config
    from mmtui.modes import replay_specs

    venue = {
        "exchange": "sim",
        "symbols": ["BTC-PERP"],
        "instruments": {"BTC-PERP": {"tick_size": "0.5", "step_size": "0.01", "base": "XBT"}},
        "queue": {"model": "probabilistic", "function": "log", "sampled": True, "seed": 9},
        "latency": {"entry_ms": 25, "cancel_ms": 15, "feed_ms": 5},
        "maker_fee": "-0.0001",
        "taker_fee": "0.0007",
        "collateral": "2500",
    }
    raw = replay_config(recorded)
    raw["replay"]["venues"] = {"rp": venue}
    raw["strategies"][0]["venue"] = "rp"
    (spec,) = replay_specs(Config.model_validate(raw))
    assert spec.name == "rp" and spec.recorded_exchange == "sim"
    assert spec.symbols == ("BTC-PERP",)
    assert spec.instruments == {
        "BTC-PERP": InstrumentSpec(tick_size=D("0.5"), step_size=D("0.01"), base="XBT")
    }
    assert spec.queue == QueueSpec(model="probabilistic", function="log", sampled=True, seed=9)
    assert spec.latency == LatencySpec(entry_ms=25, cancel_ms=15, feed_ms=5)
    assert (spec.maker_fee, spec.taker_fee) == (D("-0.0001"), D("0.0007"))
    assert spec.starting_collateral == D(2500)
    # no replay.venues: one venue per exchange a strategy names, with the defaults
    (inferred,) = replay_specs(Config.model_validate(replay_config(recorded, venues={})))
    assert inferred.name == "sim" and inferred.queue == QueueSpec()
