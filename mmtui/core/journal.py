"""Orders, fills, refused fills and lifecycle events journaled to SQLite as they happen.

The event loop only validates a row and puts it on a queue; a dedicated writer
thread commits whatever was queued when it woke in one transaction (within
milliseconds), one multi-row INSERT per table. Nothing is lost:

* a producer that can outrun the writer (the sim at ``--speed max``) waits in
  ``keep_up`` while more than ``BACKLOG_LIMIT`` rows are queued: back-pressure,
  without blocking the loop;
* ``close`` waits for every queued row as long as the writer makes progress and
  gives up only after ``timeout`` seconds without any; ``stats`` then says how
  many rows are not on disk, and the shutdown reports them as a failure.

A failed write is logged on ``mmtui.journal`` with the row's context and counted
in ``stats.dropped``; the writer carries on. The schema: ``journal_schema``.
"""

from __future__ import annotations

import asyncio
import atexit
import enum
import logging
import queue
import sqlite3
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TypeGuard

from mmtui.core.journal_reads import BUSY_TIMEOUT_S, JournalReads
from mmtui.core.journal_schema import COLUMNS, INSERT, describe, prepare
from mmtui.core.journal_schema import SCHEMA_VERSION as SCHEMA_VERSION  # re-exported

log = logging.getLogger("mmtui.journal")

MAX_BATCH = 2000  # rows per transaction; the writer commits at least this often
_BUSY_RETRIES = 3
BACKLOG_LIMIT = 2000
"""Rows queued beyond which a producer that can outrun the writer waits (``keep_up``)."""
_ROWS_PER_INSERT = 500
"""Rows per INSERT statement: one statement per table in a batch, so the
writer thread takes the GIL once per statement, not once per row (a busy event
loop holds the GIL for up to 5 ms each time it is asked for it back); fewer where
the SQLite build allows fewer variables per statement."""
_VARS = sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER


