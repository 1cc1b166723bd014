"""Journal: rows reach SQLite as they happen, exactly, without blocking the loop."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from mmtui.core.journal import Journal


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal(tmp_path / "state" / "journal.sqlite", run_id="mm-run1")
    j.start()
    yield j
    j.close()


def order_kw(**over: Any) -> dict[str, Any]:
    kw: dict[str, Any] = dict(
        ts_ms=1_700_000_000_000,
        client_id="mm-run1-1",
        venue="sim",
        symbol="BTC-PERP",
        side="buy",
        order_type="limit",
        price=Decimal("65000.10"),
        size=Decimal("0.00100"),
        filled=Decimal("0"),
        status="open",
        reason="",
        strategy="as_btc",
        venue_order_id="v-1",
        post_only=True,
        reduce_only=False,
    )
    kw.update(over)
    return kw


def fill_kw(**over: Any) -> dict[str, Any]:
    kw: dict[str, Any] = dict(
        ts_ms=1_700_000_000_500,
        client_id="mm-run1-1",
        venue="sim",
        symbol="BTC-PERP",
        side="buy",
        price=Decimal("65000.1"),
        size=Decimal("0.0005"),
        fee=Decimal("-0.000012345678901234567890"),
        liquidity="maker",
        trade_id="t-1",
        strategy="as_btc",
    )
    kw.update(over)
    return kw


def wait_until(predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return bool(predicate())


def test_round_trip_exact_decimals(journal: Journal) -> None:
    journal.record_order(**order_kw())
    journal.record_order(
        **order_kw(
            ts_ms=1_700_000_000_600,
            price=None,
            order_type="market",
            size=Decimal("1E+2"),
            filled=Decimal("1.0E+2"),
            status="filled",
            reason="done",
            strategy=None,
            venue_order_id=None,
            post_only=False,
            reduce_only=True,
        )
    )
    journal.record_fill(**fill_kw())
    journal.record_event(ts_ms=1_700_000_000_700, kind="risk", detail="max position hit ✓")
    assert journal.flush()

    orders = journal.orders()
    assert len(orders) == 2
    first, second = orders
    assert first["price"] == Decimal("65000.10") and str(first["price"]) == "65000.10"
    assert str(first["size"]) == "0.00100"
    assert first["post_only"] is True and first["reduce_only"] is False
    assert first["run_id"] == "mm-run1" and first["venue_order_id"] == "v-1"
    assert second["price"] is None and second["strategy"] is None
    assert str(second["size"]) == "1E+2" and str(second["filled"]) == "1.0E+2"
    assert second["status"] == "filled" and second["reduce_only"] is True

    (fill,) = journal.fills()
    assert str(fill["fee"]) == "-0.000012345678901234567890"
    assert isinstance(fill["price"], Decimal) and str(fill["price"]) == "65000.1"
    assert fill["trade_id"] == "t-1" and fill["liquidity"] == "maker"

    (event,) = journal.events()
    assert event["kind"] == "risk" and event["detail"] == "max position hit ✓"
    assert journal.stats.written == 4 and journal.stats.pending == 0


def test_decimals_stored_as_text(journal: Journal) -> None:
    journal.record_fill(**fill_kw(price=Decimal("0.10")))
    assert journal.flush()
    with sqlite3.connect(journal.path) as conn:
        price, kind = conn.execute("SELECT price, typeof(price) FROM fills").fetchone()
    assert (price, kind) == ("0.10", "text")


def test_rows_committed_as_they_happen_without_flush(journal: Journal) -> None:
    journal.record_order(**order_kw())
    # Another connection sees the row without flush() or close(): it was committed.
    # The target is ~50 ms; the bound is loose on purpose (noisy CI), but would catch
    # a writer that only commits on flush/close or on a multi-second timer.
    assert wait_until(lambda: len(journal.orders()) == 1, timeout=3.0)
    mode = sqlite3.connect(journal.path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


async def test_writes_while_loop_keeps_running(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite", run_id="r-async")
    j.start()
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0)

    tick_task = asyncio.create_task(ticker())
    for i in range(2000):
        j.record_fill(**fill_kw(trade_id=f"t-{i}", ts_ms=1_700_000_000_000 + i))
        if i % 50 == 0:
            await asyncio.sleep(0)
    j.record_event(ts_ms=1, kind="flatten", detail="all flat")
    await j.aclose()
    stop.set()
    await tick_task

    assert ticks >= 40  # the loop ran between the batches of records
    fills = j.fills()
    assert [f["trade_id"] for f in fills] == [f"t-{i}" for i in range(2000)]
    assert [e["kind"] for e in j.events()] == ["flatten"]
    (run,) = j.runs()
    assert run["run_id"] == "r-async"
    assert isinstance(run["ended_ms"], int) and run["ended_ms"] >= run["started_ms"]  # type: ignore[operator]
    assert j.stats.written == 2001 and j.stats.dropped == 0


async def test_record_never_waits_for_the_database(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite", run_id="r-locked")
    j.start()
    blocker = sqlite3.connect(j.path, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    release_lock = threading.Lock()

    def release() -> None:
        with release_lock:
            if blocker.in_transaction:
                blocker.execute("COMMIT")

    # Watchdog: if record_*() ever waited for the database, this test would fail
    # (rows written while "stuck") instead of hanging.
    watchdog = threading.Timer(10.0, release)
    watchdog.start()
    try:
        for i in range(100):
            j.record_order(**order_kw(client_id=f"c{i}"))
        for _ in range(20):
            await asyncio.sleep(0)  # the loop is free while the writer is stuck
        assert j.stats.written == 0
        assert j.stats.pending == 100
    finally:
        watchdog.cancel()
        release()
        blocker.close()
    assert await asyncio.to_thread(j.flush, 30.0)
    assert len(j.orders()) == 100
    await j.aclose()


def test_reopen_appends_a_new_run(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    first = Journal(path, run_id="run-a")
    first.start()
    first.record_order(**order_kw(client_id="a-1"))
    assert first.close()

    second = Journal(path, run_id="run-b")
    second.start()
    second.record_order(**order_kw(client_id="b-1"))
    second.record_order(**order_kw(client_id="b-2"))
    assert second.flush()

    assert [r["run_id"] for r in second.runs()] == ["run-a", "run-b"]
    assert [o["client_id"] for o in second.orders()] == ["b-1", "b-2"]
    assert [o["client_id"] for o in second.orders("run-a")] == ["a-1"]
    assert second.runs()[0]["ended_ms"] is not None
    assert second.runs()[1]["ended_ms"] is None  # still running
    second.close()


def test_same_run_id_twice_is_kept_apart_in_runs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "j.sqlite"
    for _ in range(2):
        j = Journal(path, run_id="dup")
        j.start()
        j.close()
    assert len(j.runs()) == 2
    assert all(r["ended_ms"] is not None for r in j.runs())
    assert "already has a run 'dup'" in caplog.text


def test_thousands_of_records_flush_quickly(journal: Journal) -> None:
    started = time.monotonic()
    for i in range(5000):
        journal.record_order(**order_kw(client_id=f"c{i}", filled=Decimal(i) / 1000))
    assert journal.flush(timeout=60)
    elapsed = time.monotonic() - started
    orders = journal.orders()
    assert len(orders) == 5000
    assert orders[4999]["filled"] == Decimal("4.999")
    assert journal.stats.written == 5000
    # generous bound, only to catch e.g. one transaction per row on a slow disk
    assert elapsed < 30, elapsed


def test_write_after_close_raises(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite", run_id="r")
    with pytest.raises(RuntimeError, match=r"start\(\)"):
        j.record_event(ts_ms=1, kind="x", detail="before start")
    j.start()
    j.record_event(ts_ms=1, kind="x", detail="ok")
    assert j.close()
    with pytest.raises(RuntimeError, match="closed"):
        j.record_order(**order_kw())
    with pytest.raises(RuntimeError, match="closed"):
        j.record_fill(**fill_kw())
    with pytest.raises(RuntimeError):
        j.start()
    assert j.close()  # idempotent
    assert j.flush()
    assert len(j.events()) == 1


def test_sqlite_error_is_logged_counted_and_writer_keeps_going(
    journal: Journal, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="mmtui.journal")
    with sqlite3.connect(journal.path) as conn:
        conn.execute("DROP TABLE events")
    journal.record_event(ts_ms=42, kind="flatten", detail="x")
    journal.record_order(**order_kw())
    assert journal.flush()
    assert journal.stats.dropped == 1
    assert journal.stats.written == 1
    assert len(journal.orders()) == 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and "events" in errors[0].getMessage()
    assert "kind='flatten'" in errors[0].getMessage()
    assert errors[0].name == "mmtui.journal"


def test_bad_row_in_a_batch_does_not_sink_the_others(
    journal: Journal, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = sqlite3.connect(journal.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # let rows pile up into one batch
    journal.record_order(**order_kw(client_id="good-1"))
    journal.record_order(**order_kw(client_id="good-2"))
    journal.record_order(**order_kw(client_id=None))  # violates NOT NULL
    journal.record_order(**order_kw(client_id="good-3"))
    blocker.execute("COMMIT")
    blocker.close()
    assert journal.flush(timeout=30)
    assert [o["client_id"] for o in journal.orders()] == ["good-1", "good-2", "good-3"]
    assert journal.stats.dropped == 1
    assert "NOT NULL" in caplog.text


def test_rejects_non_decimal_and_memory_path(tmp_path: Path, journal: Journal) -> None:
    with pytest.raises(TypeError, match="price must be a Decimal"):
        journal.record_fill(**fill_kw(price=65000.1))
    with pytest.raises(ValueError, match="memory"):
        Journal(":memory:", run_id="r")
    assert journal.stats.enqueued == 0


def test_creates_parent_directories(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "j.sqlite"
    j = Journal(path, run_id="r")
    assert path.parent.is_dir()
    j.start()
    j.close()
    assert path.exists()


def test_close_waits_as_long_as_the_writer_makes_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow disk: 100 commits of 10 rows, 20 ms each, take ~2 s to drain; close
    waits for all of them though ``timeout`` (no progress at all) is 0.5 s."""
    import mmtui.core.journal as journal_module

    monkeypatch.setattr(journal_module, "MAX_BATCH", 10)
    fast = Journal._transaction

    def slow(self: Journal, conn: sqlite3.Connection, rows: list[Any]) -> None:
        time.sleep(0.02)
        fast(self, conn, rows)

    monkeypatch.setattr(Journal, "_transaction", slow)
    j = Journal(tmp_path / "j.sqlite", run_id="r-slow-disk")
    j.start()
    for i in range(1000):
        j.record_event(ts_ms=i, kind="k", detail="d")
    assert j.close(timeout=0.5)
    assert j.stats.pending == 0 and j.stats.written == 1000
    assert len(j.events()) == 1000


