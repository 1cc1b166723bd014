"""Paper trading: a QueueVenue fed by a live venue's public data.

``LiveFeed`` is the sink of a live ``Connector`` (any venue: it only reads public
data, so it needs no keys and never places an order there). On each ``BookChanged``
it follows the connector's book with a ``BookFollower`` (a resync or a gap is a new
snapshot, anything else the levels that changed) and applies that to the paper
venue; each public ``Trade`` is applied as a recorded trade. Time is the wall clock
(or the ``now_ms`` given), never going backwards; ``run`` advances the venue on a
timer so latency-delayed entries and cancels are released and the paper feed's
heartbeats keep the core's stale-book check satisfied while the live book is quiet
(not while a live book is down or resyncing: then the paper book ages as the live one).

The core trades the paper venue through a ``SimConnector`` on it, as on the sim.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal

from connectors.base import BookChanged, ConnectionChanged, Connector, Event, Side, Trade
from connectors.book_follow import BookFollower
from connectors.replay.queue import QueueSpec
from connectors.replay.spec import LatencySpec
from connectors.replay.venue import QueueVenue

log = logging.getLogger("connectors.replay.live")


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


class LiveFeed:
    """Drives ``venue`` from ``connector``'s public events (see the module docstring)."""

    def __init__(
        self,
        connector: Connector,
        venue: QueueVenue | None = None,
        *,
        now_ms: Callable[[], int] = wall_ms,
    ) -> None:
        self.connector = connector
        self.venue = venue
        self._now_ms = now_ms
        self._followers: dict[str, BookFollower] = {}
        self._last_ms = 0
        self._trades = 0
        self.snapshots = 0
        """Snapshots applied to the paper venue (the first, then one per gap/resync)."""
        self.deltas = 0
        self.trades = 0

    @property
    def gaps(self) -> int:
        return sum(f.gaps for f in self._followers.values())

    def now(self) -> int:
        """The feed's time: the clock, never before the last time used."""
        now = self._now_ms()
        if now > self._last_ms:
            self._last_ms = now
        return self._last_ms

    def on_event(self, event: Event) -> None:
        """The live connector's sink: public data goes to the paper venue; the rest
        (there is no account here) is logged at most."""
        venue = self.venue
        if venue is None:
            return
        if isinstance(event, BookChanged):
            self._on_book(venue, event.symbol)
        elif isinstance(event, Trade):
            self._on_trade(venue, event)
        elif isinstance(event, ConnectionChanged):
            log.info("paper %s: live feed %s %s", venue.name, event.state.value, event.detail)

    def _on_book(self, venue: QueueVenue, symbol: str) -> None:
        if symbol not in venue.instruments:
            return
        book = self.connector.book(symbol)
        if book is None:
            return
        follower = self._followers.get(symbol)
        if follower is None:
            follower = self._followers[symbol] = BookFollower()
        step = follower.step(book)
        if step is None:
            return
        now = self.now()
        if step.kind == "snapshot":
            changes = [(Side.BUY, p, q) for p, q in step.bids]
            changes.extend((Side.SELL, p, q) for p, q in step.asks)
            venue.apply_book(symbol, now, changes, snapshot=True)
            self.snapshots += 1
        else:
            venue.apply_book(symbol, now, step.changes)
            self.deltas += 1

    def _on_trade(self, venue: QueueVenue, trade: Trade) -> None:
        inst = venue.instruments.get(trade.symbol)
        if inst is None or trade.symbol not in self._followers:
            return  # a trade before the book is followed: nothing to queue against yet
        self._trades += 1
        self.trades += 1
        venue.apply_trade(
            trade.symbol,
            self.now(),
            trade.side,
            inst.price_to_ticks(trade.price),
            inst.size_to_lots(trade.size),
            f"live-{self._trades}",
        )

    def live(self) -> bool:
        """Whether every followed live book is synced (a dropped or resyncing live feed
        is not: the paper feed then sends no heartbeats, and the core's stale-book check
        sees the paper book age as the live one does)."""
        for symbol in self._followers:
            book = self.connector.book(symbol)
            if book is None or not book.synced:
                return False
        return bool(self._followers)

    def advance(self) -> None:
        if self.venue is not None:
            self.venue.advance(self.now(), heartbeat=self.live())

    async def run(
        self,
        interval_s: float = 0.1,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Advance the paper venue every ``interval_s`` until cancelled."""
        while True:
            await sleep(interval_s)
            self.advance()


async def start_paper(
    connector: Connector,
    symbols: list[str],
    *,
    queue: QueueSpec | None = None,
    latency: LatencySpec | None = None,
    starting_collateral: Decimal = Decimal(100_000),
    collateral_asset: str = "USDC",
    now_ms: Callable[[], int] = wall_ms,
) -> LiveFeed:
    """Connect ``connector`` (public data only), build its paper venue (the same name and
    instruments: ticks and lots are the live venue's) and follow ``symbols``' books."""
    feed = LiveFeed(connector, now_ms=now_ms)
    await connector.connect(feed.on_event)
    instruments = await connector.instruments()
    missing = [s for s in symbols if s not in instruments]
    if missing:
        raise ValueError(f"paper {connector.name}: unknown symbols {missing}")
    feed.venue = QueueVenue(
        connector.name,
        [instruments[s] for s in symbols],
        queue=queue,
        latency=latency,
        starting_collateral=starting_collateral,
        collateral_asset=collateral_asset,
    )
    feed.venue.now_ms = feed.now()
    await connector.subscribe_books(symbols)
    return feed


__all__ = ["LiveFeed", "start_paper", "wall_ms"]
