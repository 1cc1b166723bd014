"""Following an ``OrderBook`` by what changed: the level changes since the last look.

A recorder writes them as deltas, a paper venue applies them to its own copy. A
connector keeps one book per symbol and tells its sink only *that* a book changed
(``BookChanged``, coalesced per loop turn), so a follower compares the book with
what it saw last. A snapshot the book took since (a resync, a reconnect) is a new
snapshot for the follower too; a book that is not synced is a gap: nothing is
followed until the next snapshot, and that one is reported as a snapshot — a gap is
never papered over with a diff.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from connectors.base import Side
from connectors.book import OrderBook

Change = tuple[Side, int, int]
"""(side, price ticks, new total lots; 0 removes the level)."""


@dataclass(frozen=True, slots=True)
class BookStep:
    kind: Literal["snapshot", "delta"]
    bids: list[tuple[int, int]] = field(default_factory=list)
    """A snapshot's bid levels (ticks, lots), best first."""
    asks: list[tuple[int, int]] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    """A delta's changed levels."""


class BookFollower:
    """What changed in one book since the last ``step``."""

    __slots__ = ("_asks", "_bids", "_gap", "_snapshots", "gaps")

    def __init__(self) -> None:
        self._bids: dict[int, int] = {}
        self._asks: dict[int, int] = {}
        self._snapshots = -1
        self._gap = True
        self.gaps = 0
        """Times the book went unsynced under us (each ends in a new snapshot)."""

    def step(self, book: OrderBook) -> BookStep | None:
        """The book's change since the last call; None when there is nothing to follow
        (unchanged, or not synced: a gap, which ends in a snapshot)."""
        if not book.synced:
            if not self._gap:
                self._gap = True
                self.gaps += 1
            return None
        bids, asks = book.level_maps()
        if self._gap or book.snapshots != self._snapshots:
            self._gap = False
            self._snapshots = book.snapshots
            self._bids, self._asks = bids, asks
            return BookStep(
                "snapshot",
                bids=sorted(bids.items(), reverse=True),
                asks=sorted(asks.items()),
            )
        changes: list[Change] = []
        for side, old, new in ((Side.BUY, self._bids, bids), (Side.SELL, self._asks, asks)):
            for price, lots in new.items():
                if old.get(price) != lots:
                    changes.append((side, price, lots))
            for price in old.keys() - new.keys():
                changes.append((side, price, 0))
        self._bids, self._asks = bids, asks
        if not changes:
            return None
        return BookStep("delta", changes=changes)


__all__ = ["BookFollower", "BookStep", "Change"]
