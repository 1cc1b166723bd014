"""GRVT's WebSocket pushes (``ws.Frame``) -> the core's events.

* Book (``v1.book.d``): the snapshot comes with sequence number 0; deltas carry the
  gateway's running number (the subscribe ack announces the first one). The first delta
  after a snapshot is taken as it comes; from then on each delta's
  ``prev_sequence_number`` must be the last number seen (a repeat is ignored); a gap, a
  crossed book or an unreadable frame resyncs the book through the shared ``BookSet``
  (one paced resubscribe per symbol).
* ``v1.trade``: live prints (sequence 0 is the replay a subscribe brings: skipped);
  ``v1.order`` / ``v1.fill`` / ``v1.position``: our orders, fills and positions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from connectors.base import ConnectorStats
from connectors.book import BookError
from connectors.common.books import BookSet
from connectors.common.delivery import EventQueue
from connectors.grvt import parse
from connectors.grvt.parse import Unreadable
from connectors.grvt.ws import Frame, GrvtWs

log = logging.getLogger("connectors.grvt")

BOOK_STREAM = "v1.book.d"
BOOK_SNAPSHOT_STREAM = "v1.book.s"
TRADE_STREAM = "v1.trade"
ORDER_STREAM = "v1.order"
FILL_STREAM = "v1.fill"
POSITION_STREAM = "v1.position"


class GrvtStream:
    def __init__(
        self,
        venue: str,
        *,
        market_ws: GrvtWs,
        books: BookSet,
        events: EventQueue,
        stats: ConnectorStats,
        sync_stats: Callable[[], None],
    ) -> None:
        self.venue = venue
        self.market_ws = market_ws
        self.books = books
        self.events = events
        self.stats = stats
        self.sync_stats = sync_stats
        """Brings the connector's frame counters up to date with its sockets'."""
        self._first_delta: set[str] = set()
        """Symbols whose last snapshot has not been followed by a delta yet."""

    def on_frame(self, frame: Frame) -> None:
        """One push; raising KeyError/ValueError (``Unreadable``) counts it as bad."""
        stream = frame.stream
        try:
            if stream in (BOOK_STREAM, BOOK_SNAPSHOT_STREAM):
                self._on_book(frame)
            elif stream == TRADE_STREAM:
                if frame.seq != 0:  # 0: the replay of recent trades a subscribe brings
                    self.events.push(parse.trade(self.venue, frame.feed))
            elif stream == ORDER_STREAM:
                update = parse.order_update(self.venue, parse.order(frame.feed, "feed"))
                if update is not None:
                    self.events.push(update)
            elif stream == FILL_STREAM:
                self.events.push(parse.fill(self.venue, frame.feed, "feed"))
            elif stream == POSITION_STREAM:
                self.events.push(parse.position(self.venue, frame.feed, "feed"))
            else:
                self.stats.extra["unknown_frames"] = self.stats.extra.get("unknown_frames", 0) + 1
        finally:
            self.sync_stats()

    def _on_book(self, frame: Frame) -> None:
        feed = frame.feed
        symbol = str(feed.get("instrument") or frame.selector.partition("@")[0])
        book = self.books.get(symbol)
        if book is None:
            return
        snapshot = frame.seq == 0 or frame.stream == BOOK_SNAPSHOT_STREAM
        try:
            bids = parse.book_side(
                feed.get("bids"), book.tick_size, book.step_size, "feed.bids", snapshot=snapshot
            )
            asks = parse.book_side(
                feed.get("asks"), book.tick_size, book.step_size, "feed.asks", snapshot=snapshot
            )
            ts = parse.ns_ms(feed, "event_time") or int(time.time() * 1000)
            if snapshot:
                book.apply_snapshot(bids, asks, 0, ts)
        except (Unreadable, BookError) as exc:
            # a frame we cannot read leaves a hole in the book: resync rather than guess
            self.market_ws.bad_frame(f"{symbol} unreadable book frame: {exc}")
            self.books.resync(symbol, f"unreadable book frame: {exc}")
            return
        if snapshot:
            self._first_delta.add(symbol)
            if not book.synced:  # a crossed snapshot: refused
                self.market_ws.bad_frame(f"{symbol} impossible book snapshot: {book.resync_reason}")
                self.books.resync(symbol, book.resync_reason)
                return
            self.books.changed(symbol)
            return
        if not book.synced:
            return  # waiting for the snapshot
        if symbol in self._first_delta:
            # the first delta after a snapshot carries the gateway's running number
            self._first_delta.discard(symbol)
            self._check_first(frame)
            prev = book.seq
        elif frame.seq <= book.seq:
            return  # a repeat (GRVT: duplicates are possible; ignore them)
        elif frame.prev_seq != book.seq:
            self.books.resync(
                symbol, f"sequence gap: expected prev {book.seq}, got {frame.prev_seq}"
            )
            return
        else:
            prev = frame.prev_seq
        if book.apply_delta(bids, asks, prev_seq=prev, seq=frame.seq, ts_ms=ts):
            self.books.changed(symbol)
        else:
            self.books.resync(symbol, book.resync_reason)

    def _check_first(self, frame: Frame) -> None:
        """Diagnostics only: does the first delta carry the number the subscribe ack
        announced? (Counted, never acted on: the rule is to take the first delta.)"""
        acked = self.market_ws.acked.get((frame.stream, frame.selector))
        if acked is not None and frame.seq != acked[0]:
            self.stats.extra["first_delta_not_acked"] = (
                self.stats.extra.get("first_delta_not_acked", 0) + 1
            )
            log.info(
                "%s %s: first delta after the snapshot is %d, the ack announced %d",
                self.venue,
                frame.selector,
                frame.seq,
                acked[0],
            )


__all__ = [
    "BOOK_SNAPSHOT_STREAM",
    "BOOK_STREAM",
    "FILL_STREAM",
    "ORDER_STREAM",
    "POSITION_STREAM",
    "TRADE_STREAM",
    "GrvtStream",
]