def insert_sizes(rows: int, most: int) -> list[int]:
    """How ``rows`` rows of one table split into multi-row INSERTs: powers of two,
    the largest at most ``most``, largest first (486 rows: 256, 128, 64, 32, 4, 2).

    Each distinct row count is a distinct statement, and sqlite3 keeps 128 compiled
    statements per connection: one per batch size seen grew a long session's
    process ~10 MB per hundred sizes (C memory tracemalloc does not see). Powers of
    two make at most ~9 statements per table, at a few more statements per batch."""
    cap = 1 << (max(1, most).bit_length() - 1)  # the largest power of two <= most
    sizes = [cap] * (rows // cap)
    rest = rows % cap
    while rest:
        bit = 1 << (rest.bit_length() - 1)
        sizes.append(bit)
        rest -= bit
    return sizes


Row = tuple[str, tuple[object, ...]]


class _State(enum.Enum):
    NEW = "new"
    RUNNING = "running"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class JournalStats:
    """Row counters: every enqueued row ends up written or dropped (and logged)."""

    enqueued: int
    written: int
    dropped: int

    @property
    def pending(self) -> int:
        return self.enqueued - self.written - self.dropped


@dataclass(slots=True)
class _Stop:
    ended_ms: int


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _dec(name: str, value: object, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, Decimal):
        raise TypeError(f"{name} must be a Decimal, got {type(value).__name__}: {value!r}")
    return str(value)


def _is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and (code & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class Journal(JournalReads):
    """An append-only SQLite journal of one run, written off the event loop.

    ``record_*`` are cheap and non-blocking (safe from the loop or any thread).
    ``start`` opens the file (a brief blocking call, at startup); ``flush`` and
    the readers block, so call them via ``asyncio.to_thread`` from async code.
    """

    def __init__(self, path: str | Path, run_id: str) -> None:
        if str(path) == ":memory:" or str(path).startswith("file:"):
            raise ValueError("Journal needs a file path (':memory:' and URIs are not supported)")
        if not run_id:
            raise ValueError("run_id must not be empty")
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.run_id = run_id
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[Row | threading.Event | _Stop] = queue.SimpleQueue()
        self._state = _State.NEW
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self._run_rowid: int | None = None
        self._enqueued = 0
        self._written = 0
        self._dropped = 0
        self._beats = 0  # statements the writer completed: its progress, rows or not

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> None:
        """Open the database (WAL), create tables, record the run, start the writer."""
        with self._lock:
            if self._state is not _State.NEW:
                raise RuntimeError(f"journal {self.path} already {self._state.value}")
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            try:
                self._run_rowid = prepare(conn, self.path, self.run_id)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
            self._thread = threading.Thread(
                target=self._run, name=f"journal-{self.run_id}", daemon=True
            )
            self._state = _State.RUNNING
            self._thread.start()
        # Rows still queued at interpreter exit get written (the thread is a daemon).
        atexit.register(self.close)

    def close(self, timeout: float = 5.0) -> bool:
        """Write everything queued, record the run's end, stop the writer (blocking).

        Waits as long as the writer makes progress; ``timeout`` is how long it may go
        without completing a statement before the close gives up. Returns False then: the
        rows still queued are not on disk (``stats.pending``), and this is logged.
        """
        with self._lock:
            if self._state is _State.NEW:
                self._state = _State.CLOSED
                return True
            thread = self._thread
            if self._state is _State.RUNNING:
                self._state = _State.CLOSED
                self._queue.put(_Stop(_now_ms()))
                atexit.unregister(self.close)
        if thread is None:
            return True
        done = (self._written, self._dropped, self._beats)
        stalled_since = time.monotonic()
        while True:
            thread.join(min(0.1, timeout))
            if not thread.is_alive():
                return True
            now_done = (self._written, self._dropped, self._beats)
            if now_done != done:
                done, stalled_since = now_done, time.monotonic()
            elif time.monotonic() - stalled_since >= timeout:
                break
        log.error(
            "journal %s: writer made no progress for %.1fs, %d rows pending (not on disk)",
            self.path,
            timeout,
            self.stats.pending,
        )
        return False

    async def aclose(self, timeout: float = 5.0) -> bool:
        """``close`` without blocking the event loop."""
        return await asyncio.to_thread(self.close, timeout)

    async def close_report(self, timeout: float = 5.0) -> tuple[bool, str]:
        """``aclose``, then (every row on disk, one line saying so or what is not)."""
        await self.aclose(timeout)
        stats = self.stats
        lost = stats.pending + stats.dropped
        if not lost:
            return True, f"{stats.written} rows on disk"
        detail = f"{lost} row(s) NOT on disk ({stats.pending} pending, {stats.dropped} dropped)"
        log.error("journal %s: %s", self.path, detail)
        return False, detail

    def flush(self, timeout: float = 5.0) -> bool:
        """Block until every row queued before this call is committed (or dropped, see stats).

        Returns False on timeout. From async code: ``await asyncio.to_thread(j.flush)``.
        """
        with self._lock:
            if self._state is not _State.RUNNING:
                thread = self._thread
                marker = None
            else:
                marker = threading.Event()
                self._queue.put(marker)
        if marker is None:  # not started, or closing: wait for the writer to finish
            if thread is not None:
                thread.join(timeout)
                return not thread.is_alive()
            return True
        return marker.wait(timeout)

    @property
    def running(self) -> bool:
        return self._state is _State.RUNNING

    @property
    def stats(self) -> JournalStats:
        with self._lock:
            return JournalStats(self._enqueued, self._written, self._dropped)

    @property
    def backlog(self) -> int:
        """Rows queued and not yet written or dropped."""
        return self._enqueued - self._written - self._dropped

    async def keep_up(self, limit: int = BACKLOG_LIMIT, poll_s: float = 0.002) -> None:
        """Back-pressure: wait, without blocking the loop, while more than ``limit``
        rows are queued. A producer that can outrun the writer (the sim pacer at
        ``--speed max``) awaits this between steps, so the queue stays bounded and
        the writer gets the GIL while the loop waits."""
        while self._state is _State.RUNNING and self.backlog > limit:
            thread = self._thread
            if thread is None or not thread.is_alive():
                return  # a dead writer never catches up: the close reports the loss
            await asyncio.sleep(poll_s)

    # -- recording (non-blocking) ----------------------------------------------

    def _enqueue(self, table: str, params: tuple[object, ...]) -> None:
        with self._lock:
            if self._state is not _State.RUNNING:
                hint = "call start() first" if self._state is _State.NEW else "after close()"
                raise RuntimeError(
                    f"journal {self.path} is {self._state.value}: cannot record {table} ({hint})"
                )
            self._enqueued += 1
            self._queue.put((table, params))

    def record_order(
        self,
        *,
        ts_ms: int,
        client_id: str,
        venue: str,
        symbol: str,
        side: str,
        order_type: str,
        price: Decimal | None,
        size: Decimal,
        filled: Decimal,
        status: str,
        reason: str,
        strategy: str | None,
        venue_order_id: str | None,
        post_only: bool,
        reduce_only: bool,
        tag: str = "",
        venue_client_id: str | None = None,
    ) -> None:
        """Queue one order state change (the journal is an event log: one row per change)."""
        self._enqueue(
            "orders",
            (
                self.run_id,
                int(ts_ms),
                client_id,
                venue,
                symbol,
                side,
                order_type,
                _dec("price", price, optional=True),
                _dec("size", size),
                _dec("filled", filled),
                status,
                reason,
                strategy,
                venue_order_id,
                int(bool(post_only)),
                int(bool(reduce_only)),
                tag,
                venue_client_id,
            ),
        )

    def record_fill(
        self,
        *,
        ts_ms: int,
        client_id: str | None,
        venue: str,
        symbol: str,
        side: str,
        price: Decimal,
        size: Decimal,
        fee: Decimal,
        liquidity: str,
        trade_id: str,
        strategy: str | None,
    ) -> None:
        """Queue one fill."""
        self._enqueue(
            "fills",
            (
                self.run_id,
                int(ts_ms),
                client_id,
                venue,
                symbol,
                side,
                _dec("price", price),
                _dec("size", size),
                _dec("fee", fee),
                liquidity,
                trade_id,
                strategy,
            ),
        )

    def record_refused_fill(
        self,
        *,
        ts_ms: int,
        venue: str,
        symbol: str,
        side: str,
        price: str,
        size: str,
        fee: str,
        trade_id: str,
        client_id: str | None,
        venue_order_id: str | None,
        strategy: str | None,
        reason: str,
    ) -> None:
        """Queue a fill the core refused as impossible, as it came (numbers as text)."""
        self._enqueue(
            "refused_fills",
            (
                self.run_id,
                int(ts_ms),
                venue,
                symbol,
                side,
                price,
                size,
                fee,
                trade_id,
                client_id,
                venue_order_id,
                strategy,
                reason,
            ),
        )

    def record_event(self, *, ts_ms: int, kind: str, detail: str) -> None:
        """Queue a lifecycle / risk / flatten note."""
        self._enqueue("events", (self.run_id, int(ts_ms), kind, detail))

    # -- writer thread ---------------------------------------------------------

    def _run(self) -> None:
        conn = self._conn
        assert conn is not None
        try:
            while True:
                batch: list[Row | threading.Event | _Stop] = [self._queue.get()]
                while len(batch) < MAX_BATCH:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                if self._handle(conn, batch):
                    return
        finally:
            conn.close()

    def _handle(self, conn: sqlite3.Connection, batch: list[Row | threading.Event | _Stop]) -> bool:
        """Write one batch; wake flushers; return True when told to stop."""
        rows = [item for item in batch if isinstance(item, tuple)]
        stop = next((item for item in batch if isinstance(item, _Stop)), None)
        try:
            self._write(conn, rows)
        except Exception:  # a bug, not an sqlite error: never kill the writer silently
            log.exception("journal %s: unexpected error writing %d rows", self.path, len(rows))
            with self._lock:
                self._dropped += len(rows)
        if stop is not None:
            try:
                conn.execute(
                    "UPDATE runs SET ended_ms = ? WHERE id = ?", (stop.ended_ms, self._run_rowid)
                )
            except sqlite3.Error as exc:
                log.error(
                    "journal %s: could not record end of run %r: %s", self.path, self.run_id, exc
                )
        for item in batch:
            if isinstance(item, threading.Event):
                item.set()
        return stop is not None

    def _write(self, conn: sqlite3.Connection, rows: list[Row]) -> None:
        if not rows:
            return
        for attempt in range(1, _BUSY_RETRIES + 1):
            try:
                self._transaction(conn, rows)
            except sqlite3.Error as exc:
                if not _is_busy(exc):
                    log.warning(
                        "journal %s: batch of %d rows failed (%s); writing row by row",
                        self.path,
                        len(rows),
                        exc,
                    )
                    break
                if attempt == _BUSY_RETRIES:  # locked by another process for too long
                    log.error(
                        "journal %s: dropped %d rows (run %r, first %s, last %s): %s",
                        self.path,
                        len(rows),
                        self.run_id,
                        describe(*rows[0]),
                        describe(*rows[-1]),
                        exc,
                    )
                    with self._lock:
                        self._dropped += len(rows)
                    return
                log.warning(
                    "journal %s busy (%s); retrying %d rows (attempt %d)",
                    self.path,
                    exc,
                    len(rows),
                    attempt,
                )
            else:
                with self._lock:
                    self._written += len(rows)
                return
        for table, params in rows:  # isolate the bad rows, keep the good ones
            try:
                self._transaction(conn, [(table, params)])
            except sqlite3.Error as exc:
                log.error(
                    "journal %s: dropped %s row (run %r, %s): %s",
                    self.path,
                    table,
                    self.run_id,
                    describe(table, params),
                    exc,
                )
                with self._lock:
                    self._dropped += 1
            else:
                with self._lock:
                    self._written += 1

    def _transaction(self, conn: sqlite3.Connection, rows: list[Row]) -> None:
        """The rows in one transaction: a few multi-row INSERTs per table
        (``insert_sizes``; rows of one table keep their order, so their ids follow
        the queue). Each
        statement hands the GIL back and forth with a busy event loop, up to 5 ms
        a time, so the fewer the better; each one counts as progress for ``close``."""
        by_table: dict[str, list[tuple[object, ...]]] = {}
        for table, params in rows:
            by_table.setdefault(table, []).append(params)
        conn.execute("BEGIN")
        try:
            for table, params_list in by_table.items():
                most = max(1, min(_ROWS_PER_INSERT, conn.getlimit(_VARS) // len(COLUMNS[table])))
                start = 0
                for size in insert_sizes(len(params_list), most):
                    _insert(conn, table, params_list[start : start + size])
                    start += size
                    self._beats += 1
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


def _insert(conn: sqlite3.Connection, table: str, rows: list[tuple[object, ...]]) -> None:
    """Rows of one table in one statement (in order: their ids follow the queue)."""
    if len(rows) == 1:
        conn.execute(INSERT[table], rows[0])
        return
    cols = COLUMNS[table]
    one = f"({', '.join('?' * len(cols))})"
    sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES {', '.join([one] * len(rows))}"
    conn.execute(sql, [value for row in rows for value in row])


def writable(journal: Journal | None) -> TypeGuard[Journal]:
    """A journal to write to: late rows after shutdown are logged, not journaled
    (the journal is closed by then)."""
    return journal is not None and journal.running
