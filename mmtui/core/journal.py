"""Orders, fills and lifecycle events journaled to SQLite as they happen.

The event loop only validates a row and puts it on a queue; a dedicated writer
thread drains the queue and commits each batch at once (a batch is whatever
was queued when the writer woke, so a row is committed within milliseconds).
Decimals are stored as TEXT (``str(Decimal)``) and read back identical.

A failed write is logged on ``mmtui.journal`` with the row's context and
counted in ``stats.dropped``; the writer carries on with the next rows.

Schema (all tables carry ``run_id``; one ``runs`` row per ``start()``)::

    runs(id, run_id, started_ms, ended_ms)
    orders(id, run_id, ts_ms, client_id, venue, symbol, side, order_type, price, size,
           filled, status, reason, strategy, venue_order_id, post_only, reduce_only,
           tag, venue_client_id)

``orders.venue_client_id`` is the client id in the venue's wire form as sent: at
a restart it is the proof that a resting order the venue lists is ours (an id
alone proves nothing where the venue's id space is shared with other tools).
    fills(id, run_id, ts_ms, client_id, venue, symbol, side, price, size, fee,
          liquidity, trade_id, strategy)
    events(id, run_id, ts_ms, kind, detail)
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

log = logging.getLogger("mmtui.journal")

SCHEMA_VERSION = 3
MAX_BATCH = 2000  # rows per transaction; the writer commits at least this often
BUSY_TIMEOUT_S = 5.0  # how long a write waits for another process's lock
_BUSY_RETRIES = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    started_ms INTEGER NOT NULL,
    ended_ms INTEGER
);
CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    client_id TEXT NOT NULL,
    venue TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    order_type TEXT NOT NULL,
    price TEXT,
    size TEXT NOT NULL,
    filled TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    strategy TEXT,
    venue_order_id TEXT,
    post_only INTEGER NOT NULL,
    reduce_only INTEGER NOT NULL,
    tag TEXT NOT NULL DEFAULT '',
    venue_client_id TEXT
);
CREATE TABLE IF NOT EXISTS fills (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    client_id TEXT,
    venue TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    price TEXT NOT NULL,
    size TEXT NOT NULL,
    fee TEXT NOT NULL,
    liquidity TEXT NOT NULL,
    trade_id TEXT NOT NULL,
    strategy TEXT
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_run_id ON runs(run_id);
CREATE INDEX IF NOT EXISTS orders_run_client ON orders(run_id, client_id);
CREATE INDEX IF NOT EXISTS orders_venue_wire ON orders(venue, venue_client_id);
CREATE INDEX IF NOT EXISTS fills_run ON fills(run_id);
CREATE INDEX IF NOT EXISTS fills_trade ON fills(venue, trade_id);
CREATE INDEX IF NOT EXISTS events_run ON events(run_id);
"""

_COLUMNS: dict[str, tuple[str, ...]] = {
    "orders": (
        "run_id",
        "ts_ms",
        "client_id",
        "venue",
        "symbol",
        "side",
        "order_type",
        "price",
        "size",
        "filled",
        "status",
        "reason",
        "strategy",
        "venue_order_id",
        "post_only",
        "reduce_only",
        "tag",
        "venue_client_id",
    ),
    "fills": (
        "run_id",
        "ts_ms",
        "client_id",
        "venue",
        "symbol",
        "side",
        "price",
        "size",
        "fee",
        "liquidity",
        "trade_id",
        "strategy",
    ),
    "events": ("run_id", "ts_ms", "kind", "detail"),
}
_INSERT = {
    table: f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    for table, cols in _COLUMNS.items()
}
_DECIMALS = {"orders": ("price", "size", "filled"), "fills": ("price", "size", "fee"), "events": ()}
_BOOLS = {"orders": ("post_only", "reduce_only"), "fills": (), "events": ()}
# Which columns identify a row in an error message.
_CONTEXT = {
    "orders": ("client_id", "status", "ts_ms"),
    "fills": ("trade_id", "client_id", "ts_ms"),
    "events": ("kind", "ts_ms"),
}

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


def _describe(table: str, params: tuple[object, ...]) -> str:
    cols = _COLUMNS[table]
    return ", ".join(f"{c}={params[cols.index(c)]!r}" for c in _CONTEXT[table])


