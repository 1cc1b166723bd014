"""U/u continuity of one Backpack book: buffer deltas, bridge them to a REST snapshot.

Backpack pushes deltas only (``depth.<sym>``: ``U`` first and ``u`` last update id,
each ``U`` = previous ``u`` + 1); the start comes from ``GET /api/v1/depth``
(``lastUpdateId`` = L), which lags the stream (ccxt waits ~10 deltas before asking
for it). So a snapshot is never trusted on its own: it becomes the book only when
a delta that continues it (``U <= L + 1 <= u``) has arrived, buffered or later. A
snapshot older than the first buffered delta is thrown away (fetch again); one
that arrives before any delta waits for the first one. A gap or a crossed book
after that invalidates the book (the owner fetches a snapshot again).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from connectors.book import Level, OrderBook


@dataclass(frozen=True, slots=True)
class Delta:
    first: int
    last: int
    bids: list[Level]
    asks: list[Level]
    ts_ms: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    bids: list[Level]
    asks: list[Level]
    last_update_id: int
    ts_ms: int


class DepthSync:
    """Results of ``on_delta``: ``APPLIED`` (the book moved, perhaps by completing a
    waiting snapshot), ``BUFFERED`` (not in sync yet: keep waiting for a snapshot or
    the delta that confirms it) or ``GAP`` (the book was invalidated)."""

    APPLIED = "applied"
    BUFFERED = "buffered"
    GAP = "gap"

    def __init__(self, book: OrderBook, max_buffer: int = 5000) -> None:
        self.book = book
        self.buffer: deque[Delta] = deque(maxlen=max_buffer)
        self.pending: Snapshot | None = None
        """A snapshot waiting for the delta that proves it is current."""
        self.stale_snapshots = 0
        """Snapshots thrown away because the stream had already moved past them."""
        self.dropped = 0
        """Deltas pushed out of a full buffer (only while out of sync)."""

    def on_delta(self, delta: Delta) -> str:
        if self.book.synced:
            if self.book.apply_delta(
                delta.bids, delta.asks, prev_seq=delta.first - 1, seq=delta.last, ts_ms=delta.ts_ms
            ):
                return self.APPLIED
            # gap or crossed: keep this delta, it may follow the next snapshot
            self.buffer.clear()
            self._buffer(delta)
            return self.GAP
        self._buffer(delta)
        if self.pending is not None and self._complete():
            return self.APPLIED
        return self.BUFFERED

    def on_snapshot(self, snapshot: Snapshot) -> bool:
        """Take a REST snapshot; True when the book is in sync with it now."""
        if self.book.synced:
            return True  # the stream already carries the book forward
        self.pending = snapshot
        return self._complete()

    def reset(self, reason: str) -> None:
        self.book.invalidate(reason)
        self.buffer.clear()
        self.pending = None

    # -- internals -----------------------------------------------------------------

    def _complete(self) -> bool:
        snap = self.pending
        assert snap is not None
        last_id = snap.last_update_id
        following = [d for d in self.buffer if d.last > last_id]
        if not following:
            return False  # nothing yet proves the snapshot is current: wait
        if following[0].first > last_id + 1:
            self.pending = None  # the stream is past the snapshot: fetch again
            self.stale_snapshots += 1
            return False
        self.pending = None
        self.book.apply_snapshot(snap.bids, snap.asks, last_id, snap.ts_ms)
        if not self.book.synced:
            return False  # crossed snapshot
        for i, d in enumerate(following):
            if not self.book.apply_delta(
                d.bids, d.asks, prev_seq=d.first - 1, seq=d.last, ts_ms=d.ts_ms
            ):
                self.buffer = deque(following[i:], maxlen=self.buffer.maxlen)
                return False
        self.buffer.clear()
        return True

    def _buffer(self, delta: Delta) -> None:
        if len(self.buffer) == self.buffer.maxlen:
            self.dropped += 1
        self.buffer.append(delta)


__all__ = ["Delta", "DepthSync", "Snapshot"]
