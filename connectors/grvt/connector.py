"""``GrvtConnector``: the real GRVT connector.

REST runs on the shared ``HttpClient`` (``rest.GrvtRest``) and answers are read
by our own tolerant parsing (``parse``); orders are built with grvt-pysdk's
types and signed with its EIP-712 message builder (``signing.OrderSigner``); two
WebSockets (``ws.GrvtWs``) carry market data (``v1.book.d`` snapshot + deltas,
``v1.trade``) and, with the session cookie on the upgrade, our ``v1.order`` /
``v1.fill`` / ``v1.position``. Sources for every behaviour: docs/venues/grvt.md.

Point it at loopback with ``GrvtUrls.single("http://127.0.0.1:PORT",
"ws://127.0.0.1:PORT/ws")``; nothing else changes.

* Book (``v1.book.d``): the snapshot comes with sequence number 0; deltas carry
  the gateway's running number (the subscribe ack announces the first one). The
  first delta after a snapshot is taken as it comes; from then on each delta's
  ``prev_sequence_number`` must be the last number seen (a repeat is ignored); a
  gap, a crossed book or an unreadable frame resyncs the book through the shared
  ``BookSet`` (one paced resubscribe per symbol).
* Orders: Decimal -> decimal strings on the tick/step grid, limit orders checked
  against ``min_notional``, signed once per client id (a resend after a refusal
  that left nothing behind is the very same signed order, which GRVT would drop
  as a duplicate of nonce + payload). ``create_order`` answers PENDING; the
  outcome comes on ``v1.order``. A place whose answer is lost, timed out or 5xx
  has an unknown outcome: the core looks the order up, the connector never
  resends it by itself.
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
from collections.abc import AsyncIterator, Mapping
from typing import Any

import eth_keys.backends
from pysdk import grvt_raw_types as t
from pysdk.grvt_raw_env import GrvtEnv

from connectors.base import (
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
    OrderType,
    Position,
    Side,
    TimeInForce,
    VenueError,
    VenueOrder,
)
from connectors.book import OrderBook
from connectors.common.books import BookSet
from connectors.common.delivery import EventQueue
from connectors.common.units import decimal_string
from connectors.common.wsclient import WsSettings
from connectors.grvt import clientids, parse
from connectors.grvt.keys import GrvtKeys
from connectors.grvt.parse import SigningAsset, Unreadable
from connectors.grvt.rest import GrvtRest, GrvtUrls
from connectors.grvt.signing import OrderSigner, chain_id, new_nonce, sign
from connectors.grvt.ws import Frame, GrvtWs

log = logging.getLogger("connectors.grvt")

BOOK_STREAM = "v1.book.d"
BOOK_SNAPSHOT_STREAM = "v1.book.s"
TRADE_STREAM = "v1.trade"
ORDER_STREAM = "v1.order"
FILL_STREAM = "v1.fill"
POSITION_STREAM = "v1.position"
PAGE_LIMIT = 1000
"""GRVT's largest page (``limit``: default 500, max 1000)."""
MAX_PAGES = 1000
MIN_DEAD_MAN_S = 1.0
"""GRVT rounds a countdown of 0..1000 ms to 0: the switch would be off."""

_TIF = {
    TimeInForce.GTC: t.TimeInForce.GOOD_TILL_TIME,
    TimeInForce.IOC: t.TimeInForce.IMMEDIATE_OR_CANCEL,
    TimeInForce.FOK: t.TimeInForce.FILL_OR_KILL,
}


