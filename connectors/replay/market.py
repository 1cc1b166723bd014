"""One replayed market: the recorded book (ticks -> lots per side) and our resting orders
in it, with their queue positions.

The recorded book is exactly what the data says; our orders never change it (no
market impact, as in hftbacktest). What a feed listener sees at a price is the
recorded amount plus our own resting lots there. ``apply`` is the hot path: one dict
write per level, and a look at our orders only where we rest at that price.
"""

from __future__ import annotations

from connectors.base import Instrument, Side
from connectors.replay.queue import QueueModel, Resting

_BUY = Side.BUY
_SELL = Side.SELL
NO_ASK = 1 << 62
"""``ask_floor`` when we have no ask resting (above any price)."""

Change = tuple[Side, int, int]
Fill = tuple[Resting, int]
"""(our order, lots filled at its price as maker)."""


class ReplayMarket:
    __slots__ = (
        "_best_ask",
        "_best_bid",
        "_best_ok",
        "ask_floor",
        "asks",
        "bid_ceiling",
        "bids",
        "instrument",
        "model",
        "our_ask_lots",
        "our_asks",
        "our_bid_lots",
        "our_bids",
        "pub_asks",
        "pub_bids",
        "seq",
        "symbol",
    )

    def __init__(self, instrument: Instrument, model: QueueModel) -> None:
        self.instrument = instrument
        self.symbol = instrument.symbol
        self.model = model
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.our_bids: dict[int, list[Resting]] = {}
        self.our_asks: dict[int, list[Resting]] = {}
        self.our_bid_lots: dict[int, int] = {}
        self.our_ask_lots: dict[int, int] = {}
        self.bid_ceiling = -1
        """Our highest resting bid (-1: none): a recorded ask at or below it crosses us."""
        self.ask_floor = NO_ASK
        """Our lowest resting ask: a recorded bid at or above it crosses us."""
        self.seq = 0
        """The published feed's position (+1 per book listener call)."""
        self.pub_bids: dict[int, int] = {}
        self.pub_asks: dict[int, int] = {}
        """The book as published (only kept while the feed lags: ``feed_ms > 0``)."""
        self._best_ok = False
        self._best_bid: int | None = None
        self._best_ask: int | None = None

    # -- the recorded book -----------------------------------------------------

    def apply(self, changes: list[Change], out: list[Change] | None) -> tuple[int, int]:
        """Set recorded levels (lots: the new total; 0 removes). Appends what a listener
        sees to ``out``; returns (the highest recorded bid at or above our lowest ask,
        -1 if none; the lowest recorded ask at or below our highest bid, ``NO_ASK`` if
        none): our orders that the recorded book crossed."""
        self._best_ok = False
        bids, asks = self.bids, self.asks
        our_bids, our_asks = self.our_bids, self.our_asks
        floor, ceiling = self.ask_floor, self.bid_ceiling
        hit_bid, hit_ask = -1, NO_ASK
        depth = self.model.depth
        for ch in changes:
            side, price, lots = ch
            if side is _BUY:
                ours = our_bids.get(price) if our_bids else None
                if ours is None:
                    if lots:
                        bids[price] = lots
                        if price >= floor and price > hit_bid:
                            hit_bid = price
                    else:
                        bids.pop(price, None)
                    if out is not None:
                        out.append(ch)
                    continue
                prev = bids.get(price, 0)
                if lots:
                    bids[price] = lots
                    if price >= floor and price > hit_bid:
                        hit_bid = price
                else:
                    bids.pop(price, None)
                for order in ours:
                    depth(order, prev, lots)
                if out is not None:
                    out.append((side, price, lots + self.our_bid_lots[price]))
            else:
                ours = our_asks.get(price) if our_asks else None
                if ours is None:
                    if lots:
                        asks[price] = lots
                        if price <= ceiling and price < hit_ask:
                            hit_ask = price
                    else:
                        asks.pop(price, None)
                    if out is not None:
                        out.append(ch)
                    continue
                prev = asks.get(price, 0)
                if lots:
                    asks[price] = lots
                    if price <= ceiling and price < hit_ask:
                        hit_ask = price
                else:
                    asks.pop(price, None)
                for order in ours:
                    depth(order, prev, lots)
                if out is not None:
                    out.append((side, price, lots + self.our_ask_lots[price]))
        return hit_bid, hit_ask

    def apply_snapshot(self, changes: list[Change], out: list[Change] | None) -> tuple[int, int]:
        """Replace the recorded book with ``changes`` (a snapshot: zero rows skipped).
        Our orders stay; each sees its level go from the old amount to the new one."""
        self._best_ok = False
        old = (self.bids, self.asks)
        new: tuple[dict[int, int], dict[int, int]] = ({}, {})
        for side, price, lots in changes:
            book = new[0] if side is _BUY else new[1]
            if lots:
                book[price] = lots
            else:
                book.pop(price, None)
        self.bids, self.asks = new
        for i, (ours_side, our_lots) in enumerate(
            ((self.our_bids, self.our_bid_lots), (self.our_asks, self.our_ask_lots))
        ):
            side = _BUY if i == 0 else _SELL
            for price, ours in ours_side.items():
                prev, now = old[i].get(price, 0), new[i].get(price, 0)
                for order in ours:
                    self.model.depth(order, prev, now)
            if out is not None:
                for price in old[i].keys() - new[i].keys():
                    out.append((side, price, our_lots.get(price, 0)))
                for price, lots in new[i].items():
                    out.append((side, price, lots + our_lots.get(price, 0)))
        hit_bid = max((p for p in self.bids if p >= self.ask_floor), default=-1)
        hit_ask = min((p for p in self.asks if p <= self.bid_ceiling), default=NO_ASK)
        return hit_bid, hit_ask

    def best_bid(self) -> int | None:
        if not self._best_ok:
            self._refresh_best()
        return self._best_bid

    def best_ask(self) -> int | None:
        if not self._best_ok:
            self._refresh_best()
        return self._best_ask

    def _refresh_best(self) -> None:
        self._best_bid = max(self.bids) if self.bids else None
        self._best_ask = min(self.asks) if self.asks else None
        self._best_ok = True

    def takeable(self, side: Side, limit: int | None) -> list[tuple[int, int]]:
        """The recorded levels a taker on ``side`` can take, best first, up to ``limit``."""
        if side is _BUY:
            prices = sorted(p for p in self.asks if limit is None or p <= limit)
            return [(p, self.asks[p]) for p in prices]
        prices = sorted((p for p in self.bids if limit is None or p >= limit), reverse=True)
        return [(p, self.bids[p]) for p in prices]

    # -- trades ------------------------------------------------------------------

    def trade_fills(self, taker: Side, price: int, lots: int) -> list[Fill]:
        """A recorded trade: which of our orders it filled, and by how much (maker).

        A taker sell at ``price`` fills our bids above it in full (the sellers went
        through our price) and advances the queue of our bids at it; a taker buy
        likewise our asks. At one price, our orders share the traded lots in time
        order."""
        fills: list[Fill] = []
        if taker is _SELL:
            if price > self.bid_ceiling:
                return fills
            ours_side = self.our_bids
            through = [p for p in ours_side if p > price]
        else:
            if price < self.ask_floor:
                return fills
            ours_side = self.our_asks
            through = [p for p in ours_side if p < price]
        for p in through:
            fills.extend((o, o.lots) for o in ours_side[p])
        at = ours_side.get(price)
        if at:
            left = lots
            trade = self.model.trade
            for order in at:
                filled = min(trade(order, lots), left)
                if filled > 0:
                    left -= filled
                    fills.append((order, filled))
        return fills

    def crossed(self, hit_bid: int, hit_ask: int) -> list[Fill]:
        """Our orders the recorded book crossed (from ``apply``): filled in full."""
        fills: list[Fill] = []
        if hit_bid >= 0:
            for p in [p for p in self.our_asks if p <= hit_bid]:
                fills.extend((o, o.lots) for o in self.our_asks[p])
        if hit_ask != NO_ASK:
            for p in [p for p in self.our_bids if p >= hit_ask]:
                fills.extend((o, o.lots) for o in self.our_bids[p])
        return fills

    # -- our orders ----------------------------------------------------------------

    def rest(self, order: Resting) -> None:
        """Our order joins the back of the recorded queue at its price."""
        if order.side is _BUY:
            self.model.join(order, self.bids.get(order.price, 0))
            self.our_bids.setdefault(order.price, []).append(order)
            lots = self.our_bid_lots
            if order.price > self.bid_ceiling:
                self.bid_ceiling = order.price
        else:
            self.model.join(order, self.asks.get(order.price, 0))
            self.our_asks.setdefault(order.price, []).append(order)
            lots = self.our_ask_lots
            if order.price < self.ask_floor:
                self.ask_floor = order.price
        lots[order.price] = lots.get(order.price, 0) + order.lots

    def reduce(self, order: Resting, lots: int) -> None:
        """``lots`` of our order left the book (filled or trimmed); gone at zero."""
        our_lots = self.our_bid_lots if order.side is _BUY else self.our_ask_lots
        order.lots -= lots
        left = our_lots[order.price] - lots
        if left:
            our_lots[order.price] = left
        else:
            del our_lots[order.price]
        if order.lots <= 0:
            self._unlink(order)

    def remove(self, order: Resting) -> None:
        """Our order left the book (cancelled)."""
        if order.lots > 0:
            self.reduce(order, order.lots)

    def _unlink(self, order: Resting) -> None:
        ours_side = self.our_bids if order.side is _BUY else self.our_asks
        at = ours_side.get(order.price)
        if at is None or order not in at:
            return
        at.remove(order)
        if not at:
            del ours_side[order.price]
        if order.side is _BUY:
            self.bid_ceiling = max(self.our_bids, default=-1)
        else:
            self.ask_floor = min(self.our_asks, default=NO_ASK)

    def visible(self, side: Side, price: int) -> Change:
        """What a listener sees at one price now: recorded plus ours."""
        if side is _BUY:
            return (side, price, self.bids.get(price, 0) + self.our_bid_lots.get(price, 0))
        return (side, price, self.asks.get(price, 0) + self.our_ask_lots.get(price, 0))

    def visible_book(self, depth: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """(bids, asks) best first as a listener sees them now (recorded plus ours)."""
        bids = dict(self.bids)
        for p, lots in self.our_bid_lots.items():
            bids[p] = bids.get(p, 0) + lots
        asks = dict(self.asks)
        for p, lots in self.our_ask_lots.items():
            asks[p] = asks.get(p, 0) + lots
        return (
            sorted(bids.items(), reverse=True)[:depth],
            sorted(asks.items())[:depth],
        )

    def our_orders(self) -> list[Resting]:
        out = [o for at in self.our_bids.values() for o in at]
        out.extend(o for at in self.our_asks.values() for o in at)
        return out


__all__ = ["NO_ASK", "Change", "Fill", "ReplayMarket"]
