"""``mmtui backtest`` as a user runs it, on a small recorded data set: the report's
files, its numbers against the journal and the core's own totals, and determinism
(the same data and config give a byte-identical report.json)."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from mmtui.backtest import drive, run_backtest, shut_down
from mmtui.config import Config
from mmtui.core.journal import Journal
from mmtui.report import Sampler, write_report
from mmtui.session import build_session

from .conftest import SECONDS, replay_config, write_config

ROOT = Path(__file__).resolve().parents[2]


def _backtest(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update(
        MMTUI_LOG_DIR=str(cwd / "logs"),
        XDG_CONFIG_HOME=str(cwd / "cfg"),
        XDG_STATE_HOME=str(cwd / "state"),
        PYTHONPATH=str(ROOT),
    )
    return subprocess.run(
        [sys.executable, "-m", "mmtui.cli", "backtest", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=cwd,
    )


def test_backtest_writes_the_report_and_is_deterministic(recorded: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path / "bt.yaml", replay_config(None))
    first = _backtest("--data", str(recorded), "--config", str(config), "--out", "a", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "backtest: 100%" in first.stderr  # plain progress lines: stderr is no tty
    assert "as_btc (avellaneda_stoikov on sim BTC-PERP)" in first.stdout
    assert "PASS journal" in first.stdout
    out = tmp_path / "a"
    for name in ("report.json", "report.png", "run.json", "journal.sqlite"):
        assert (out / name).is_file(), name
    assert (out / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    run = json.loads((out / "run.json").read_text())
    assert run["complete"] is True and run["replay"]["messages"] > 1000
    report = json.loads((out / "report.json").read_text())
    assert report["mode"] == "replay"
    assert abs(report["end_ms"] - report["start_ms"] - SECONDS * 1000) <= 100

    # the numbers against the journal's fills, summed here by hand
    conn = sqlite3.connect(out / "journal.sqlite")
    rows = conn.execute("SELECT side, price, size, fee, liquidity FROM fills").fetchall()
    conn.close()
    assert rows, "the strategy traded on the replay"
    s = report["strategies"]["as_btc"]
    assert s["fills"]["count"] == len(rows)
    assert Decimal(s["fills"]["volume"]) == sum(Decimal(r[2]) for r in rows)
    assert Decimal(s["fills"]["notional"]) == sum(Decimal(r[1]) * Decimal(r[2]) for r in rows)
    assert Decimal(s["pnl"]["fees"]) == sum(Decimal(r[3]) for r in rows)
    assert s["fills"]["maker"]["count"] == sum(1 for r in rows if r[4] == "maker")
    final = sum(Decimal(r[2]) * (1 if r[0] == "buy" else -1) for r in rows)
    assert Decimal(s["inventory"][0]["final"]) == final
    assert 0 < Decimal(s["quote_uptime"]) <= 1
    assert 0 < Decimal(s["orders"]["fill_ratio"]) <= 1

    # again into another directory: byte for byte the same report
    second = _backtest("--data", str(recorded), "--config", str(config), "--out", "b", cwd=tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    assert (tmp_path / "b" / "report.json").read_bytes() == (out / "report.json").read_bytes()
    assert json.loads((tmp_path / "b" / "run.json").read_text())["run_id"] != run["run_id"]


def test_backtest_report_agrees_with_the_core(recorded: Path, tmp_path: Path) -> None:
    """In-process: the report (from the journal) and the run summary (the core's live
    positions) give the same PnL, fees, fills and notional."""
    raw = replay_config(recorded)
    raw["journal"] = {"path": str(tmp_path / "j.sqlite")}
    config = Config.model_validate(raw)

    async def run() -> tuple[dict, object]:
        session = build_session(config, speed="manual")
        sampler = session.sampler = Sampler(session.engine, session.sample_ms / 1000)
        await session.start()
        assert await drive(session, None, None, lambda _: None, asyncio.Event())
        await shut_down(session)
        written = await write_report(session, sampler, tmp_path / "out", chart=False)
        return written.report, session.summary()

    report, summary = asyncio.run(run())
    total = report["total"]
    assert summary.fills == total["fills"]["count"] > 0
    assert summary.volume == total["fills"]["notional"]
    assert summary.realized_pnl == total["pnl"]["realized"]
    assert summary.fees == total["pnl"]["fees"]
    assert summary.unrealized_pnl == total["pnl"]["unrealized"]
    assert summary.orders_placed == total["orders"]["placed"]
    assert summary.orders_cancelled == total["orders"]["cancelled"]


def test_backtest_bad_input_is_one_line(tmp_path: Path) -> None:
    config = write_config(tmp_path / "bt.yaml", replay_config(None))
    result = _backtest("--data", str(tmp_path / "nowhere"), "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "replay.data" in lines[0] and "not a directory" in lines[0]
    (tmp_path / "empty").mkdir()
    result = _backtest("--data", str(tmp_path / "empty"), "--config", str(config), cwd=tmp_path)
    assert result.returncode == 2 and "holds no Tardis CSV files" in result.stderr


class _Quiet:
    def __init__(self, what: str) -> None:
        pass

    def update(self, done: float) -> None:
        pass

    def close(self) -> None:
        pass


def test_same_report_when_the_journal_holds_the_clock_back(
    recorded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The journal's back-pressure waits in real time (here after every 5 rows): what
    happens at a virtual instant must not depend on it. On the session's own pacer
    (which moves the clock while the session starts, and does not wait for the loop
    between steps) these two runs differ."""
    keep_up = Journal.keep_up

    async def eager(self: Journal, limit: int = 5, poll_s: float = 0.002) -> None:
        await keep_up(self, 5, poll_s)

    monkeypatch.setattr(Journal, "keep_up", eager)
    reports = []
    for name in ("a", "b"):
        out = tmp_path / name
        raw = replay_config(recorded)
        raw["journal"] = {"path": str(out / "journal.sqlite")}
        config = Config.model_validate(raw)
        code = asyncio.run(run_backtest(config, out, chart=False, progress=_Quiet))
        assert code == 0
        reports.append((out / "report.json").read_bytes())
    assert reports[0] == reports[1]


