"""What the contract suite needs from a venue: a ``VenueRig``.

One suite, every venue (Hummingbot's ``perpetual_derivative_test.py`` habit): a
venue joins by writing one rig in ``tests/contract/rigs/`` and adding itself to
``RIGS`` there. A rig runs the venue (the in-process sim, or an emulator on
127.0.0.1 in its own thread) behind a ``SimVenue`` and builds our real connector
for one account. The suite trades through the connector (and through the core)
and checks the venue's side through ``venue`` — the sim exchange itself, the
truth no connector can fake.

Everything the venue does to us goes through the rig's fault methods, so each
case reads the same on every venue.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

from connectors.base import Connector, OpenOrder, OrderRequest, Side, TimeInForce
from connectors.sim.venue import SimVenue

T = TypeVar("T")

ACCOUNT = "me"
"""Our account on the sim venue."""
OTHER = "other"
"""Another trader on the same venue (takes our quotes)."""


class VenueRig(abc.ABC):
    name: str
    symbol: str
    """The connector's name of the BTC perp."""
    other_symbol: str
    """The connector's name of the ETH perp."""
    sim_symbols: dict[str, str]
    """Connector symbol -> the sim venue's symbol."""
    venue: SimVenue
    supports_raw_frames = True
    """False where there is no wire (the in-process sim)."""

    # -- life -------------------------------------------------------------------

    @abc.abstractmethod
    async def start(self) -> None:
        """Run the venue (and its market) with no taker flow: fills happen only
        when a test takes liquidity."""

    @abc.abstractmethod
    async def stop(self) -> None: ...

    @abc.abstractmethod
    def connector(self, run_prefix: str) -> Connector:
        """A new, unconnected connector for our account; orders the core sends
        carry ``run_prefix``."""

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` where the venue lives (the emulator's loop, or here)."""
        return fn()

    # -- faults (every one the suite uses) ----------------------------------------

    @abc.abstractmethod
    def rate_limit_next(self, count: int, retry_after_s: float = 0.2) -> None:
        """The next ``count`` requests are answered with the venue's 429."""

    @abc.abstractmethod
    async def drop_stream(self, conn: Connector) -> None:
        """The venue closes our streams now (the connector reconnects by itself)."""

    @abc.abstractmethod
    def drop_stream_on_next_fill(self, conn: Connector) -> None:
        """The venue closes our streams right before our next fill is pushed, so the
        fill is only in the venue's history."""

    @abc.abstractmethod
    async def cancel_behind_our_back(self, conn: Connector, symbol: str) -> None:
        """The venue cancels our resting orders on ``symbol`` while our streams are
        down, so the cancel updates never reach us; the streams then come back."""

    @abc.abstractmethod
    def drop_next_order(self) -> None:
        """The next order is answered as accepted but never booked nor reported."""

    @abc.abstractmethod
    def lose_next_answer(self) -> None:
        """The next place is booked and its answer lost (connection drop or 5xx)."""

    @abc.abstractmethod
    def book_duplicate_client_ids(self) -> None:
        """From now on a repeated client id books a second order."""

    @abc.abstractmethod
    def place_foreign(self, symbol: str, side: Side, size: Decimal, price: Decimal) -> str:
        """Another tool places a resting limit order on OUR account, with a client id
        of its own (a plain venue integer, not ours); returns that id as the venue
        lists it (``OpenOrder.venue_client_id``)."""

    @abc.abstractmethod
    async def push_raw(self, conn: Connector, text: str) -> bool:
        """Send ``text`` as a frame on our private stream; False if unsupported."""

    async def quiet_market(self) -> None:
        """The venue's books stop changing; its feed stays up (frames, pings)."""
        raise NotImplementedError

    async def freeze_feed(self, conn: Connector) -> None:
        """Nothing more arrives on our streams (no frame, no pong), yet they stay open."""
        raise NotImplementedError

    async def thaw_feed(self, conn: Connector) -> None:
        """The frozen feed runs again."""
        raise NotImplementedError

    def liquidate(self, symbol: str, side: Side, size: Decimal, price: Decimal) -> None:
        """A fill on our account of no order of ours (a liquidation)."""
        sim = self.sim_symbols[symbol]
        self.call(lambda: self.venue.force_fill(ACCOUNT, sim, side, size, price))

    # -- the market, seen from the venue -------------------------------------------

    def touch(self, symbol: str) -> tuple[Decimal, Decimal, Decimal]:
        """(best bid, best ask, tick) of the venue's book."""
        sim = self.sim_symbols[symbol]
        inst = self.venue.instruments[sim]
        bids, asks, _ = self.call(lambda: self.venue.snapshot(sim, 1))
        return inst.ticks_to_price(bids[0][0]), inst.ticks_to_price(asks[0][0]), inst.tick_size

    def take(self, symbol: str, side: Side, size: Decimal, price: Decimal) -> None:
        """Another trader sends an IOC at ``price`` (crossing our resting order)."""
        sim = self.sim_symbols[symbol]
        self._takes = getattr(self, "_takes", 0) + 1
        req = OrderRequest(
            f"taker-{self._takes}", sim, side, size, price=price, time_in_force=TimeInForce.IOC
        )
        self.call(lambda: self.venue.submit(OTHER, req))

    def venue_orders(self, symbol: str | None = None) -> list[OpenOrder]:
        """Our account's resting orders in the venue's matching engine."""
        sim = self.sim_symbols[symbol] if symbol else None
        return self.call(lambda: self.venue.open_orders(ACCOUNT, sim))

    def venue_position(self, symbol: str) -> Decimal:
        sim = self.sim_symbols[symbol]
        for p in self.call(lambda: self.venue.positions(ACCOUNT)):
            if p.symbol == sim:
                return p.size
        return Decimal(0)

    def min_size(self, symbol: str) -> Decimal:
        return self.venue.instruments[self.sim_symbols[symbol]].min_size


__all__ = ["ACCOUNT", "OTHER", "VenueRig"]