def _gated(j: Journal, monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """The writer of ``j`` (not started yet) takes its first batch only once the event
    is set: every row recorded before then is queued at once."""
    gate = threading.Event()
    real_run = j._run

    def gated_run() -> None:
        gate.wait()
        real_run()

    monkeypatch.setattr(j, "_run", gated_run)
    return gate


def test_close_waits_for_a_long_transaction_that_makes_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch queued at once is one transaction; on a busy machine each statement
    waits for the GIL. The close counts each statement as progress: 100 statements
    of 20 ms (~2 s) in one transaction, with ``timeout`` 0.5 s, all rows on disk."""
    import mmtui.core.journal as journal_module

    monkeypatch.setattr(journal_module, "_ROWS_PER_INSERT", 10)
    fast = journal_module._insert

    def slow(conn: sqlite3.Connection, table: str, rows: list[Any]) -> None:
        time.sleep(0.02)
        fast(conn, table, rows)

    monkeypatch.setattr(journal_module, "_insert", slow)
    j = Journal(tmp_path / "j.sqlite", run_id="r-long-tx")
    gate = _gated(j, monkeypatch)
    j.start()
    for i in range(1000):
        j.record_event(ts_ms=i, kind="k", detail="d")
    gate.set()
    assert j.close(timeout=0.5)
    assert j.stats.written == 1000 and len(j.events()) == 1000


def test_interleaved_tables_take_one_statement_per_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events and fills interleaved in one batch: a few INSERTs per table (100 rows:
    64, 32, 4), not one per change of table (each statement costs GIL hand-offs on a
    busy loop), and each table's rows keep their queue order."""
    import mmtui.core.journal as journal_module

    statements: list[tuple[str, int]] = []
    fast = journal_module._insert

    def counting(conn: sqlite3.Connection, table: str, rows: list[Any]) -> None:
        statements.append((table, len(rows)))
        fast(conn, table, rows)

    monkeypatch.setattr(journal_module, "_insert", counting)
    j = Journal(tmp_path / "j.sqlite", run_id="r-mixed")
    gate = _gated(j, monkeypatch)
    j.start()
    for i in range(100):
        j.record_event(ts_ms=i, kind="k", detail=f"d{i}")
        j.record_fill(**fill_kw(trade_id=f"t-{i}"))
    gate.set()
    assert j.close()
    assert sorted(statements) == sorted(
        (table, n) for table in ("events", "fills") for n in (64, 32, 4)
    )
    assert [e["detail"] for e in j.events()] == [f"d{i}" for i in range(100)]
    assert [f["trade_id"] for f in j.fills()] == [f"t-{i}" for i in range(100)]


def refused_kw(**over: Any) -> dict[str, Any]:
    kw: dict[str, Any] = dict(
        ts_ms=5,
        venue="sim",
        symbol="BTC-PERP",
        side="buy",
        price="NaN",
        size="-5",
        fee="0",
        trade_id="t-9",
        client_id="mm-run1-1",
        venue_order_id=None,
        strategy="as_btc",
        reason="size: -5 must be positive",
    )
    kw.update(over)
    return kw


def test_refused_fills_are_journaled_as_they_came(journal: Journal) -> None:
    journal.record_refused_fill(**refused_kw())
    assert journal.flush()
    (row,) = journal.refused_fills()
    assert (row["price"], row["size"]) == ("NaN", "-5")
    assert row["reason"] == "size: -5 must be positive"
    assert journal.fills() == []


def test_a_version_3_journal_gains_the_refused_fills_table(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    j = Journal(path, run_id="old")
    j.start()
    j.record_order(**order_kw())
    assert j.close()
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE refused_fills")
        conn.execute("PRAGMA user_version = 3")
    j2 = Journal(path, run_id="new")
    j2.start()
    j2.record_refused_fill(**refused_kw(client_id=None, reason="unknown instrument"))
    assert j2.close()
    assert len(j2.refused_fills()) == 1 and len(j2.orders("old")) == 1


def test_insert_sizes_are_few_distinct_powers_of_two() -> None:
    """sqlite3 caches 128 compiled statements per connection, one per distinct SQL:
    batches of every size from 1 to 2,000 rows make at most 9 distinct INSERTs per
    table (one per size grew the process ~10 MB per hundred sizes)."""
    from mmtui.core.journal import insert_sizes

    seen: set[int] = set()
    for rows in range(0, 2001):
        sizes = insert_sizes(rows, 500)
        assert sum(sizes) == rows
        assert sizes == sorted(sizes, reverse=True)
        seen.update(sizes)
    assert seen == {1, 2, 4, 8, 16, 32, 64, 128, 256}
    assert insert_sizes(486, 500) == [256, 128, 64, 32, 4, 2]
    assert insert_sizes(10, 1) == [1] * 10
    assert insert_sizes(1000, 200) == [128] * 7 + [64, 32, 8]


def test_writer_page_cache_is_capped(tmp_path: Path) -> None:
    """SQLite's default page cache is 2,000 KiB a connection; the writer's is
    CACHE_KIB (it only appends), so a long session's journal costs that much RAM."""
    from mmtui.core.journal_schema import CACHE_KIB, prepare

    path = tmp_path / "j.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        prepare(conn, path, "run-1")
        assert conn.execute("PRAGMA cache_size").fetchone()[0] == -CACHE_KIB
    finally:
        conn.close()
    assert CACHE_KIB < 2000