def test_backtest_on_the_shipped_backpack_recording(tmp_path: Path) -> None:
    """The recorded Backpack emulator session, as a new user would backtest it: a config
    with only a strategy (the replay venue is the data's exchange, its grid inferred)."""
    data = ROOT / "tests" / "fixtures" / "recorded" / "backpack"
    strategy = {
        "name": "as_btc",
        "kind": "avellaneda_stoikov",
        "venue": "backpack",
        "symbol": "BTC_USDC_PERP",
        "params": {
            "gamma": 0.01,
            "k": 0.1,
            "tau": 6,
            "size": 0.01,
            "max_position": 0.05,
            "tick_interval_ms": 500,
            "requote_ticks": 20,
        },
    }
    config = write_config(tmp_path / "as.yaml", {"strategies": [strategy]})
    result = _backtest("--data", str(data), "--config", str(config), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    s = report["strategies"]["as_btc"]
    assert s["venue"] == "backpack" and report["mode"] == "replay"
    assert s["fills"]["count"] > 0 and s["orders"]["placed"] > 0
    assert 40 <= Decimal(report["duration_s"]) <= 46  # the 45 s recording


def test_backtest_never_overwrites_a_journal_it_did_not_write(
    recorded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mmtui.backtest import main as backtest_main

    config = write_config(tmp_path / "bt.yaml", replay_config(None))
    out = tmp_path / "out"
    out.mkdir()
    (out / "journal.sqlite").write_bytes(b"a live journal")
    code = backtest_main(["--data", str(recorded), "--config", str(config), "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds a journal.sqlite that no backtest wrote" in err[0]
    assert (out / "journal.sqlite").read_bytes() == b"a live journal"
    # a sim config without --data has no end: --duration is asked for
    sim = write_config(tmp_path / "sim.yaml", {"journal": {"enabled": False}})
    assert backtest_main(["--config", str(sim), "--out", str(tmp_path / "o2")]) == 2
    assert "pass --duration S" in capsys.readouterr().err
