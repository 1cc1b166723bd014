"""A book rebuilt from recorded ``incremental_book_L2`` rows, the way Tardis documents
them: snapshot rows that follow level rows start a new snapshot (the book is cleared),
amount 0 removes a level. Prices and amounts as ``Decimal``."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from connectors.book import OrderBook
from connectors.replay.tardis import BookRow

Side = dict[Decimal, Decimal]


class Rebuilt:
    """The book so far, one row at a time."""

    def __init__(self) -> None:
        self.bids: Side = {}
        self.asks: Side = {}
        self._in_snapshot = False

    def apply(self, row: BookRow) -> None:
        if row.is_snapshot and not self._in_snapshot:
            self.bids.clear()
            self.asks.clear()
        self._in_snapshot = row.is_snapshot
        side = self.bids if row.side == "bid" else self.asks
        price, amount = Decimal(row.price), Decimal(row.amount)
        if amount == 0:
            side.pop(price, None)
        else:
            side[price] = amount


def rebuild(rows: Iterable[BookRow]) -> tuple[Side, Side]:
    book = Rebuilt()
    for row in rows:
        book.apply(row)
    return book.bids, book.asks


def book_sides(book: OrderBook) -> tuple[Side, Side]:
    """The connector's book in the same form."""
    bids, asks = book.level_maps()
    tick, lot = book.tick_size, book.step_size
    return (
        {p * tick: q * lot for p, q in bids.items()},
        {p * tick: q * lot for p, q in asks.items()},
    )


def snapshots(rows: Iterable[BookRow]) -> int:
    """How many snapshots the rows hold (runs of snapshot rows)."""
    count, before = 0, False
    for row in rows:
        if row.is_snapshot and not before:
            count += 1
        before = row.is_snapshot
    return count
