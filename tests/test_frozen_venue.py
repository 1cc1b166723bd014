"""A venue that freezes (accepts requests, never answers) while our orders rest: the
real ``mmtui --headless`` shuts down on SIGTERM, fails (exit 1, FAIL), and reports
the orders it could not verify as unverified — never ``open_orders_left: 0`` while
they rest. The venue is its emulator on 127.0.0.1 (``mmtui emulate``'s), frozen by
the emulator kit's ``delay`` fault; how long the shutdown takes against
``shutdown_timeout_s`` is measured by ``benchmarks/bench_frozen_shutdown.py``."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors.emulation.harness import EmulatorHarness
from mmtui.emulate import ACCOUNT, STARTERS

from .cli_process import start_mmtui

SHUTDOWN_TIMEOUT_S = 2


def _grid(config: Path) -> None:
    """The written config with a grid instead of the market maker: ten orders rest
    from the first tick (the market maker warms up for seconds first)."""
    data = yaml.safe_load(config.read_text())
    (spec,) = data["strategies"]
    spec.update(
        name="grid_btc",
        kind="geometric_grid",
        params={
            "range_low": 95000,
            "range_high": 105000,
            "levels": 100,
            "orders_per_side": 5,
            "quote_allocation": 2500,
            "post_only": True,
        },
    )
    config.write_text(yaml.safe_dump(data, sort_keys=False))


def resting(harness: EmulatorHarness) -> int:
    return len(harness.call(lambda: harness.venue.open_orders(ACCOUNT)))


def freeze_and_stop(
    venue: str, folder: Path, timeout_s: float = SHUTDOWN_TIMEOUT_S
) -> tuple[int, dict[str, Any], str, int, float]:
    """Trade ``venue``'s emulator until orders rest, freeze it, SIGTERM mmtui;
    (exit code, JSON summary, stderr, orders resting at the venue, seconds from
    SIGTERM to exit)."""
    harness, config = STARTERS[venue](folder, 0)
    try:
        _grid(config)
        proc = start_mmtui(
            folder,
            *("--headless", "--json", "--config", str(config)),
            MMTUI_SHUTDOWN_TIMEOUT_S=str(timeout_s),
        )
        try:
            end = time.monotonic() + 60
            while resting(harness) < 10:
                assert proc.poll() is None, proc.communicate()[1][-3000:]
                assert time.monotonic() < end, "the grid did not rest 10 orders in 60 s"
                time.sleep(0.1)
            harness.pause()  # the market stands still: no requotes
            harness.faults.delay(600_000)  # REST accepts and never answers
            sent = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=120)
            took = time.monotonic() - sent
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        left = resting(harness)
        lines = out.strip().splitlines()
        assert lines, err[-3000:]
        return proc.returncode, json.loads(lines[-1]), err, left, took
    finally:
        harness.faults.delay(0)
        harness.stop()


@pytest.mark.parametrize("venue", ["backpack", "grvt"])
def test_frozen_venue_at_shutdown_reports_unverified_orders(venue: str, tmp_path: Path) -> None:
    code, summary, err, left, took = freeze_and_stop(venue, tmp_path)
    context = f"{venue}: exit {code} after {took:.1f}s, {left} resting; {summary['shutdown']}"
    assert code == 1, context + err[-2000:]
    assert left >= 10, context  # the grid's orders do rest at the frozen venue
    assert summary["orders_unverified"] >= left, context
    assert summary["open_orders_left"] >= left, context
    (line,) = [s for s in summary["shutdown"] if s.startswith(("PASS", "FAIL")) and venue in s]
    assert line.startswith(f"FAIL {venue}: could not verify") and "unverified" in line, context
    assert "Traceback" not in err, err[-3000:]
