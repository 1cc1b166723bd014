"""Backpack's WebSocket pushes (``ws.Frame``) -> the core's events, and the books.

* ``depth.<sym>``: deltas, bridged to a REST snapshot by ``depth.DepthSync``; a delta
  that cannot be read leaves a hole: the book is reset and resynced (the shared
  ``BookSet``: one paced refetch per symbol), and the frame counts as bad.
* The REST snapshot (``refetch``, the ``BookSet``'s hook) is refused when its levels are
  impossible — a negative size, a price that is not positive, a crossed book — and
  fetched again (paced). A zero size is left out: Backpack's own client tests record a
  snapshot with one (bpx-api-client ``test_order_book_depth_last_update_id_as_i64``).
  A level off the tick/step grid is left out and counted.
* ``trade.<sym>``: live prints; ``account.orderUpdate``: order updates and fills (a fill
  is pushed before its order's update, so an update we cannot read never loses it);
  ``account.positionUpdate``: positions. Other streams count as unknown.

``on_frame`` raises one of ``connectors.common.badframes.UNREADABLE`` for a frame it
cannot read; the socket (``ws.BackpackWs.handle``) counts it as bad, with its reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from connectors.backpack import wire
from connectors.backpack.depth import Delta, DepthSync, Snapshot
from connectors.backpack.rest import BackpackRest
from connectors.backpack.ws import Frame
from connectors.base import ConnectorStats, Instrument, Side, Trade
from connectors.common.badframes import UNREADABLE
from connectors.common.books import BookSet
from connectors.common.delivery import EventQueue
from connectors.common.units import BadNumber, Level

log = logging.getLogger("connectors.backpack")

ORDER_STREAM = "account.orderUpdate"
POSITION_STREAM = "account.positionUpdate"


class BackpackStream:
    def __init__(
        self,
        venue: str,
        *,
        rest: BackpackRest,
        books: BookSet,
        depth: dict[str, DepthSync],
        instruments: Callable[[], dict[str, Instrument]],
        core_id: wire.CoreId,
        events: EventQueue,
        stats: ConnectorStats,
    ) -> None:
        self.venue = venue
        self.rest = rest
        self.books = books
        self.depth = depth
        """Symbol -> its book's U/u bridge (the connector's own dict)."""
        self.instruments = instruments
        self.core_id = core_id
        self.events = events
        self.stats = stats

    # -- frames -------------------------------------------------------------------------

    def on_frame(self, frame: Frame) -> None:
        """One push from the socket; raising (``UNREADABLE``) counts it as bad."""
        stream, data = frame.stream, frame.data
        if stream.startswith("depth."):
            self._on_depth(data)
        elif stream.startswith(ORDER_STREAM):
            self._on_order_update(data)
        elif stream.startswith(POSITION_STREAM):
            self.events.push(wire.position_from_update(self.venue, data))
        elif stream.startswith("trade."):
            self._on_trade(data)
        else:  # bookTicker, ticker, balanceUpdate, ...: nothing we use
            self._count("unknown_frames")

    def _on_depth(self, d: dict[str, Any]) -> None:
        symbol = d["s"]
        sync = self.depth.get(symbol) if isinstance(symbol, str) else None
        if sync is None:
            return
        inst = self.instruments()[symbol]
        try:
            first, last = wire.update_id(d["U"]), wire.update_id(d["u"])
            if last < first:
                raise ValueError(f"update ids run backwards: U {first} > u {last}")
            bids, skipped_b = wire.book_levels(_levels(d.get("b")), inst)
            asks, skipped_a = wire.book_levels(_levels(d.get("a")), inst)
        except UNREADABLE as exc:
            # a delta we cannot read leaves a hole in the book: resync rather than guess
            sync.reset(f"unreadable delta: {exc}")
            self.books.resync(symbol, f"unreadable delta: {exc}")
            raise
        self._off_grid(symbol, skipped_b + skipped_a)
        ts = wire.us_ms(d.get("T")) or wire.us_ms(d.get("E")) or self.rest.now_ms()
        result = sync.on_delta(Delta(first, last, bids, asks, ts))
        if result == DepthSync.APPLIED:
            self.books.changed(symbol)
        elif result == DepthSync.GAP:
            self.books.resync(symbol, sync.book.resync_reason or "gap")

    def _on_trade(self, d: dict[str, Any]) -> None:
        side = Side.SELL if d.get("m") is True else Side.BUY  # buyer is maker: taker sold
        self.events.push(
            Trade(
                self.venue,
                str(d["s"]),
                side,
                wire.dec(d["p"], "price"),
                wire.dec(d["q"], "size"),
                wire.us_ms(d.get("T")) or wire.us_ms(d.get("E")),
                "" if d.get("t") is None else str(d["t"])[:40],
            )
        )

    def _on_order_update(self, d: dict[str, Any]) -> None:
        if d.get("e") == "orderFill":
            # first: a fill is never lost to an update we cannot read
            self.events.push(
                wire.parse_fill(
                    wire.STREAM_FILL, self.venue, d, self.core_id, self.instruments().get
                )
            )
        update, known = wire.update_from_stream(self.venue, d, self.core_id)
        if update is not None:
            self.events.push(update)
        elif not known:
            self._count("unknown_frames")

    # -- the REST snapshot --------------------------------------------------------------

    async def refetch(self, symbol: str) -> None:
        """The BookSet's hook: a REST snapshot, bridged to the buffered deltas. An
        impossible snapshot raises (``BadNumber``): the BookSet counts it and fetches
        again, paced."""
        inst = self.instruments()[symbol]
        snap = await self.rest.public("/api/v1/depth", {"symbol": symbol, "limit": 1000})
        if not isinstance(snap, dict):
            raise BadNumber(f"depth snapshot is {type(snap).__name__}, not an object")
        bids, skipped_b = wire.book_levels(_levels(snap["bids"]), inst)
        asks, skipped_a = wire.book_levels(_levels(snap["asks"]), inst)
        _refuse_crossed(bids, asks)
        self._off_grid(symbol, skipped_b + skipped_a)
        last_id = wire.update_id(snap["lastUpdateId"])
        ts = wire.us_ms(snap.get("timestamp")) or self.rest.now_ms()
        if self.depth[symbol].on_snapshot(Snapshot(bids, asks, last_id, ts)):
            log.info("%s %s: book synced at update id %d", self.venue, symbol, last_id)
        self.books.changed(symbol)

    def _off_grid(self, symbol: str, skipped: int) -> None:
        if skipped:
            self._count("off_grid_levels", skipped)
            log.warning(
                "%s %s: %d level(s) off the tick/step grid left out", self.venue, symbol, skipped
            )

    def _count(self, key: str, n: int = 1) -> None:
        self.stats.extra[key] = self.stats.extra.get(key, 0) + n


def _levels(raw: Any) -> list[Any]:
    """A side's levels: a list (absent or null: none)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise BadNumber(f"levels: {type(raw).__name__} is not a list")
    return raw


def _refuse_crossed(bids: list[Level], asks: list[Level]) -> None:
    best_bid = max((p for p, s in bids if s), default=None)
    best_ask = min((p for p, s in asks if s), default=None)
    if best_bid is not None and best_ask is not None and best_bid >= best_ask:
        raise BadNumber(f"crossed snapshot: bid {best_bid} >= ask {best_ask} (ticks)")


__all__ = ["ORDER_STREAM", "POSITION_STREAM", "BackpackStream"]
