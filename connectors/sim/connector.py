"""The in-process connector to a ``SimVenue``: the default venue of mmtui.

It behaves like a network connector as far as the core can tell: requests are
async (with an optional simulated latency on the sim clock), events arrive
later on the event loop (never inside the call that caused them), and the L2
book is built from a snapshot plus sequenced deltas, with a resync on a gap.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from connectors.base import (
    Balance,
    ConnectionChanged,
    ConnectionState,
    ConnectorStats,
    Event,
    EventSink,
    Instrument,
    OpenOrder,
    OrderAck,
    OrderRequest,
    Position,
    Side,
    VenueError,
)
from connectors.book import OrderBook
from connectors.delivery import EventQueue
from connectors.sim.venue import LevelChanges, SimVenue

log = logging.getLogger("connectors.sim")

Sleep = Callable[[float], Awaitable[None]]


class SimConnector:
    def __init__(
        self,
        venue: SimVenue,
        *,
        account: str = "me",
        latency_ms: int = 0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.name = venue.name
        self.venue = venue
        self.account = account
        self.latency_ms = latency_ms
        self.stats = ConnectorStats(latency_ms=float(latency_ms))
        self._sleep = sleep
        self._events = EventQueue(venue.name, lambda: self.venue.now_ms)
        self._state = ConnectionState.DISCONNECTED
        self._books: dict[str, OrderBook] = {}
        self.skip_next_seq = False
        """Fault hook: drop the next book delta, as a lossy feed would."""

    @property
    def state(self) -> ConnectionState:
        return self._state

    async def connect(self, sink: EventSink) -> None:
        self._events.sink = sink
        self.venue.on_account(self.account, self._on_account_event)
        self.venue.on_book(self._on_levels)
        self.venue.on_heartbeat(self._on_heartbeat)
        self._state = ConnectionState.CONNECTED
        self._events.push(ConnectionChanged(self.name, self._state, "in-process sim"))

    async def close(self) -> None:
        self.venue.remove_account_listener(self.account, self._on_account_event)
        self.venue.remove_book_listener(self._on_levels)
        self.venue.remove_heartbeat_listener(self._on_heartbeat)
        self._state = ConnectionState.CLOSED
        self._events.sink = None

    async def instruments(self) -> dict[str, Instrument]:
        return self.venue.instruments

    async def subscribe_books(self, symbols: list[str]) -> None:
        for symbol in symbols:
            if symbol not in self.venue.instruments:
                raise VenueError(f"{self.name}: unknown symbol {symbol!r}", code="unknown_symbol")
            if symbol not in self._books:
                inst = self.venue.instruments[symbol]
                self._books[symbol] = OrderBook(symbol, inst.tick_size, inst.step_size)
                self._resync(symbol)

    def book(self, symbol: str) -> OrderBook | None:
        return self._books.get(symbol)

    async def place(self, request: OrderRequest) -> OrderAck:
        await self._latency()
        self._require_connected()
        return self.venue.submit(self.account, request)

    async def cancel(self, symbol: str, client_id: str) -> bool:
        await self._latency()
        self._require_connected()
        return self.venue.cancel(self.account, symbol, client_id)

    async def cancel_all(
        self, symbol: str | None = None, client_id_prefix: str | None = None
    ) -> int:
        await self._latency()
        self._require_connected()
        return self.venue.cancel_all(self.account, symbol, client_id_prefix)

    async def open_orders(self, symbol: str | None = None) -> list[OpenOrder]:
        await self._latency()
        return self.venue.open_orders(self.account, symbol)

    async def positions(self) -> list[Position]:
        await self._latency()
        return self.venue.positions(self.account)

    async def balances(self) -> list[Balance]:
        await self._latency()
        return self.venue.balances(self.account)

    # -- internals ------------------------------------------------------------

    async def _latency(self) -> None:
        if self.latency_ms > 0:
            await self._sleep(self.latency_ms / 1000)

    def _require_connected(self) -> None:
        if self._state is not ConnectionState.CONNECTED:
            raise VenueError(f"{self.name}: not connected ({self._state.value})", retryable=True)

    def _resync(self, symbol: str) -> None:
        bids, asks, seq = self.venue.snapshot(symbol)
        book = self._books[symbol]
        book.apply_snapshot(bids, asks, seq, self.venue.now_ms)
        self._events.book_changed(symbol)

    def _on_levels(self, symbol: str, changes: LevelChanges, seq: int, ts_ms: int) -> None:
        book = self._books.get(symbol)
        if book is None:
            return
        self.stats.frames += 1
        if self.skip_next_seq:
            self.skip_next_seq = False
            return
        bids = [(price, qty) for side, price, qty in changes if side is Side.BUY]
        asks = [(price, qty) for side, price, qty in changes if side is Side.SELL]
        if not book.apply_delta(bids, asks, prev_seq=seq - 1, seq=seq, ts_ms=ts_ms):
            log.warning("%s %s: book resync (%s)", self.name, symbol, book.resync_reason)
            self.stats.resyncs += 1
            self._resync(symbol)
            return
        self._events.book_changed(symbol)

    def _on_heartbeat(self, now_ms: int) -> None:
        """A quiet book is not a stale one: the feed is alive up to ``now_ms``."""
        for book in self._books.values():
            if book.synced and book.last_update_ms < now_ms:
                book.last_update_ms = now_ms

    def _on_account_event(self, event: Event) -> None:
        self._events.push(event)