def build_order(
    request: OrderRequest,
    inst: Instrument,
    sub_account_id: str,
    client_order_id: int,
    *,
    expiration_ns: int,
    nonce: int,
) -> t.Order:
    """The unsigned ``Order`` for a request (one leg; checked on the grid and, for a
    limit order, against the instrument's minimum notional)."""
    if request.size <= 0 or request.size < inst.min_size:
        raise VenueError(
            f"size {request.size} below the minimum {inst.min_size}", code=ErrorCode.INVALID_SIZE
        )
    size = decimal_string(request.size, inst.step_size, "size")
    is_market = request.type is OrderType.MARKET
    if is_market:
        price = "0"
        tif = (
            t.TimeInForce.FILL_OR_KILL
            if request.time_in_force is TimeInForce.FOK
            else t.TimeInForce.IMMEDIATE_OR_CANCEL
        )
        if request.post_only:
            raise VenueError("a market order cannot be post-only", code=ErrorCode.INVALID_ORDER)
    else:
        if request.price is None or request.price <= 0:
            raise VenueError("a limit order needs a positive price", code=ErrorCode.INVALID_PRICE)
        price = decimal_string(request.price, inst.tick_size, "price")
        tif = _TIF[request.time_in_force]
        if request.post_only and request.time_in_force is not TimeInForce.GTC:
            raise VenueError("post-only needs GTC (good till time)", code=ErrorCode.INVALID_ORDER)
        if request.price * request.size < inst.min_notional:
            raise VenueError(
                f"notional {request.price * request.size} below the minimum {inst.min_notional}",
                code=ErrorCode.MIN_NOTIONAL,
            )
    return t.Order(
        sub_account_id=sub_account_id,
        time_in_force=tif,
        legs=[
            t.OrderLeg(
                instrument=inst.symbol,
                size=size,
                is_buying_asset=request.side is Side.BUY,
                limit_price=price,
            )
        ],
        signature=t.Signature(
            signer="", r="", s="", v=0, expiration=str(expiration_ns), nonce=nonce
        ),
        metadata=t.OrderMetadata(client_order_id=str(client_order_id)),
        is_market=is_market,
        post_only=request.post_only,
        reduce_only=request.reduce_only,
    )


def fast_signing_backend() -> bool:
    """True when eth-keys signs with libsecp256k1 (coincurve): under a millisecond."""
    return type(eth_keys.backends.get_backend()).__name__ == "CoinCurveECCBackend"