class Journal:
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
                self._run_rowid = self._prepare(conn)
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

    def _prepare(self, conn: sqlite3.Connection) -> int:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            log.warning("journal %s: WAL not available, using journal_mode=%s", self.path, mode)
        conn.execute("PRAGMA synchronous=NORMAL")  # durable across app crashes in WAL mode
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"journal {self.path} has schema version {version}; this build knows "
                f"{SCHEMA_VERSION} (use a newer mmtui or another journal file)"
            )
        if version == 1:  # v2 added the strategy's order tag (for rebuild on restart)
            conn.execute("ALTER TABLE orders ADD COLUMN tag TEXT NOT NULL DEFAULT ''")
        if 1 <= version <= 2:  # v3: the client id as sent on the wire (proof of ownership)
            conn.execute("ALTER TABLE orders ADD COLUMN venue_client_id TEXT")
        conn.executescript(_SCHEMA)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        seen = conn.execute("SELECT COUNT(*) FROM runs WHERE run_id = ?", (self.run_id,))
        if seen.fetchone()[0]:
            log.warning(
                "journal %s already has a run %r; its rows will share that run_id",
                self.path,
                self.run_id,
            )
        cur = conn.execute(
            "INSERT INTO runs (run_id, started_ms) VALUES (?, ?)", (self.run_id, _now_ms())
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def close(self, timeout: float = 5.0) -> bool:
        """Write what is queued, record the run's end, stop the writer (blocking).

        Returns False if the writer did not finish within ``timeout``.
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
        thread.join(timeout)
        if thread.is_alive():
            log.error(
                "journal %s: writer still busy after %.1fs, %d rows pending",
                self.path,
                timeout,
                self.stats.pending,
            )
            return False
        return True

    async def aclose(self, timeout: float = 5.0) -> bool:
        """``close`` without blocking the event loop."""
        return await asyncio.to_thread(self.close, timeout)

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
                        _describe(*rows[0]),
                        _describe(*rows[-1]),
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
                    _describe(table, params),
                    exc,
                )
                with self._lock:
                    self._dropped += 1
            else:
                with self._lock:
                    self._written += 1

    @staticmethod
    def _transaction(conn: sqlite3.Connection, rows: list[Row]) -> None:
        conn.execute("BEGIN")
        try:
            for table, params in rows:
                conn.execute(_INSERT[table], params)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    # -- reading (blocking; own connection) -------------------------------------

    def orders(self, run_id: str | None = None) -> list[dict[str, object]]:
        """Order rows of ``run_id`` (default: this journal's run), oldest first."""
        return self._read("orders", run_id)

    def fills(self, run_id: str | None = None) -> list[dict[str, object]]:
        """Fill rows of ``run_id`` (default: this journal's run), oldest first."""
        return self._read("fills", run_id)

    def events(self, run_id: str | None = None) -> list[dict[str, object]]:
        """Event rows of ``run_id`` (default: this journal's run), oldest first."""
        return self._read("events", run_id)

    def owners(self, client_ids: list[str]) -> dict[str, tuple[str | None, str]]:
        """client id -> (strategy, tag) as journaled, in any run (blocking: use a thread)."""
        out: dict[str, tuple[str | None, str]] = {}
        for start in range(0, len(client_ids), 500):
            chunk = client_ids[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            for row in self._query(
                f"SELECT client_id, strategy, tag FROM orders WHERE client_id IN ({marks}) "
                "ORDER BY id",
                tuple(chunk),
            ):
                out[str(row["client_id"])] = (
                    None if row["strategy"] is None else str(row["strategy"]),
                    str(row["tag"]),
                )
        return out

    def sent_orders(self, venue: str, venue_client_ids: list[str]) -> dict[str, dict[str, object]]:
        """Wire client id -> the last journaled row of the order we sent on ``venue``
        with that id, in any run (blocking: use a thread). An id we never sent is
        absent: an order carrying it is not ours."""
        out: dict[str, dict[str, object]] = {}
        for start in range(0, len(venue_client_ids), 500):
            chunk = venue_client_ids[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            for row in self._query(
                "SELECT * FROM orders WHERE venue = ? AND venue_client_id IN "
                f"({marks}) ORDER BY id",
                (venue, *chunk),
            ):
                for col in _DECIMALS["orders"]:
                    if row[col] is not None:
                        row[col] = Decimal(str(row[col]))
                for col in _BOOLS["orders"]:
                    row[col] = bool(row[col])
                out[str(row["venue_client_id"])] = row
        return out

    def strategy_fills(self, strategy: str) -> list[dict[str, object]]:
        """Every fill journaled for ``strategy`` in any run, oldest first (blocking)."""
        rows = self._query("SELECT * FROM fills WHERE strategy = ? ORDER BY id", (strategy,))
        for row in rows:
            for col in _DECIMALS["fills"]:
                row[col] = Decimal(str(row[col]))
        return rows

    def runs(self) -> list[dict[str, object]]:
        """Every run recorded in this file, oldest first."""
        return self._query("SELECT * FROM runs ORDER BY id", ())

    def _read(self, table: str, run_id: str | None) -> list[dict[str, object]]:
        rows = self._query(
            f"SELECT * FROM {table} WHERE run_id = ? ORDER BY id",
            (self.run_id if run_id is None else run_id,),
        )
        for row in rows:
            for col in _DECIMALS[table]:
                if row[col] is not None:
                    row[col] = Decimal(str(row[col]))
            for col in _BOOLS[table]:
                row[col] = bool(row[col])
        return rows

    def _query(self, sql: str, params: tuple[object, ...]) -> list[dict[str, object]]:
        if not self.path.exists():
            return []
        conn = sqlite3.connect(
            f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S
        )
        try:
            conn.row_factory = sqlite3.Row
            return [dict(row) for row in conn.execute(sql, params)]
        finally:
            conn.close()


def writable(journal: Journal | None) -> TypeGuard[Journal]:
    """A journal to write to: late rows after shutdown are logged, not journaled
    (the journal is closed by then)."""
    return journal is not None and journal.running
