"""The journal's SQLite schema: tables, columns, versions and their migrations.

All tables carry ``run_id``; one ``runs`` row per ``Journal.start()``::

    runs(id, run_id, started_ms, ended_ms)
    orders(id, run_id, ts_ms, client_id, venue, symbol, side, order_type, price, size,
           filled, status, reason, strategy, venue_order_id, post_only, reduce_only,
           tag, venue_client_id)
    fills(id, run_id, ts_ms, client_id, venue, symbol, side, price, size, fee,
          liquidity, trade_id, strategy)
    refused_fills(id, run_id, ts_ms, venue, symbol, side, price, size, fee, trade_id,
                  client_id, venue_order_id, strategy, reason)
    events(id, run_id, ts_ms, kind, detail)

``orders.venue_client_id`` is the client id in the venue's wire form as sent: at
a restart it is the proof that a resting order the venue lists is ours (an id
alone proves nothing where the venue's id space is shared with other tools).

``refused_fills`` holds what a venue reported as a fill and the core refused as
impossible (negative, not a number, beyond the order's size, an unknown market,
priced absurdly far from the market), with the reason: never applied, kept as it
came (numbers as text, whatever they were).

Decimals are stored as TEXT (``str(Decimal)``) and read back identical.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

log = logging.getLogger("mmtui.journal")

SCHEMA_VERSION = 4

# The writer's page cache, in KiB (SQLite's ``cache_size`` takes negative numbers as
# KiB). SQLite's default is 2,000 KiB a connection, filled within minutes of a
# session as the journal grows; the writer only appends (the pages it touches are
# the tables' and indexes' right edges), and a page it evicts is re-read from the
# OS cache. docs/performance.md has the measurement.
CACHE_KIB = 256
"""1: the first; 2: orders.tag; 3: orders.venue_client_id; 4: refused_fills."""

SCHEMA = """
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
CREATE TABLE IF NOT EXISTS refused_fills (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    venue TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    price TEXT NOT NULL,
    size TEXT NOT NULL,
    fee TEXT NOT NULL,
    trade_id TEXT NOT NULL,
    client_id TEXT,
    venue_order_id TEXT,
    strategy TEXT,
    reason TEXT NOT NULL
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
CREATE INDEX IF NOT EXISTS refused_fills_run ON refused_fills(run_id);
CREATE INDEX IF NOT EXISTS events_run ON events(run_id);
"""

COLUMNS: dict[str, tuple[str, ...]] = {
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
    "refused_fills": (
        "run_id",
        "ts_ms",
        "venue",
        "symbol",
        "side",
        "price",
        "size",
        "fee",
        "trade_id",
        "client_id",
        "venue_order_id",
        "strategy",
        "reason",
    ),
    "events": ("run_id", "ts_ms", "kind", "detail"),
}
INSERT = {
    table: f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    for table, cols in COLUMNS.items()
}
DECIMALS: dict[str, tuple[str, ...]] = {
    "orders": ("price", "size", "filled"),
    "fills": ("price", "size", "fee"),
    "refused_fills": (),  # kept as the text that came: it may be no number at all
    "events": (),
}
BOOLS: dict[str, tuple[str, ...]] = {
    "orders": ("post_only", "reduce_only"),
    "fills": (),
    "refused_fills": (),
    "events": (),
}
CONTEXT = {
    "orders": ("client_id", "status", "ts_ms"),
    "fills": ("trade_id", "client_id", "ts_ms"),
    "refused_fills": ("trade_id", "reason", "ts_ms"),
    "events": ("kind", "ts_ms"),
}
"""Which columns identify a row in an error message."""


def describe(table: str, params: tuple[object, ...]) -> str:
    """A row's identifying columns, for an error message."""
    cols = COLUMNS[table]
    return ", ".join(f"{c}={params[cols.index(c)]!r}" for c in CONTEXT[table])


def prepare(conn: sqlite3.Connection, path: Path, run_id: str) -> int:
    """WAL, the schema (migrated from older versions), a ``runs`` row for ``run_id``;
    returns that row's id."""
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        log.warning("journal %s: WAL not available, using journal_mode=%s", path, mode)
    conn.execute("PRAGMA synchronous=NORMAL")  # durable across app crashes in WAL mode
    conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")  # capped: see CACHE_KIB
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise RuntimeError(
            f"journal {path} has schema version {version}; this build knows "
            f"{SCHEMA_VERSION} (use a newer mmtui or another journal file)"
        )
    if version == 1:  # v2 added the strategy's order tag (for rebuild on restart)
        conn.execute("ALTER TABLE orders ADD COLUMN tag TEXT NOT NULL DEFAULT ''")
    if 1 <= version <= 2:  # v3: the client id as sent on the wire (proof of ownership)
        conn.execute("ALTER TABLE orders ADD COLUMN venue_client_id TEXT")
    conn.executescript(SCHEMA)  # v4: refused_fills (a new table: created here)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    seen = conn.execute("SELECT COUNT(*) FROM runs WHERE run_id = ?", (run_id,))
    if seen.fetchone()[0]:
        log.warning(
            "journal %s already has a run %r; its rows will share that run_id", path, run_id
        )
    cur = conn.execute(
        "INSERT INTO runs (run_id, started_ms) VALUES (?, ?)", (run_id, time.time_ns() // 1_000_000)
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


__all__ = ["BOOLS", "COLUMNS", "DECIMALS", "INSERT", "SCHEMA_VERSION", "describe", "prepare"]
