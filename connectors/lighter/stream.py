"""Lighter's ``/stream`` messages -> the core's events.

* Book: ``order_book/{market}`` snapshot, then deltas whose ``begin_nonce`` must equal
  the last ``nonce``; a gap, an unreadable delta or a crossed book resyncs through the
  ``BookSet`` (unsubscribe + subscribe: the venue answers with a new snapshot).
* ``trade/{market}``: live prints (the subscribe answer replays past trades: skipped).
* ``account_all_orders``: order updates, followed by the ``OrderTracker``;
  ``account_all_trades``: fills (a snapshot's fills from before this session are the
  journal's, a repeated trade id is dropped); ``account_all_positions``: positions.

An item that cannot be read is skipped (counted as a bad frame with its reason, logged at
a rate limit); its siblings still count. A book message that cannot be read, or whose
levels are impossible (a negative size, a zero size in a snapshot, a crossed book), is
refused and the book resynced.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from connectors.base import ConnectorStats, Fill
from connectors.common.badframes import UNREADABLE, reason_of
from connectors.common.books import BookSet
from connectors.common.delivery import EventQueue
from connectors.common.seen import SeenIds
from connectors.common.units import epoch_ms
from connectors.lighter import wire
from connectors.lighter.clientids import ClientIndexes
from connectors.lighter.markets import LighterMarkets
from connectors.lighter.order_tracking import OrderTracker
from connectors.lighter.ws import LighterWs

log = logging.getLogger("connectors.lighter")


class LighterStream:
    def __init__(
        self,
        venue: str,
        *,
        ws: LighterWs,
        books: BookSet,
        markets: LighterMarkets,
        ids: ClientIndexes,
        orders: OrderTracker,
        trade_fills: Callable[[Any], list[Fill]],
        events: EventQueue,
        stats: ConnectorStats,
        on_fill: Callable[[Fill], None] | None = None,
    ) -> None:
        self.venue = venue
        self.ws = ws
        self.books = books
        self.markets = markets
        self.ids = ids
        self.orders = orders
        self.trade_fills = trade_fills
        self.events = events
        self.stats = stats
        self.on_fill = on_fill
        """Hears each new fill of ours (the volume quota it earns)."""
        self.started_ms = 0
        """When this session started: a fill snapshot's older trades are not replayed."""
        self._seen_trades = SeenIds()

    def on_message(self, msg: dict[str, Any]) -> None:
        kind = str(msg.get("type", ""))
        stage, _, channel_kind = kind.partition("/")
        if stage not in ("subscribed", "update"):
            self._unknown()
            return
        snapshot = stage == "subscribed"
        if channel_kind == "order_book":
            self._on_book(msg, snapshot)
        elif channel_kind == "trade":
            if not snapshot:  # the subscribe answer replays past trades: not live prints
                self._on_public_trades(msg)
        elif channel_kind in ("account_all_orders", "account_orders"):
            self._on_orders(msg, snapshot and channel_kind == "account_all_orders")
        elif channel_kind == "account_all_trades":
            self._on_fills(msg, snapshot)
        elif channel_kind == "account_all_positions":
            self._on_positions(msg)
        else:
            self._unknown()

    def _unknown(self) -> None:
        self.stats.extra["unknown_frames"] = self.stats.extra.get("unknown_frames", 0) + 1

    def _channel_market(self, msg: dict[str, Any]) -> wire.Market | None:
        parts = str(msg.get("channel", ""))[:80].split(":")
        if len(parts) < 2 or not parts[1].isascii() or not parts[1].isdigit():
            raise ValueError(f"channel {str(msg.get('channel'))[:80]!r} names no market")
        return self.markets.by_id.get(int(parts[1]))

    def _on_book(self, msg: dict[str, Any], snapshot: bool) -> None:
        m = self._channel_market(msg)
        book = self.books.get(m.symbol) if m is not None else None
        if m is None or book is None:
            return
        try:
            ob = msg["order_book"]
            nonce, begin = wire.nonce(ob["nonce"]), wire.nonce(ob["begin_nonce"])
            bids = wire.book_levels(ob.get("bids"), m, snapshot=snapshot)
            asks = wire.book_levels(ob.get("asks"), m, snapshot=snapshot)
            ts = epoch_ms(msg.get("timestamp"), "ms") or int(time.time() * 1000)
            if snapshot:
                book.apply_snapshot(bids, asks, nonce, ts)
        except UNREADABLE as exc:
            # a book we cannot read leaves a hole: refuse it and resync rather than guess
            reason = f"unreadable book message: {reason_of(exc)}"
            self.ws.bad_frame(f"{m.symbol} {reason}")
            self.books.resync(m.symbol, reason)
            return
        if snapshot:
            if not book.synced:  # a crossed snapshot: refused
                self.ws.bad_frame(f"{m.symbol} impossible book snapshot: {book.resync_reason}")
                self.books.resync(m.symbol, book.resync_reason)
                return
            log.info("%s %s: book synced at nonce %d", self.venue, m.symbol, nonce)
        else:
            if not book.synced:
                return  # waiting for the snapshot of our resubscribe
            if nonce <= book.seq:
                return  # stale or repeated
            if begin != book.seq:
                self.books.resync(m.symbol, f"nonce gap: expected begin {book.seq}, got {begin}")
                return
            if not book.apply_delta(bids, asks, prev_seq=begin, seq=nonce, ts_ms=ts):
                self.books.resync(m.symbol, book.resync_reason or "delta not applicable")
                return
        self.books.changed(m.symbol)

    def _on_public_trades(self, msg: dict[str, Any]) -> None:
        m = self._channel_market(msg)
        if m is None or m.symbol not in self.books:
            return
        for t in wire.items(msg, "trades"):
            try:
                self.events.push(wire.public_trade(self.venue, m.symbol, t))
            except UNREADABLE as exc:
                self._bad_item("public trade", exc, t)

    def _on_orders(self, msg: dict[str, Any], full: bool) -> None:
        if full:
            self.orders.snapshot = True
        for market_id, items in wire.by_market(msg, "orders"):
            self.orders.markets.add(market_id)
            m = self.markets.by_id.get(market_id)
            if m is None or not isinstance(items, list):
                continue
            for o in items:
                try:
                    update = wire.order_update(self.venue, m.symbol, o, self.ids.of_order(o))
                    index = wire.client_index(o)
                except UNREADABLE as exc:
                    self._bad_item("order", exc, o)  # its siblings still count
                    continue
                self.events.push(self.orders.seen(index, update))

    def _on_fills(self, msg: dict[str, Any], snapshot: bool) -> None:
        for _market_id, items in wire.by_market(msg, "trades"):
            for t in items if isinstance(items, list) else ():
                try:
                    if snapshot and epoch_ms(t.get("timestamp"), "ms") < self.started_ms:
                        continue  # before this session: the journal has those
                    fills = self.trade_fills(t)
                except UNREADABLE as exc:
                    self._bad_item("trade", exc, t)
                    continue
                for fill in fills:
                    if self._seen_trades.add(fill.trade_id):  # a snapshot repeats what we have
                        self.events.push(fill)
                        if self.on_fill is not None:
                            self.on_fill(fill)

    def _on_positions(self, msg: dict[str, Any]) -> None:
        now = int(time.time() * 1000)
        for market_id, p in wire.by_market(msg, "positions"):
            m = self.markets.by_id.get(market_id)
            if m is None or not isinstance(p, dict):
                continue
            try:
                self.events.push(wire.position(self.venue, m.symbol, p, now))
            except UNREADABLE as exc:
                self._bad_item("position", exc, p)

    def _bad_item(self, what: str, exc: Exception, item: Any) -> None:
        ident = item.get("order_index") or item.get("trade_id") if isinstance(item, dict) else None
        self.ws.bad_frame(f"unreadable {what}: {reason_of(exc)} (id {str(ident)[:40]})")


__all__ = ["LighterStream"]