def _result(answer: Any, endpoint: str, venue: str, *, place: bool = False) -> Any:
    if not isinstance(answer, Mapping) or "result" not in answer:
        raise parse.answer_error(venue, endpoint, Unreadable("result", "missing"), place=place)
    return answer["result"]


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
        self.lookup_window_s = lookup_window_s
        self.sign_in_thread = (
            (not fast_signing_backend()) if sign_in_thread is None else sign_in_thread
        )
        self.sdk_signer = sdk_signer
        self._signer = OrderSigner(keys.private_key, chain_id(env)) if keys is not None else None
        self._rng = rng or random.Random()
        self.rest = GrvtRest(urls, keys, venue=name, timeout_s=rest_timeout_s)
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
        self._state = ConnectionState.DISCONNECTED
        self._ws_states: dict[str, ConnectionState] = {}
        self._instruments: dict[str, Instrument] = {}
        self._assets: dict[str, SigningAsset] = {}
        self._first_delta: set[str] = set()
        """Symbols whose last snapshot has not been followed by a delta yet."""
        self._background: set[asyncio.Task[Any]] = set()
        self._signed: dict[str, t.Order] = {}
        """client id -> the signed order until the venue took or refused it: sending it
        again is the very same payload and nonce (GRVT ignores such a duplicate)."""
        self._closing = False
        self.dead_man_arms = 0
        self.signing_ms: float | None = None

    # -- protocol ---------------------------------------------------------------------

    @property
    def state(self) -> ConnectionState:
        return self._state

    async def connect(self, sink: EventSink) -> None:
        self._events.sink = sink
        self._closing = False
        await self.rest.start()
        try:
            await self.instruments()
            if self.keys is not None:
                await self.rest.ensure_session()
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
            with contextlib.suppress(VenueError):
                await self._cancel_on_disconnect(0)
        await self.market_ws.close()
        if self.trade_ws is not None:
            await self.trade_ws.close()
        await self.rest.close()
        self._state = ConnectionState.CLOSED
        self._events.sink = None

    async def instruments(self) -> dict[str, Instrument]:
        if not self._instruments:
            body = {"kind": ["PERPETUAL"], "is_active": True, "limit": PAGE_LIMIT}
            answer = await self.rest.public("instruments", body)
            try:
                entries = parse.items(_result(answer, "instruments", self.name), "result")
            except Unreadable as exc:
                raise parse.answer_error(self.name, "instruments", exc) from None
            found: dict[str, Instrument] = {}
            for entry in entries:
                try:
                    inst, asset = parse.instrument(self.name, entry)
                except Unreadable as exc:
                    self.stats.extra["bad_instruments"] = (
                        self.stats.extra.get("bad_instruments", 0) + 1
                    )
                    log.warning("%s: instruments: entry skipped: %s", self.name, exc)
                    continue
                if inst.contract_type != "perp":
                    continue
                found[inst.symbol] = inst
                self._assets[inst.symbol] = asset
            if not found:
                raise VenueError(
                    f"{self.name}: instruments: no perpetual could be read",
                    code=ErrorCode.BAD_ANSWER,
                )
            self._instruments = found
        return self._instruments

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
        inst = self._instrument(request.symbol)
        order = self._signed.get(request.client_id)
        if order is None:
            cid = int(self.venue_client_id(request.client_id))
            order = build_order(
                request,
                inst,
                keys.trading_account_id,
                cid,
                expiration_ns=time.time_ns() + int(self.order_ttl_s * 1e9),
                nonce=new_nonce(),
            )
            order = await self._sign(order)
            if len(self._signed) >= 10_000:  # places the gateway gave up on: forget the oldest
                del self._signed[next(iter(self._signed))]
            self._signed[request.client_id] = order
        try:
            answer = await self.rest.private("create_order", {"order": order}, idempotent=False)
        except VenueError as exc:
            if not exc.retryable and not exc.outcome_unknown:
                self._signed.pop(request.client_id, None)
            raise
        finally:
            self._latency()
        self._signed.pop(request.client_id, None)
        try:
            placed = parse.order(_result(answer, "create_order", self.name, place=True), "result")
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
                body |= self._filter(symbol)
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
        keys = self._need_keys()
        body: dict[str, Any] = {"sub_account_id": keys.trading_account_id}
        if symbol is not None:
            body |= self._filter(symbol)
        answer = await self.rest.private("open_orders", body)
        self._latency()
        try:
            entries = parse.items(_result(answer, "open_orders", self.name), "result")
            listed = [parse.order(o, f"result[{i}]") for i, o in enumerate(entries)]
            return [
                parse.open_order(self.name, o)
                for o in listed
                if symbol is None or o.symbol == symbol
            ]
        except Unreadable as exc:
            raise parse.answer_error(self.name, "open_orders", exc) from None

    async def lookup_order(self, symbol: str, client_id: str) -> VenueOrder | None:
        """``full/v1/order`` by ``client_order_id``; when GRVT does not know the id there
        (it promises client ids unique among active orders only), the order history of
        the last ``lookup_window_s`` is searched before answering None."""
        keys = self._need_keys()
        wire = self.venue_client_id(client_id)
        body = {"sub_account_id": keys.trading_account_id, "client_order_id": wire}
        try:
            answer = await self.rest.private("order", body)
        except VenueError as exc:
            if exc.code != ErrorCode.NOT_FOUND:
                raise
            return await self._lookup_history(symbol, wire)
        try:
            found = parse.order(_result(answer, "order", self.name), "result")
        except Unreadable as exc:
            raise parse.answer_error(self.name, "order", exc) from None
        return parse.venue_order(self.name, found)

    async def fills_since(self, since_ms: int, symbol: str | None = None) -> list[Fill]:
        """``full/v1/fill_history`` from ``since_ms``, every page (``next`` cursor)."""
        keys = self._need_keys()
        body: dict[str, Any] = {
            "sub_account_id": keys.trading_account_id,
            "start_time": str(max(0, since_ms) * 1_000_000),
            "limit": PAGE_LIMIT,
        }
        if symbol is not None:
            body |= self._filter(symbol)
        fills: dict[tuple[str, Side], Fill] = {}
        async for i, entry in self._pages("fill_history", body):
            try:
                fill = parse.fill(self.name, entry, f"result[{i}]")
            except Unreadable as exc:
                raise parse.answer_error(self.name, "fill_history", exc) from None
            if fill.ts_ms >= since_ms and (symbol is None or fill.symbol == symbol):
                fills[(fill.trade_id, fill.side)] = fill
        return sorted(fills.values(), key=lambda f: f.ts_ms)

    async def positions(self) -> list[Position]:
        keys = self._need_keys()
        answer = await self.rest.private("positions", {"sub_account_id": keys.trading_account_id})
        self._latency()
        try:
            entries = parse.items(_result(answer, "positions", self.name), "result")
            out = [parse.position(self.name, p, f"result[{i}]") for i, p in enumerate(entries)]
        except Unreadable as exc:
            raise parse.answer_error(self.name, "positions", exc) from None
        return [p for p in out if p.size != 0]

    async def balances(self) -> list[Balance]:
        summary = await self.account_summary()
        try:
            return [
                Balance(
                    self.name,
                    parse.text(summary, "settle_currency", "result"),
                    parse.number(summary, "total_equity", "result"),
                    parse.number(summary, "available_balance", "result"),
                )
            ]
        except Unreadable as exc:
            raise parse.answer_error(self.name, "account_summary", exc) from None

    async def account_summary(self) -> Mapping[str, Any]:
        keys = self._need_keys()
        answer = await self.rest.private(
            "account_summary", {"sub_account_id": keys.trading_account_id}
        )
        try:
            return parse.obj(_result(answer, "account_summary", self.name), "result")
        except Unreadable as exc:
            raise parse.answer_error(self.name, "account_summary", exc) from None

    # -- internals: requests -------------------------------------------------------

    def _need_keys(self) -> GrvtKeys:
        if self.keys is None:
            raise VenueError(f"{self.name}: trading needs GRVT keys", code=ErrorCode.NO_KEYS)
        return self.keys

    def _instrument(self, symbol: str) -> Instrument:
        inst = self._instruments.get(symbol)
        if inst is None:
            raise VenueError(
                f"{self.name}: unknown symbol {symbol!r}", code=ErrorCode.UNKNOWN_SYMBOL
            )
        return inst

    def _filter(self, symbol: str) -> dict[str, Any]:
        """GRVT's instrument filter (kind/base/quote lists) for one symbol."""
        inst = self._instrument(symbol)
        return {"kind": ["PERPETUAL"], "base": [inst.base], "quote": [inst.quote]}

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

    async def _pages(
        self, endpoint: str, body: Mapping[str, Any]
    ) -> AsyncIterator[tuple[int, Any]]:
        """Every entry of a paged history answer, following ``next`` to the end."""
        cursor = ""
        cursors: set[str] = set()
        for _ in range(MAX_PAGES):
            answer = await self.rest.private(endpoint, dict(body, cursor=cursor))
            try:
                entries = parse.items(_result(answer, endpoint, self.name), "result")
                nxt = answer.get("next") or ""
                if not isinstance(nxt, str):
                    raise Unreadable("next", f"{nxt!r} is not a cursor")
            except Unreadable as exc:
                raise parse.answer_error(self.name, endpoint, exc) from None
            for i, entry in enumerate(entries):
                yield i, entry
            if not nxt:
                return
            if nxt in cursors:
                raise VenueError(
                    f"{self.name}: {endpoint}: the next cursor repeats ({nxt[:40]})",
                    code=ErrorCode.BAD_ANSWER,
                )
            cursors.add(nxt)
            cursor = nxt
        raise VenueError(
            f"{self.name}: {endpoint}: more than {MAX_PAGES} pages", code=ErrorCode.BAD_ANSWER
        )

    async def _lookup_history(self, symbol: str, wire: str) -> VenueOrder | None:
        keys = self._need_keys()
        since_ns = time.time_ns() - int(self.lookup_window_s * 1e9)
        body: dict[str, Any] = {
            "sub_account_id": keys.trading_account_id,
            "start_time": str(max(0, since_ns)),
            "limit": PAGE_LIMIT,
        }
        if symbol in self._instruments:
            body |= self._filter(symbol)
        async for i, entry in self._pages("order_history", body):
            try:
                o = parse.order(entry, f"result[{i}]")
            except Unreadable as exc:
                raise parse.answer_error(self.name, "order_history", exc) from None
            if o.raw_client_id == wire:
                return parse.venue_order(self.name, o)
        return None

    def _sign_now(self, order: t.Order) -> t.Order:
        if self.sdk_signer or self._signer is None:
            from eth_account import Account
            from pysdk.grvt_raw_base import GrvtApiConfig

            keys = self._need_keys()
            config = GrvtApiConfig(self.env, keys.trading_account_id, keys.private_key, None, log)
            return sign(order, config, Account.from_key(keys.private_key), self._assets)
        return self._signer.sign(order, self._assets)

    async def _sign(self, order: t.Order) -> t.Order:
        started = time.perf_counter()
        if self.sign_in_thread:
            order = await asyncio.to_thread(self._sign_now, order)
        else:
            order = self._sign_now(order)
        ms = (time.perf_counter() - started) * 1000
        self.signing_ms = ms if self.signing_ms is None else 0.9 * self.signing_ms + 0.1 * ms
        self.stats.extra["signing_ms"] = round(self.signing_ms, 3)
        return order

    def _spawn(self, coro: Any, what: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=f"{self.name} {what}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    # -- internals: dead-man switch ---------------------------------------------------

    async def _cancel_on_disconnect(self, countdown_ms: int) -> None:
        keys = self._need_keys()
        body = {"sub_account_id": keys.trading_account_id, "countdown_time": str(countdown_ms)}
        await self.rest.private("cancel_on_disconnect", body)

    async def _arm_dead_man(self) -> None:
        assert self.dead_man_switch_s
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

    # -- internals: books -------------------------------------------------------------

    def _book_selector(self, symbol: str) -> str:
        return f"{symbol}@{self.book_rate_ms}"

    async def _refetch_book(self, symbol: str) -> None:
        """BookSet's hook: unsubscribe and subscribe; the snapshot comes as a frame."""
        await self.market_ws.resubscribe(BOOK_STREAM, self._book_selector(symbol))

    def _check_first(self, frame: Frame) -> None:
        """Diagnostics only: does the first delta carry the number the subscribe ack
        announced? (Counted, never acted on: the rule is to take the first delta.)"""
        acked = self.market_ws.acked.get((frame.stream, frame.selector))
        if acked is not None and frame.seq != acked[0]:
            self.stats.extra["first_delta_not_acked"] = (
                self.stats.extra.get("first_delta_not_acked", 0) + 1
            )
            log.info(
                "%s %s: first delta after the snapshot is %d, the ack announced %d",
                self.name,
                frame.selector,
                frame.seq,
                acked[0],
            )

    # -- internals: stream frames ---------------------------------------------------

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
        """One push; raising KeyError/ValueError (``Unreadable``) counts it as bad."""
        stream = frame.stream
        try:
            if stream in (BOOK_STREAM, BOOK_SNAPSHOT_STREAM):
                self._on_book(frame)
            elif stream == TRADE_STREAM:
                if frame.seq != 0:  # 0: the replay of recent trades a subscribe brings
                    self._events.push(parse.trade(self.name, frame.feed))
            elif stream == ORDER_STREAM:
                update = parse.order_update(self.name, parse.order(frame.feed, "feed"))
                if update is not None:
                    self._events.push(update)
            elif stream == FILL_STREAM:
                self._events.push(parse.fill(self.name, frame.feed, "feed"))
            elif stream == POSITION_STREAM:
                self._events.push(parse.position(self.name, frame.feed, "feed"))
            else:
                self.stats.extra["unknown_frames"] = self.stats.extra.get("unknown_frames", 0) + 1
        finally:
            self._sync_stats()

    def _on_book(self, frame: Frame) -> None:
        feed = frame.feed
        symbol = str(feed.get("instrument") or frame.selector.partition("@")[0])
        book = self.books.get(symbol)
        if book is None:
            return
        snapshot = frame.seq == 0 or frame.stream == BOOK_SNAPSHOT_STREAM
        try:
            bids = parse.book_side(
                feed.get("bids"), book.tick_size, book.step_size, "feed.bids", snapshot=snapshot
            )
            asks = parse.book_side(
                feed.get("asks"), book.tick_size, book.step_size, "feed.asks", snapshot=snapshot
            )
        except Unreadable as exc:
            # a frame we cannot read leaves a hole in the book: resync rather than guess
            self.market_ws.bad_frames += 1
            self.books.resync(symbol, f"unreadable book frame: {exc}")
            return
        ts = parse.ns_ms(feed, "event_time") or int(time.time() * 1000)
        if snapshot:
            book.apply_snapshot(bids, asks, 0, ts)
            self._first_delta.add(symbol)
            if not book.synced:  # a crossed snapshot
                self.books.resync(symbol, book.resync_reason)
                return
            self.books.changed(symbol)
            return
        if not book.synced:
            return  # waiting for the snapshot
        if symbol in self._first_delta:
            # the first delta after a snapshot carries the gateway's running number
            self._first_delta.discard(symbol)
            self._check_first(frame)
            prev = book.seq
        elif frame.seq <= book.seq:
            return  # a repeat (GRVT: duplicates are possible; ignore them)
        elif frame.prev_seq != book.seq:
            self.books.resync(
                symbol, f"sequence gap: expected prev {book.seq}, got {frame.prev_seq}"
            )
            return
        else:
            prev = frame.prev_seq
        if book.apply_delta(bids, asks, prev_seq=prev, seq=frame.seq, ts_ms=ts):
            self.books.changed(symbol)
        else:
            self.books.resync(symbol, book.resync_reason)


__all__ = ["GrvtConnector", "GrvtUrls", "build_order"]
