"""Fills as the console lists them: this run's and earlier runs', read back from the
journal (blocking: the console reads them on a thread), filtered, written to CSV."""

from __future__ import annotations

import csv
from dataclasses import dataclass, fields
from decimal import Decimal
from pathlib import Path

from mmtui.core.journal import Journal

FILLS_SHOWN = 5000


@dataclass(frozen=True, slots=True)
class FillRecord:
    run_id: str
    ts_ms: int
    strategy: str
    venue: str
    symbol: str
    side: str
    price: Decimal
    size: Decimal
    fee: Decimal
    liquidity: str
    client_id: str
    trade_id: str

    @property
    def notional(self) -> Decimal:
        return self.price * self.size


def read_fills(journal: Journal, limit: int = FILLS_SHOWN) -> tuple[FillRecord, ...]:
    """The latest ``limit`` fills of every run, oldest first (blocking)."""
    return tuple(
        FillRecord(
            run_id=str(r["run_id"]),
            ts_ms=int(r["ts_ms"]),  # type: ignore[call-overload]
            strategy=str(r["strategy"] or "-"),
            venue=str(r["venue"]),
            symbol=str(r["symbol"]),
            side=str(r["side"]),
            price=r["price"],  # type: ignore[arg-type]
            size=r["size"],  # type: ignore[arg-type]
            fee=r["fee"],  # type: ignore[arg-type]
            liquidity=str(r["liquidity"]),
            client_id=str(r["client_id"] or ""),
            trade_id=str(r["trade_id"]),
        )
        for r in journal.recent_fills(limit)
    )


def select(
    fills: tuple[FillRecord, ...],
    *,
    run_id: str | None = None,
    strategy: str | None = None,
    venue: str | None = None,
) -> tuple[FillRecord, ...]:
    """Those of one run / strategy / venue (None: any)."""
    return tuple(
        f
        for f in fills
        if (run_id is None or f.run_id == run_id)
        and (strategy is None or f.strategy == strategy)
        and (venue is None or f.venue == venue)
    )


def write_csv(fills: tuple[FillRecord, ...], path: Path) -> Path:
    """Write ``fills`` with a header row (blocking); numbers exactly as journaled."""
    path.parent.mkdir(parents=True, exist_ok=True)
    names = [f.name for f in fields(FillRecord)]
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(names)
        for fill in fills:
            writer.writerow([getattr(fill, n) for n in names])
    return path


__all__ = ["FILLS_SHOWN", "FillRecord", "read_fills", "select", "write_csv"]
