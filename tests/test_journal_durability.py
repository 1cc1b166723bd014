"""The journal loses nothing: a real ``mmtui --headless --speed max`` SIGTERMed while
it trades as fast as it can leaves every fill and order state change of the run on
disk; a journal that could not write every row fails the run (exit 1), never 0."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mmtui.core.journal import BACKLOG_LIMIT, Journal
from mmtui.session import Session

from .cli_process import start_mmtui
from .conftest import sim_config
from .waiting import until

SECONDS_FLAT_OUT = 4.0
TERMINAL = {"filled", "cancelled", "rejected", "expired", "lost"}


def _start(tmp_path: Path) -> subprocess.Popen[str]:
    return start_mmtui(
        tmp_path,
        *("--headless", "--speed", "max", "--json"),
        MMTUI_JOURNAL__PATH=str(tmp_path / "journal.sqlite"),
    )


def _count(path: Path, sql: str) -> int:
    if not path.exists():
        return 0
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            return int(conn.execute(sql).fetchone()[0])
        finally:
            conn.close()
    except sqlite3.OperationalError:  # the file exists, the tables not yet
        return 0


def _wait_for_fills(proc: subprocess.Popen[str], path: Path, fills: int) -> None:
    """Until the running process has journaled ``fills`` fills (bounded)."""
    end = time.monotonic() + 90
    while _count(path, "SELECT COUNT(*) FROM fills") < fills:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.monotonic() < end, f"fewer than {fills} fills journaled in 90 s"
        time.sleep(0.05)


def _stop(proc: subprocess.Popen[str]) -> tuple[int, dict[str, Any], str]:
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    lines = out.strip().splitlines()
    assert lines, err[-3000:]
    return proc.returncode, json.loads(lines[-1]), err


def test_sigterm_at_speed_max_leaves_every_fill_and_order_change_on_disk(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.sqlite"
    proc = _start(tmp_path)
    try:
        _wait_for_fills(proc, path, 1)
        # The scenario, not a wait for a condition: seconds of trading flat out,
        # faster than the writer thread can keep up with without back-pressure.
        time.sleep(SECONDS_FLAT_OUT)
    finally:
        code, summary, err = _stop(proc)
    assert code == 0, err[-3000:]
    assert "PASS journal" in " ".join(summary["shutdown"]), summary["shutdown"]
    journal = Journal(path, run_id=summary["run_id"])
    fills = journal.fills()
    assert len(fills) == summary["fills"]  # every fill of the run
    assert len({f["trade_id"] for f in fills}) == len(fills)
    orders: dict[str, list[str]] = {}
    for row in journal.orders():
        orders.setdefault(str(row["client_id"]), []).append(str(row["status"]))
    # every order state change: each order sent has its pending row and ends terminal
    # (nothing is left open), and the counts agree with the summary's
    sent = [cid for cid, states in orders.items() if states[0] == "pending"]
    assert len(sent) == summary["orders_placed"]
    assert summary["open_orders_left"] == 0
    assert all(states[-1] in TERMINAL for states in orders.values()), [
        (cid, s) for cid, s in orders.items() if s[-1] not in TERMINAL
    ][:5]
    ends = [states[-1] for states in orders.values()]
    assert ends.count("cancelled") == summary["orders_cancelled"]
    assert ends.count("rejected") == summary["orders_rejected"]
    (run,) = journal.runs()
    assert run["ended_ms"] is not None


def test_rows_the_journal_could_not_write_fail_the_run(tmp_path: Path) -> None:
    """A journal that lost rows (here: another process dropped a table under it)
    is a failed run: the summary says how many rows are not on disk, exit 1."""
    path = tmp_path / "journal.sqlite"
    proc = _start(tmp_path)
    try:
        _wait_for_fills(proc, path, 20)
        with sqlite3.connect(path, timeout=10) as conn:
            conn.execute("DROP TABLE events")
        _wait_for_fills(proc, path, 40)  # the run goes on; its events cannot be written
    finally:
        code, summary, err = _stop(proc)
    assert code == 1, err[-3000:]
    line = next(s for s in summary["shutdown"] if "journal" in s)
    assert line.startswith("FAIL journal:") and "NOT on disk" in line, line


def test_close_gives_up_only_when_the_writer_makes_no_progress(tmp_path: Path) -> None:
    """Rows the writer cannot write (another process holds the lock) stay pending:
    close says so after ``timeout`` seconds without progress, and the report is a
    failure naming how many rows are not on disk."""
    journal = Journal(tmp_path / "j.sqlite", run_id="r-stuck")
    journal.start()
    blocker = sqlite3.connect(journal.path, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        for i in range(10):
            journal.record_event(ts_ms=i, kind="k", detail="d")
        ok, detail = asyncio.run(journal.close_report(timeout=0.3))
        assert not ok and detail.startswith("10 row(s) NOT on disk (10 pending"), detail
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


async def test_the_sim_at_max_speed_waits_for_a_stalled_journal(
    make_session: Callable[..., Session],
) -> None:
    """Back-pressure: while the journal's writer cannot write (another process holds
    the lock: a disk that stalls), the sim's time stops at the backlog limit instead
    of queueing rows without bound; once the writer catches up, time goes on."""
    s = make_session(sim_config(journal={"enabled": True}), speed=None)
    await s.start()
    journal = s.engine.journal
    assert journal is not None
    try:
        await until(lambda: journal.stats.written > 200, 60, "the run journals")
        blocker = sqlite3.connect(journal.path, isolation_level=None, check_same_thread=False)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            await until(lambda: journal.backlog > BACKLOG_LIMIT, 60, "rows pile up")
            frozen, peak = s.clock.now_ms(), journal.backlog
            for _ in range(50):  # the loop runs on, the sim's time does not
                await asyncio.sleep(0.01)
                peak = max(peak, journal.backlog)
            assert s.clock.now_ms() == frozen
            assert peak <= BACKLOG_LIMIT + 500, peak  # a step's rows beyond the limit
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        await until(lambda: s.clock.now_ms() > frozen and journal.backlog < 500, 60, "resumed")
    finally:
        report = await s.stop()
    assert report.ok, report
    assert journal.stats.pending == 0 and journal.stats.dropped == 0
    assert len(journal.fills()) == s.summary().fills
