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
    AccountState,
    Balance,
    ConnectionChanged,
    ConnectionState,
    ConnectorStats,
    ErrorCode,
    Event,
    EventSink,
    Fill,
    Instrument,
    OpenOrder,
    OrderAck,
    OrderRequest,
    Position,
    Side,
    Trade,
    VenueError,
    VenueOrder,
)
from connectors.book import Liveness, OrderBook
from connectors.common.delivery import EventQueue
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
        self.lose_next_answers = 0
        """Fault hook: the next places reach the venue but their answers are lost
        (a timeout after sending): the order may well be live."""
        self.drop_stream_on_next_fill = False
        """Fault hook: the stream drops just before the account's next fill, which
        is then only in the venue's history; it comes back after ``reconnect_after_s``."""
        self.reconnect_after_s = 0.5
        self.silent = False
        """Fault hook: the stream is up but nothing arrives (no book change, no
        heartbeat, no account event): a frozen feed the stale-book check must catch."""
        self.liveness = Liveness()
        """The books' feed: beaten on every step of the venue (its heartbeat)."""
        self._stream_up = False
        self._restore_task: asyncio.Task[None] | None = None

    @property
    def state(self) -> ConnectionState:
        return self._state

    async def connect(self, sink: EventSink) -> None:
        self._events.sink = sink
        self.venue.on_account(self.account, self._on_account_event)
        self.venue.on_book(self._on_levels)
        self.venue.on_heartbeat(self._on_heartbeat)
        self.venue.on_trade(self._on_trade)
        self._state = ConnectionState.CONNECTED
        self._stream_up = True
        self._events.push(ConnectionChanged(self.name, self._state, "in-process sim"))

    async def close(self) -> None:
        if self._restore_task is not None:
            self._restore_task.cancel()
        self.venue.remove_account_listener(self.account, self._on_account_event)
        self.venue.remove_book_listener(self._on_levels)
        self.venue.remove_heartbeat_listener(self._on_heartbeat)
        self.venue.remove_trade_listener(self._on_trade)
        self._state = ConnectionState.CLOSED
        self._stream_up = False
        self._events.sink = None

    async def instruments(self) -> dict[str, Instrument]:
        return self.venue.instruments

    async def subscribe_books(self, symbols: list[str]) -> None:
        for symbol in symbols:
            if symbol not in self.venue.instruments:
                raise VenueError(f"{self.name}: unknown symbol {symbol!r}", code="unknown_symbol")
            if symbol not in self._books:
                inst = self.venue.instruments[symbol]
                book = self._books[symbol] = OrderBook(symbol, inst.tick_size, inst.step_size)
                book.liveness = self.liveness
                self._resync(symbol)

    def book(self, symbol: str) -> OrderBook | None:
        return self._books.get(symbol)

    async def place(self, request: OrderRequest) -> OrderAck:
        await self._latency()
        self._require_connected()
        ack = self.venue.submit(self.account, request)
        if self.lose_next_answers > 0:
            self.lose_next_answers -= 1
            raise VenueError(
                f"{self.name}: place {request.client_id}: answer lost (fault)",
                code=ErrorCode.TIMEOUT,
                retryable=True,
                outcome_unknown=True,
            )
        return ack

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

    async def lookup_order(self, symbol: str, client_id: str) -> VenueOrder | None:
        await self._latency()
        self._require_connected()
        return self.venue.lookup(self.account, client_id)

    async def fills_since(self, since_ms: int, symbol: str | None = None) -> list[Fill]:
        await self._latency()
        self._require_connected()
        return self.venue.fills_since(self.account, since_ms, symbol)

    def venue_client_id(self, client_id: str) -> str:
        return client_id

    async def positions(self) -> list[Position]:
        await self._latency()
        return self.venue.positions(self.account)

    async def balances(self) -> list[Balance]:
        await self._latency()
        return self.venue.balances(self.account)

    async def read_account(self, symbols: list[str]) -> AccountState:
        await self._latency()
        return self.venue.account(self.account, symbols)

    # -- faults: the private stream drops and comes back ------------------------

    def drop_stream(self, detail: str = "stream dropped (fault)") -> None:
        """The stream is down: account events are lost (requests still work, as
        REST does while a venue's WebSocket reconnects) and the books are stale."""
        if not self._stream_up:
            return
        self._stream_up = False
        self._state = ConnectionState.RECONNECTING
        for symbol, book in self._books.items():
            if book.synced:
                book.invalidate(detail)
                self._events.book_changed(symbol)
        self._events.push(ConnectionChanged(self.name, self._state, detail))

    def restore_stream(self) -> None:
        if self._stream_up or self._state is ConnectionState.CLOSED:
            return
        self._stream_up = True
        self._state = ConnectionState.CONNECTED
        self.stats.reconnects += 1
        for symbol in self._books:
            self._resync(symbol)
        self._events.push(ConnectionChanged(self.name, self._state, "stream restored"))

    async def _restore_later(self) -> None:
        await self._sleep(self.reconnect_after_s)
        self.restore_stream()

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
        self.liveness.beat(self.venue.now_ms)  # the snapshot is a word from the feed
        self._events.book_changed(symbol)

    def _on_levels(self, symbol: str, changes: LevelChanges, seq: int, ts_ms: int) -> None:
        book = self._books.get(symbol)
        if book is None or not self._stream_up or self.silent:
            return
        self.stats.frames += 1
        if self.skip_next_seq:
            self.skip_next_seq = False
            return
        bids = [(price, qty) for side, price, qty in changes if side is Side.BUY]
        asks = [(price, qty) for side, price, qty in changes if side is Side.SELL]
        self.liveness.beat(ts_ms)
        if not book.apply_delta(bids, asks, prev_seq=seq - 1, seq=seq, ts_ms=ts_ms):
            log.warning("%s %s: book resync (%s)", self.name, symbol, book.resync_reason)
            self.stats.resyncs += 1
            self._resync(symbol)
            return
        self._events.book_changed(symbol)

    def _on_heartbeat(self, now_ms: int) -> None:
        """A quiet book is not a stale one: the feed is alive at ``now_ms``."""
        if self._stream_up and not self.silent:
            self.liveness.beat(now_ms)

    def _on_trade(self, trade: Trade) -> None:
        """The public tape of the books we follow."""
        if self._stream_up and not self.silent and trade.symbol in self._books:
            self._events.push(trade)

    def _on_account_event(self, event: Event) -> None:
        if isinstance(event, Fill) and self.drop_stream_on_next_fill and self._stream_up:
            self.drop_stream_on_next_fill = False
            self.drop_stream("stream dropped around a fill (fault)")
            self._restore_task = asyncio.get_running_loop().create_task(
                self._restore_later(), name=f"{self.name} stream restore"
            )
        if self._stream_up and not self.silent:
            self._events.push(event)
