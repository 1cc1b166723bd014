"""The journal's readers: each opens its own read-only connection and blocks, so
async code calls them via ``asyncio.to_thread``. ``Journal`` inherits them."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

from mmtui.core.journal_schema import BOOLS, DECIMALS

BUSY_TIMEOUT_S = 5.0  # how long a statement waits for another connection's lock


class JournalReads:
    """Reads of the journal file at ``path``; ``run_id`` is this run."""

    path: Path
    run_id: str

    def orders(self, run_id: str | None = None) -> list[dict[str, object]]:
        """Order rows of ``run_id`` (default: this journal's run), oldest first."""
        return self._read("orders", run_id)

    def fills(self, run_id: str | None = None) -> list[dict[str, object]]:
        """Fill rows of ``run_id`` (default: this journal's run), oldest first."""
        return self._read("fills", run_id)

    def refused_fills(self, run_id: str | None = None) -> list[dict[str, object]]:
        """Refused fill rows of ``run_id`` (default: this journal's run), oldest first."""
        return self._read("refused_fills", run_id)

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
                for col in DECIMALS["orders"]:
                    if row[col] is not None:
                        row[col] = Decimal(str(row[col]))
                for col in BOOLS["orders"]:
                    row[col] = bool(row[col])
                out[str(row["venue_client_id"])] = row
        return out

    def order_state(self, client_id: str) -> dict[str, object] | None:
        """The last journaled row of this run's order ``client_id`` with ``fills``: its
        fills' rows in this run, oldest first; None when this run never journaled it
        (blocking: use a thread). What a late fill of a forgotten order rebuilds it from."""
        rows = self._query(
            "SELECT * FROM orders WHERE run_id = ? AND client_id = ? ORDER BY id DESC LIMIT 1",
            (self.run_id, client_id),
        )
        if not rows:
            return None
        row = _typed("orders", rows[0])
        fills = self._query(
            "SELECT * FROM fills WHERE run_id = ? AND client_id = ? ORDER BY id",
            (self.run_id, client_id),
        )
        row["fills"] = [_typed("fills", f) for f in fills]
        return row

    def strategy_fills(self, strategy: str) -> list[dict[str, object]]:
        """Every fill journaled for ``strategy`` in any run, oldest first (blocking)."""
        rows = self._query("SELECT * FROM fills WHERE strategy = ? ORDER BY id", (strategy,))
        for row in rows:
            for col in DECIMALS["fills"]:
                row[col] = Decimal(str(row[col]))
        return rows

    def recent_fills(self, limit: int) -> list[dict[str, object]]:
        """The latest ``limit`` fills of every run in this file, oldest first (blocking)."""
        rows = self._query("SELECT * FROM fills ORDER BY id DESC LIMIT ?", (limit,))
        for row in rows:
            for col in DECIMALS["fills"]:
                row[col] = Decimal(str(row[col]))
        return rows[::-1]

    def runs(self) -> list[dict[str, object]]:
        """Every run recorded in this file, oldest first."""
        return self._query("SELECT * FROM runs ORDER BY id", ())

    def _read(self, table: str, run_id: str | None) -> list[dict[str, object]]:
        rows = self._query(
            f"SELECT * FROM {table} WHERE run_id = ? ORDER BY id",
            (self.run_id if run_id is None else run_id,),
        )
        for row in rows:
            for col in DECIMALS[table]:
                if row[col] is not None:
                    row[col] = Decimal(str(row[col]))
            for col in BOOLS[table]:
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


def _typed(table: str, row: dict[str, object]) -> dict[str, object]:
    """A row with its decimal columns as Decimal and its flags as bool."""
    for col in DECIMALS[table]:
        if row[col] is not None:
            row[col] = Decimal(str(row[col]))
    for col in BOOLS[table]:
        row[col] = bool(row[col])
    return row
