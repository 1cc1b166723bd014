"""Paper trading on one real venue: its live public data, our orders filled locally.

``PaperConnector`` is the connector the engine trades in ``mode: paper``. Behind it:

* the venue's public feed (``venue_factory.public_feed``: built without keys; every
  private call refused), which it connects and subscribes books on;
* a local ``QueueVenue`` with the live venue's instruments (fees as configured, else
  the venue's own), driven by the feed's books and trades (``LiveFeed``) and advanced
  on a timer, filling our orders with the configured queue model and latencies;
* a ``SimConnector`` on that venue, which every order call goes to.

No order call has a path to the public feed: ``place``/``cancel``/... are the
``SimConnector``'s. Time is the wall clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from decimal import Decimal
from typing import Any

from connectors.base import (
    AccountState,
    Balance,
    ConnectionState,
    Connector,
    ConnectorStats,
    EventSink,
    Fill,
    Instrument,
    OpenOrder,
    OrderAck,
    OrderRequest,
    Position,
    VenueOrder,
)
from connectors.book import OrderBook
from connectors.replay.live import LiveFeed
from connectors.replay.queue import QueueSpec
from connectors.replay.spec import LatencySpec
from connectors.replay.venue import QueueVenue
from connectors.sim.connector import SimConnector
from mmtui.config_modes import FillModelConfig

log = logging.getLogger("mmtui.paper")

ADVANCE_S = 0.05
"""How often the paper venue is advanced when the live feed is quiet (latency releases,
heartbeats)."""


def queue_spec(cfg: FillModelConfig) -> QueueSpec:
    q = cfg.queue
    return QueueSpec(model=q.model, function=q.function, n=q.n, sampled=q.sampled, seed=q.seed)


def latency_spec(cfg: FillModelConfig) -> LatencySpec:
    lat = cfg.latency
    return LatencySpec(entry_ms=lat.entry_ms, cancel_ms=lat.cancel_ms, feed_ms=lat.feed_ms)


class PaperConnector:
    """The engine's connector in paper mode (see the module docstring)."""

    def __init__(
        self,
        name: str,
        public: Connector,
        fill: FillModelConfig,
        default_fees: tuple[Decimal, Decimal] | None = None,
    ) -> None:
        """``default_fees`` (maker, taker): where the config names none and the venue's
        market list gives none either; None: the live instruments' own."""
        self.name = name
        self.public = public
        self.fill = fill
        self.default_fees = default_fees
        self.stats = ConnectorStats()
        self.feed = LiveFeed(public)
        self.venue: QueueVenue | None = None
        self.inner: SimConnector | None = None
        self._advance: asyncio.Task[None] | None = None

    @property
    def state(self) -> ConnectionState:
        return self.inner.state if self.inner is not None else ConnectionState.DISCONNECTED

    def _sim(self) -> SimConnector:
        if self.inner is None:
            raise RuntimeError(f"paper {self.name}: not connected")
        return self.inner

    async def connect(self, sink: EventSink) -> None:
        await self.public.connect(self.feed.on_event)
        try:
            live = await self.public.instruments()
            self._build_venue(live)
        except BaseException:
            # the engine closes only connectors whose connect returned: close the feed
            await self.public.close()
            raise
        self.inner = SimConnector(self.venue)  # type: ignore[arg-type]  # SimVenue's surface
        self.stats = self.inner.stats
        await self.inner.connect(sink)
        self._advance = asyncio.get_running_loop().create_task(
            self.feed.run(ADVANCE_S), name=f"paper {self.name} advance"
        )
        log.info(
            "paper %s: %d markets from the live feed, queue %s",
            self.name,
            len(live),
            self.fill.queue.model,
        )

    def _build_venue(self, live: dict[str, Instrument]) -> None:
        """The local venue: the live instruments (ticks and lots), fees as configured."""
        maker, taker = self.default_fees or (None, None)
        if self.fill.maker_fee is not None:
            maker = self.fill.maker_fee
        if self.fill.taker_fee is not None:
            taker = self.fill.taker_fee
        fees = {k: v for k, v in (("maker_fee", maker), ("taker_fee", taker)) if v is not None}
        instruments = [dataclasses.replace(i, venue=self.name, **fees) for i in live.values()]
        self.venue = QueueVenue(
            self.name,
            instruments,
            queue=queue_spec(self.fill),
            latency=latency_spec(self.fill),
            starting_collateral=self.fill.collateral,
        )
        self.venue.now_ms = self.feed.now()
        self.feed.venue = self.venue

    async def close(self) -> None:
        if self._advance is not None:
            self._advance.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._advance
        if self.inner is not None:
            await self.inner.close()
        await self.public.close()

    async def instruments(self) -> dict[str, Instrument]:
        return await self._sim().instruments()

    async def subscribe_books(self, symbols: list[str]) -> None:
        await self.public.subscribe_books(symbols)  # the live books drive the paper venue
        await self._sim().subscribe_books(symbols)

    def book(self, symbol: str) -> OrderBook | None:
        return self.inner.book(symbol) if self.inner is not None else None

    # -- orders and the account: the local venue's, never the live one's -------------

    async def place(self, request: OrderRequest) -> OrderAck:
        return await self._sim().place(request)

    async def cancel(self, symbol: str, client_id: str) -> bool:
        return await self._sim().cancel(symbol, client_id)

    async def cancel_all(
        self, symbol: str | None = None, client_id_prefix: str | None = None
    ) -> int:
        return await self._sim().cancel_all(symbol, client_id_prefix)

    async def open_orders(self, symbol: str | None = None) -> list[OpenOrder]:
        return await self._sim().open_orders(symbol)

    async def lookup_order(self, symbol: str, client_id: str) -> VenueOrder | None:
        return await self._sim().lookup_order(symbol, client_id)

    async def fills_since(self, since_ms: int, symbol: str | None = None) -> list[Fill]:
        return await self._sim().fills_since(since_ms, symbol)

    def venue_client_id(self, client_id: str) -> str:
        return self._sim().venue_client_id(client_id)

    async def positions(self) -> list[Position]:
        return await self._sim().positions()

    async def balances(self) -> list[Balance]:
        return await self._sim().balances()

    async def read_account(self, symbols: list[str]) -> AccountState:
        return await self._sim().read_account(symbols)

    def __repr__(self) -> str:
        return f"PaperConnector({self.name!r}, public={type(self.public).__name__})"


def paper_stats(connectors: dict[str, Any]) -> dict[str, dict[str, int]]:
    """What each paper venue's live feed applied (snapshots, deltas, trades, gaps)."""
    return {
        name: {
            "snapshots": c.feed.snapshots,
            "deltas": c.feed.deltas,
            "trades": c.feed.trades,
            "gaps": c.feed.gaps,
        }
        for name, c in connectors.items()
        if isinstance(c, PaperConnector)
    }


__all__ = ["PaperConnector", "latency_spec", "paper_stats", "queue_spec"]
