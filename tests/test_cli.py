"""The command line as a new user runs it."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str, tmp_path: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update(
        MMTUI_LOG_DIR=str(tmp_path / "logs"),
        MMTUI_JOURNAL__PATH=str(tmp_path / "journal.sqlite"),
        XDG_CONFIG_HOME=str(tmp_path / "cfg"),
        XDG_STATE_HOME=str(tmp_path / "state"),
        PYTHONPATH=str(ROOT),  # this checkout's mmtui, not the one the venv installed
    )
    return subprocess.run(
        [sys.executable, "-m", "mmtui.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=tmp_path,
        umask=0o022,  # the usual one: files mmtui makes private are so by its own doing
    )


def test_check_config_ok(tmp_path: Path) -> None:
    result = _run("check-config", str(ROOT / "config.example.yaml"), tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


def test_check_config_broken_prints_one_line_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("risk:\n  max_order_notional: -5\n")
    result = _run("check-config", str(bad), tmp_path=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(bad) in lines[0] and "risk.max_order_notional" in lines[0]
    assert "Traceback" not in result.stderr


def test_bad_config_stops_the_run_before_trading(tmp_path: Path) -> None:
    result = _run("--headless", "--config", str(tmp_path / "missing.yaml"), tmp_path=tmp_path)
    assert result.returncode == 2 and "file not found" in result.stderr


def test_headless_json_summary(tmp_path: Path) -> None:
    result = _run("--headless", "--duration", "60", "--speed", "max", "--json", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    for key in (
        "orders_placed",
        "orders_cancelled",
        "orders_rejected",
        "fills",
        "volume",
        "realized_pnl",
        "unrealized_pnl",
        "positions",
        "open_orders_left",
    ):
        assert key in summary
    assert summary["fills"] > 0
    assert summary["open_orders_left"] == 0
    assert summary["orders_placed"] > 0
    assert summary["fills_by_venue"]["sim"] == summary["fills"]
    assert (tmp_path / "journal.sqlite").exists()
    log_file = tmp_path / "logs" / "mmtui.log"
    assert stat.S_IMODE(log_file.stat().st_mode) == 0o600


def test_console_refuses_a_bad_config_before_opening(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("ui:\n  keys: {paws: P}\n")
    result = _run("--config", str(bad), tmp_path=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "key 'ui'" in result.stderr and "paws" in result.stderr


def test_help_lists_the_subcommands(tmp_path: Path) -> None:
    from mmtui.emulate import STARTERS

    result = _run("--help", tmp_path=tmp_path)
    assert result.returncode == 0
    assert "mmtui check-config FILE" in result.stdout
    assert "mmtui emulate VENUE" in result.stdout
    for venue in STARTERS:  # every emulator the subcommand can start is named
        assert venue in result.stdout, venue
