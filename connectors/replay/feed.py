"""What a replay venue's listeners see: its public feed (book levels, trades, heartbeats),
``lag_ms`` after the venue (feed latency).

Book listeners get (symbol, [(side, price ticks, lots)], seq, ts_ms) with ``seq`` one
more per call, as from a ``SimVenue``; ``ts_ms`` is the venue's time of the change (so a
lagging feed shows as the book's age), heartbeats say "alive as of now less the lag".
While the feed lags, the book as published so far is kept per market (``snapshot``
serves it, with the ``seq`` it is at), so a connector's snapshot and the deltas after
it agree.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from connectors.base import Side, Trade
from connectors.replay.market import Change, ReplayMarket

BookListener = Callable[[str, list[Change], int, int], None]
"""(symbol, [(side, price_ticks, lots)], seq, ts_ms) — seq increases by one per call."""
TradeListener = Callable[[Trade], None]
HeartbeatListener = Callable[[int], None]

_BUY = Side.BUY


class Feed:
    def __init__(self, lag_ms: int) -> None:
        self.lag_ms = lag_ms
        self.book_listeners: list[BookListener] = []
        self.trade_listeners: list[TradeListener] = []
        self.heartbeat_listeners: list[HeartbeatListener] = []
        self._queue: deque[tuple[int, ReplayMarket | None, list[Change] | Trade]] = deque()
        """(due ms, market, changes | trade) in time order, while the feed lags."""

    @property
    def wanted(self) -> bool:
        """Whether book changes need building (someone listens, or the feed keeps a book)."""
        return bool(self.book_listeners) or self.lag_ms > 0

    def book(self, m: ReplayMarket, changes: list[Change], now_ms: int) -> None:
        if self.lag_ms:
            self._queue.append((now_ms + self.lag_ms, m, changes))
        else:
            self._deliver(m, changes, now_ms)

    def trade(self, trade: Trade, now_ms: int) -> None:
        if self.lag_ms:
            self._queue.append((now_ms + self.lag_ms, None, trade))
            return
        for listener in list(self.trade_listeners):
            listener(trade)

    def release(self, until_ms: int) -> None:
        """Deliver what is due by ``until_ms``."""
        queue = self._queue
        while queue and queue[0][0] <= until_ms:
            due, m, what = queue.popleft()
            if isinstance(what, Trade):
                for listener in list(self.trade_listeners):
                    listener(what)
            elif m is not None:  # stamped with the venue's time of the change
                self._deliver(m, what, due - self.lag_ms)

    def heartbeat(self, now_ms: int) -> None:
        """The feed is alive: as of ``now_ms`` less the lag."""
        alive = now_ms - self.lag_ms
        for listener in list(self.heartbeat_listeners):
            listener(alive)

    def snapshot(
        self, m: ReplayMarket, depth: int
    ) -> tuple[list[tuple[int, int]], list[tuple[int, int]], int]:
        """(bids, asks, seq) as published: best first, ticks and lots."""
        if self.lag_ms:
            bids = sorted(m.pub_bids.items(), reverse=True)[:depth]
            asks = sorted(m.pub_asks.items())[:depth]
        else:
            bids, asks = m.visible_book(depth)
        return bids, asks, m.seq

    def _deliver(self, m: ReplayMarket, changes: list[Change], ts_ms: int) -> None:
        if self.lag_ms:
            pub_bids, pub_asks = m.pub_bids, m.pub_asks
            for side, price, lots in changes:
                book = pub_bids if side is _BUY else pub_asks
                if lots:
                    book[price] = lots
                else:
                    book.pop(price, None)
        m.seq += 1
        for listener in list(self.book_listeners):
            listener(m.symbol, changes, m.seq, ts_ms)


__all__ = ["BookListener", "Feed", "HeartbeatListener", "TradeListener"]
