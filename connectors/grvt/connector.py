"""``GrvtConnector``: the real GRVT connector.

REST runs on the shared ``HttpClient`` (``rest.GrvtRest``) and answers are read
by our own tolerant parsing (``parse``); orders are built with grvt-pysdk's
types and signed with its EIP-712 message builder (``orders``, ``signing``); two
WebSockets (``ws.GrvtWs``) carry market data (``v1.book.d`` snapshot + deltas,
``v1.trade``) and, with the session cookie on the upgrade, our ``v1.order`` /
``v1.fill`` / ``v1.position`` (read by ``stream``). Sources for every behaviour:
docs/venues/grvt.md.

The connector is the one ``Connector``; it composes ``reads`` (instruments, open
orders, lookups, fill history, positions, balances over REST), ``orders`` (signed
orders per client id) and ``stream`` (pushes -> events), and owns the sockets, the
connection state, placing and cancelling, and the dead-man's switch.

Point it at loopback with ``GrvtUrls.single("http://127.0.0.1:PORT",
"ws://127.0.0.1:PORT/ws")``; nothing else changes.

* Orders: ``create_order`` answers PENDING; the outcome comes on ``v1.order``. A place
  whose answer is lost, timed out or 5xx has an unknown outcome: the core looks the
  order up, the connector never resends it by itself (a resend by the core after a
  refusal that left nothing behind is the very same signed order).
* The core owns reconcile: it asks ``fills_since`` / ``open_orders`` /
  ``lookup_order`` / ``positions`` after reconnects; the connector keeps no loop
  of its own for that.
* Dead-man's switch: with ``dead_man_switch_s`` (above 1 s: GRVT turns a
  countdown of 1000 ms or less off) the connector keeps GRVT's
  cancel-on-disconnect countdown armed (refreshing it every third of the period),
  so the venue cancels our orders if this process dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Mapping
from typing import Any

from pysdk.grvt_raw_env import GrvtEnv

from connectors.base import (
    AccountState,
    Balance,
    ConnectionChanged,
    ConnectionState,
    ConnectorStats,
    ErrorCode,
    EventSink,
    Fill,
    Instrument,
    OpenOrder,
    OrderAck,
    OrderRequest,
    OrderStatus,
    Position,
    VenueError,
    VenueOrder,
)
from connectors.book import OrderBook
from connectors.common.books import BookSet
from connectors.common.delivery import EventQueue
from connectors.common.retry import startup_read
from connectors.common.wsclient import WsSettings
from connectors.grvt import clientids, parse
from connectors.grvt.keys import GrvtKeys
from connectors.grvt.orders import SignedOrders, build_order, fast_signing_backend
from connectors.grvt.parse import Unreadable
from connectors.grvt.reads import GrvtReads
from connectors.grvt.rest import GrvtRest, GrvtUrls
from connectors.grvt.stream import (
    BOOK_STREAM,
    FILL_STREAM,
    ORDER_STREAM,
    POSITION_STREAM,
    TRADE_STREAM,
    GrvtStream,
)
from connectors.grvt.ws import Frame, GrvtWs

log = logging.getLogger("connectors.grvt")

MIN_DEAD_MAN_S = 1.0
"""GRVT rounds a countdown of 0..1000 ms to 0: the switch would be off."""


class GrvtConnector:
    def __init__(
        self,
        urls: GrvtUrls,
        keys: GrvtKeys | None = None,
        *,
        name: str = "grvt",
        env: GrvtEnv = GrvtEnv.TESTNET,
        dead_man_switch_s: float | None = None,
        book_rate_ms: int = 100,
        trades: bool = True,
        order_ttl_s: float = 24 * 3600,
        rest_timeout_s: float = 10.0,
        connect_timeout_s: float = 10.0,
        sign_in_thread: bool | None = None,
        sdk_signer: bool = False,
        rng: random.Random | None = None,
        ws_backoff_base_s: float = 0.5,
        ws_backoff_cap_s: float = 30.0,
        ws_ping_interval_s: float | None = 20.0,
        lookup_window_s: float = 3 * 24 * 3600,
    ) -> None:
        if dead_man_switch_s is not None and 0 < dead_man_switch_s <= MIN_DEAD_MAN_S:
            raise ValueError(
                f"GRVT dead_man_switch_s must be above {MIN_DEAD_MAN_S} s "
                f"(a countdown of 1000 ms or less turns it off), got {dead_man_switch_s}"
            )
        self.name = name
        self.stats = ConnectorStats()
        self.keys = keys
        self.urls = urls
        self.env = env
        self.dead_man_switch_s = dead_man_switch_s
        self.book_rate_ms = book_rate_ms
        self.trades = trades
        self.order_ttl_s = order_ttl_s
        self.connect_timeout_s = connect_timeout_s
        self._rng = rng or random.Random()
        self.rest = GrvtRest(urls, keys, venue=name, timeout_s=rest_timeout_s)
        self.reads = GrvtReads(
            name, self.rest, self._need_keys, self.stats, lookup_window_s=lookup_window_s
        )
        self.orders = SignedOrders(
            keys,
            env,
            self.reads.assets,
            self.stats,
            sign_in_thread=(
                (not fast_signing_backend()) if sign_in_thread is None else sign_in_thread
            ),
            sdk_signer=sdk_signer,
        )
        ws_args: dict[str, Any] = {
            "settings": WsSettings(
                backoff_base_s=ws_backoff_base_s,
                backoff_cap_s=ws_backoff_cap_s,
                ping_interval_s=ws_ping_interval_s,
                ping_timeout_s=ws_ping_interval_s,
            ),
            "rng": self._rng,
            "on_bad_frame": self._sync_stats,
        }
        self.market_ws = GrvtWs(
            urls.market_ws,
            self._on_frame,
            lambda s, d: self._on_ws_state("market", s, d),
            name=f"{name} market ws",
            **ws_args,
        )
        self.trade_ws: GrvtWs | None = None
        if keys is not None:
            self.trade_ws = GrvtWs(
                urls.trade_ws,
                self._on_frame,
                lambda s, d: self._on_ws_state("trade", s, d),
                headers=lambda force: self.rest.auth_headers(force=force),
                name=f"{name} trade ws",
                **ws_args,
            )
        self._events = EventQueue(name, lambda: int(time.time() * 1000))
        self.books = BookSet(
            name,
            refetch=self._refetch_book,
            on_change=self._events.book_changed,
            is_connected=self.market_ws.connected.is_set,
            stats=self.stats,
        )
        self.market_ws.liveness = self.books.liveness  # its frames and pongs keep the books fresh
        self.stream = GrvtStream(
            name,
            market_ws=self.market_ws,
            books=self.books,
            events=self._events,
            stats=self.stats,
            sync_stats=self._sync_stats,
        )
        self._state = ConnectionState.DISCONNECTED
        self._ws_states: dict[str, ConnectionState] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._closing = False
        self.dead_man_arms = 0
        self._dead_man_set = False  # a countdown was armed and not confirmed disarmed

    # -- protocol ---------------------------------------------------------------------

    @property
    def state(self) -> ConnectionState:
        return self._state

    @property
    def lookup_window_s(self) -> float:
        """How far back a lookup searches the order history."""
        return self.reads.lookup_window_s

    @property
    def sign_in_thread(self) -> bool:
        return self.orders.sign_in_thread

    @property
    def sdk_signer(self) -> bool:
        return self.orders.sdk_signer

    @property
    def signing_ms(self) -> float | None:
        return self.orders.signing_ms

    async def connect(self, sink: EventSink) -> None:
        self._events.sink = sink
        self._closing = False
        await self.rest.start()
        try:  # reads and a login: retried on a transient error, never on a refusal
            await startup_read(self.name, "the instruments", self.instruments)
            if self.keys is not None:
                await startup_read(self.name, "the login", self.rest.ensure_session)
        except VenueError:
            await self.rest.close()
            raise
        sockets = [self.market_ws]
        if self.trade_ws is not None and self.keys is not None:
            selector = [self.keys.trading_account_id]  # every instrument of the sub-account
            for stream in (ORDER_STREAM, FILL_STREAM, POSITION_STREAM):
                await self.trade_ws.subscribe(stream, selector)
            sockets.append(self.trade_ws)
        outcomes = await asyncio.gather(
            *(ws.start_and_wait(self.connect_timeout_s) for ws in sockets),
            return_exceptions=True,
        )
        failed = [o for o in outcomes if isinstance(o, BaseException)]
        if failed:
            await self.close()
            raise failed[0]
        if self.keys is not None and self.dead_man_switch_s:
            await self._arm_dead_man()
            self._spawn(self._dead_man_loop(), "dead-man switch")

    async def close(self) -> None:
        self._closing = True
        tasks = list(self._background)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._background.clear()
        await self.books.close()
        if self.dead_man_switch_s and self.keys is not None and self.rest.session_fresh():
            # our orders were cancelled by the shutdown: disarm the countdown
            try:
                await self._cancel_on_disconnect(0)
                self._dead_man_set = False
            except VenueError as exc:
                log.warning("%s: could not disarm the dead-man switch at close: %s", self.name, exc)
        await self.market_ws.close()
        if self.trade_ws is not None:
            await self.trade_ws.close()
        await self.rest.close()
        self._state = ConnectionState.CLOSED
        self._events.sink = None

    async def instruments(self) -> dict[str, Instrument]:
        return await self.reads.load_instruments()

    async def subscribe_books(self, symbols: list[str]) -> None:
        insts = await self.instruments()
        for symbol in symbols:
            inst = insts.get(symbol)
            if inst is None:
                raise VenueError(
                    f"{self.name}: unknown symbol {symbol!r}", code=ErrorCode.UNKNOWN_SYMBOL
                )
            if symbol in self.books:
                continue
            self.books.add(inst)
            await self.market_ws.subscribe(BOOK_STREAM, [self._book_selector(symbol)])
            if self.trades:
                await self.market_ws.subscribe(TRADE_STREAM, [f"{symbol}@50"])
            self.books.watch(symbol)

    def book(self, symbol: str) -> OrderBook | None:
        return self.books.get(symbol)

    def venue_client_id(self, client_id: str) -> str:
        """Our id as GRVT lists it: the uint64 ``client_order_id`` in decimal."""
        try:
            return str(clientids.to_venue(client_id))
        except clientids.ClientIdError as exc:
            raise VenueError(str(exc), code=ErrorCode.INVALID_CLIENT_ID) from None

    async def place(self, request: OrderRequest) -> OrderAck:
        keys = self._need_keys()
        inst = self.reads.instrument(request.symbol)
        cid = int(self.venue_client_id(request.client_id))
        order = await self.orders.order_for(request, inst, keys, cid, self.order_ttl_s)
        try:
            answer = await self.rest.private("create_order", {"order": order}, idempotent=False)
        except VenueError as exc:
            if not exc.retryable and not exc.outcome_unknown:
                self.orders.forget(request.client_id)
            raise
        finally:
            self._latency()
        self.orders.forget(request.client_id)
        try:
            placed = parse.order(
                parse.result(answer, "create_order", self.name, place=True), "result"
            )
        except Unreadable as exc:
            raise parse.answer_error(self.name, "create_order", exc, place=True) from None
        if placed.status is OrderStatus.REJECTED:
            return OrderAck(request.client_id, placed.order_id, placed.status, placed.reason)
        return OrderAck(request.client_id, placed.order_id, placed.core_status)

    async def cancel(self, symbol: str, client_id: str) -> bool:
        keys = self._need_keys()
        body = {
            "sub_account_id": keys.trading_account_id,
            "client_order_id": self.venue_client_id(client_id),
        }
        return await self._cancel(body)

    async def cancel_all(
        self, symbol: str | None = None, client_id_prefix: str | None = None
    ) -> int:
        keys = self._need_keys()
        listed = await self.open_orders(symbol)
        if client_id_prefix is None:
            body: dict[str, Any] = {"sub_account_id": keys.trading_account_id}
            if symbol is not None:
                body |= self.reads.filter(symbol)
            await self.rest.private("cancel_all_orders", body, idempotent=False)
            return len(listed)
        count = 0
        for o in listed:
            if o.client_id is None or not o.client_id.startswith(client_id_prefix):
                continue
            # by order id: exact even where two live orders share a client id
            body = {"sub_account_id": keys.trading_account_id, "order_id": o.venue_order_id}
            if await self._cancel(body):
                count += 1
        return count

    async def open_orders(self, symbol: str | None = None) -> list[OpenOrder]:
        return await self.reads.open_orders(symbol)

    async def lookup_order(self, symbol: str, client_id: str) -> VenueOrder | None:
        """``full/v1/order`` by ``client_order_id``; when GRVT does not know the id there
        (it promises client ids unique among active orders only), the order history of
        the last ``lookup_window_s`` is searched before answering None."""
        self._need_keys()
        return await self.reads.lookup_order(symbol, self.venue_client_id(client_id))

    async def fills_since(self, since_ms: int, symbol: str | None = None) -> list[Fill]:
        """``full/v1/fill_history`` from ``since_ms``, every page (``next`` cursor)."""
        return await self.reads.fills_since(since_ms, symbol)

    async def positions(self) -> list[Position]:
        return await self.reads.positions()

    async def read_account(self, symbols: list[str]) -> AccountState:
        return await self.reads.read_account(symbols)

    async def balances(self) -> list[Balance]:
        return await self.reads.balances()

    async def account_summary(self) -> Mapping[str, Any]:
        return await self.reads.account_summary()

    # -- internals: requests -------------------------------------------------------

    def _need_keys(self) -> GrvtKeys:
        if self.keys is None:
            raise VenueError(f"{self.name}: trading needs GRVT keys", code=ErrorCode.NO_KEYS)
        return self.keys

    def _latency(self) -> None:
        self.stats.latency_ms = self.rest.latency_ms

    async def _cancel(self, body: Mapping[str, Any]) -> bool:
        try:
            await self.rest.private("cancel_order", body, idempotent=False)
        except VenueError as exc:
            if exc.code == ErrorCode.NOT_FOUND:
                return False
            raise
        finally:
            self._latency()
        return True

    def _spawn(self, coro: Any, what: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=f"{self.name} {what}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    # -- internals: dead-man switch ---------------------------------------------------

    @property
    def dead_man_armed(self) -> bool | None:
        """``DeadManSwitched``: a cancel-on-disconnect countdown may still run out."""
        if not self.dead_man_switch_s or self.keys is None:
            return None
        return self._dead_man_set

    async def _cancel_on_disconnect(self, countdown_ms: int) -> None:
        keys = self._need_keys()
        body = {"sub_account_id": keys.trading_account_id, "countdown_time": str(countdown_ms)}
        await self.rest.private("cancel_on_disconnect", body)

    async def _arm_dead_man(self) -> None:
        assert self.dead_man_switch_s
        self._dead_man_set = True  # a countdown that may have landed counts as armed
        await self._cancel_on_disconnect(int(self.dead_man_switch_s * 1000))
        self.dead_man_arms += 1

    async def _dead_man_loop(self) -> None:
        assert self.dead_man_switch_s
        period = max(0.3, self.dead_man_switch_s / 3)
        while not self._closing:
            await asyncio.sleep(period)
            try:
                await self._arm_dead_man()
            except VenueError as exc:
                log.error("%s: refreshing the dead-man switch failed: %s", self.name, exc)

    # -- internals: the sockets -------------------------------------------------------

    def _book_selector(self, symbol: str) -> str:
        return f"{symbol}@{self.book_rate_ms}"

    async def _refetch_book(self, symbol: str) -> None:
        """BookSet's hook: unsubscribe and subscribe; the snapshot comes as a frame."""
        await self.market_ws.resubscribe(BOOK_STREAM, self._book_selector(symbol))

    def _on_ws_state(self, which: str, state: ConnectionState, detail: str) -> None:
        self.stats.reconnects = self.market_ws.reconnects + (
            self.trade_ws.reconnects if self.trade_ws else 0
        )
        before = self._ws_states.get(which)
        self._ws_states[which] = state
        if which == "market" and before is ConnectionState.CONNECTED and state is not before:
            self.books.invalidate_all(f"market websocket {state.value}")
        if which == "market" and state is ConnectionState.CONNECTED:
            self.books.watch_all()  # the resubscribe's snapshots should come by themselves
        needed = ["market"] + (["trade"] if self.trade_ws is not None else [])
        states = [self._ws_states.get(n, ConnectionState.DISCONNECTED) for n in needed]
        if self._closing:
            agg = ConnectionState.CLOSED
        elif all(s is ConnectionState.CONNECTED for s in states):
            agg = ConnectionState.CONNECTED
        elif self._state in (ConnectionState.DISCONNECTED, ConnectionState.CONNECTING):
            agg = ConnectionState.CONNECTING
        else:
            agg = ConnectionState.RECONNECTING
        if agg is self._state:
            if detail and state is ConnectionState.CONNECTED:
                self._events.push(ConnectionChanged(self.name, agg, detail))
            return
        self._state = agg
        self._events.push(ConnectionChanged(self.name, agg, detail))

    def _sync_stats(self) -> None:
        sockets = [self.market_ws] + ([self.trade_ws] if self.trade_ws else [])
        self.stats.frames = sum(ws.frames for ws in sockets)
        self.stats.bad_frames = sum(ws.bad_frames for ws in sockets)

    def _on_frame(self, frame: Frame) -> None:
        """Both sockets' frame handler (recorded frames enter here too)."""
        self.stream.on_frame(frame)


__all__ = ["GrvtConnector", "GrvtUrls", "build_order"]
