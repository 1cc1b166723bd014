"""``GrvtConnector``: the real GRVT connector.

REST goes through grvt-pysdk's ``GrvtRawAsync`` (``rest.GrvtRest``); orders are
signed with the SDK's EIP-712 signer; two WebSockets (``ws.GrvtWs``) carry
market data (``v1.book.d`` snapshot + deltas, ``v1.trade``) and, with the
session cookie on the upgrade, our ``v1.order`` / ``v1.fill`` / ``v1.position``.

Point it at loopback with ``GrvtUrls.single("http://127.0.0.1:PORT",
"ws://127.0.0.1:PORT/ws")``; nothing else changes.

* Book: ``book.d`` sequence numbers: the snapshot is 0, each delta names its
  ``prev_sequence_number``; a gap (or a crossed book) invalidates the book and we
  unsubscribe/subscribe for a fresh snapshot. A dropped market socket
  invalidates every book until the snapshot that follows the reconnect.
* Orders: Decimal -> decimal strings (checked on the tick/step grid), signed
  once per client id: a retry resends the very same signed order, which the
  venue de-duplicates by nonce + payload. ``create_order`` answers PENDING; the
  outcome (OPEN, or REJECTED/FAIL_POST_ONLY for a post-only that would cross)
  comes on ``v1.order`` and reaches the core as an ``OrderUpdate``.
* Reconcile: after every reconnect and every ``reconcile_interval_s`` the
  connector asks REST about orders still PENDING, fills since the start it has
  not seen, and positions (the engine reconciles open orders itself).
* Dead-man's switch: with ``dead_man_switch_s`` the connector keeps GRVT's
  cancel-on-disconnect countdown armed (refreshing it every third of the
  period), so the venue cancels our orders if this process dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from decimal import Decimal, InvalidOperation
from typing import Any

import eth_keys.backends
from pysdk import grvt_raw_types as t
from pysdk.grvt_raw_env import GrvtEnv

from connectors.base import (
    Balance,
    ConnectionChanged,
    ConnectionState,
    ConnectorStats,
    EventSink,
    Fill,
    Instrument,
    Liquidity,
    OpenOrder,
    OrderAck,
    OrderRequest,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Position,
    Side,
    TimeInForce,
    Trade,
    VenueError,
)
from connectors.book import Level, OrderBook
from connectors.common.delivery import EventQueue
from connectors.common.seen import SeenIds
from connectors.grvt import clientids
from connectors.grvt.keys import GrvtKeys
from connectors.grvt.rest import NOT_FOUND, GrvtRest, GrvtUrls
from connectors.grvt.signing import OrderSigner, chain_id, new_nonce, sign
from connectors.grvt.ws import Frame, GrvtWs

log = logging.getLogger("connectors.grvt")

BOOK_STREAM = "v1.book.d"
TRADE_STREAM = "v1.trade"
ORDER_STREAM = "v1.order"
FILL_STREAM = "v1.fill"
POSITION_STREAM = "v1.position"
FILL_OVERLAP_MS = 5_000
"""The REST fill catch-up re-reads this much before the newest fill (ids dedupe)."""

_TIF = {
    TimeInForce.GTC: t.TimeInForce.GOOD_TILL_TIME,
    TimeInForce.IOC: t.TimeInForce.IMMEDIATE_OR_CANCEL,
    TimeInForce.FOK: t.TimeInForce.FILL_OR_KILL,
}
_STATUS = {
    "PENDING": OrderStatus.PENDING,
    "OPEN": OrderStatus.OPEN,
    "FILLED": OrderStatus.FILLED,
    "CANCELLED": OrderStatus.CANCELLED,
    "REJECTED": OrderStatus.REJECTED,
}


# -- pure helpers (tested directly) ------------------------------------------------


def ns_to_ms(value: Any) -> int:
    try:
        return int(value) // 1_000_000
    except (TypeError, ValueError):
        return 0


def to_units(text: Any, unit: Decimal) -> int:
    """A decimal string on the ``unit`` grid -> integer units; ValueError if off-grid."""
    try:
        q = Decimal(str(text)) / unit
    except InvalidOperation:
        raise ValueError(f"not a decimal: {text!r}") from None
    n = int(q)
    if q != n:
        raise ValueError(f"{text} is not a multiple of {unit}")
    return n


def levels(raw: Any, inst: Instrument) -> list[Level]:
    return [
        (to_units(lv["price"], inst.tick_size), to_units(lv["size"], inst.step_size))
        for lv in raw or ()
    ]


def decimal_string(value: Decimal, unit: Decimal, what: str) -> str:
    if value % unit != 0:
        raise VenueError(f"{what} {value} is not a multiple of {unit}", code=f"invalid_{what}")
    return format(value.normalize(), "f")


def instrument_from_sdk(venue: str, i: t.Instrument) -> Instrument:
    """GRVT's instrument -> the core's: tick = tick_size; step and minimum = min_size
    (``base_decimals`` is the signing scale, not the quoting step)."""
    tick = Decimal(i.tick_size)
    step = Decimal(i.min_size)
    if tick <= 0 or step <= 0:
        raise ValueError(f"{i.instrument}: tick_size {i.tick_size} / min_size {i.min_size}")
    return Instrument(
        venue=venue,
        symbol=i.instrument,
        base=i.base,
        quote=i.quote,
        tick_size=tick,
        step_size=step,
        min_size=step,
        contract_type="perp" if i.kind is t.Kind.PERPETUAL else i.kind.value.lower(),
    )


def build_order(
    request: OrderRequest,
    inst: Instrument,
    sub_account_id: str,
    client_order_id: int,
    *,
    expiration_ns: int,
    nonce: int,
) -> t.Order:
    """The unsigned ``Order`` for a request (one leg; validated on the grid)."""
    if request.size <= 0 or request.size < inst.min_size:
        raise VenueError(
            f"size {request.size} below the minimum {inst.min_size}", code="invalid_quantity"
        )
    size = decimal_string(request.size, inst.step_size, "quantity")
    is_market = request.type is OrderType.MARKET
    if is_market:
        price = "0"
        tif = (
            t.TimeInForce.FILL_OR_KILL
            if request.time_in_force is TimeInForce.FOK
            else t.TimeInForce.IMMEDIATE_OR_CANCEL
        )
        if request.post_only:
            raise VenueError("a market order cannot be post-only", code="invalid_order")
    else:
        if request.price is None or request.price <= 0:
            raise VenueError("a limit order needs a positive price", code="invalid_price")
        price = decimal_string(request.price, inst.tick_size, "price")
        tif = _TIF[request.time_in_force]
        if request.post_only and request.time_in_force is not TimeInForce.GTC:
            raise VenueError("post-only needs GTC (good till time)", code="invalid_order")
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


def _first(values: Any, default: str = "0") -> str:
    if isinstance(values, list) and values:
        return str(values[0])
    return default


def order_update(venue: str, o: dict[str, Any]) -> OrderUpdate | None:
    """A GRVT order object (feed or REST) as an ``OrderUpdate``; None while PENDING."""
    state = o.get("state") or {}
    status = _STATUS.get(str(state.get("status")))
    if status is None:
        raise ValueError(f"unknown order status {state.get('status')!r}")
    if status is OrderStatus.PENDING:
        return None
    traded = Decimal(_first(state.get("traded_size")))
    book = Decimal(_first(state.get("book_size")))
    if status is OrderStatus.OPEN and traded > 0:
        status = OrderStatus.PARTIALLY_FILLED
    reason = str(state.get("reject_reason") or "")
    if reason == "UNSPECIFIED":
        reason = ""
    legs = o.get("legs") or [{}]
    return OrderUpdate(
        venue=venue,
        symbol=str(legs[0].get("instrument", "")),
        client_id=clientids.from_venue((o.get("metadata") or {}).get("client_order_id")),
        venue_order_id=str(o["order_id"]) if o.get("order_id") not in (None, "0x00") else None,
        status=status,
        filled_size=traded,
        remaining_size=book,
        reason=reason,
        ts_ms=ns_to_ms(state.get("update_time")),
    )


def fill_event(venue: str, f: dict[str, Any]) -> Fill:
    return Fill(
        venue=venue,
        symbol=str(f["instrument"]),
        client_id=clientids.from_venue(f.get("client_order_id")),
        venue_order_id=str(f["order_id"]) if f.get("order_id") else None,
        side=Side.BUY if f["is_buyer"] else Side.SELL,
        price=Decimal(str(f["price"])),
        size=Decimal(str(f["size"])),
        fee=Decimal(str(f.get("fee") or "0")),
        liquidity=Liquidity.TAKER if f.get("is_taker") else Liquidity.MAKER,
        trade_id=str(f["trade_id"]),
        ts_ms=ns_to_ms(f.get("event_time")),
    )


def position_event(venue: str, p: dict[str, Any]) -> Position:
    return Position(
        venue=venue,
        symbol=str(p["instrument"]),
        size=Decimal(str(p["size"])),
        entry_price=Decimal(str(p.get("entry_price") or "0")),
        unrealized_pnl=Decimal(str(p.get("unrealized_pnl") or "0")),
        realized_pnl=Decimal(str(p.get("realized_pnl") or "0")),
        ts_ms=ns_to_ms(p.get("event_time")),
    )


def _asdict(obj: Any) -> Any:
    """An SDK dataclass as the JSON-like dict the feeds carry (enums as values)."""
    import dataclasses
    import enum

    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _asdict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, list):
        return [_asdict(x) for x in obj]
    if isinstance(obj, enum.Enum):
        return obj.value
    return obj


# -- the connector ------------------------------------------------------------------


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
        reconcile_interval_s: float = 10.0,
        rest_timeout_s: float = 10.0,
        connect_timeout_s: float = 10.0,
        sign_in_thread: bool | None = None,
        sdk_signer: bool = False,
        rng: random.Random | None = None,
        ws_backoff_base_s: float = 0.5,
        ws_backoff_cap_s: float = 30.0,
        ws_ping_interval_s: float | None = 20.0,
    ) -> None:
        self.name = name
        self.stats = ConnectorStats()
        self.keys = keys
        self.urls = urls
        self.env = env
        self.dead_man_switch_s = dead_man_switch_s
        self.book_rate_ms = book_rate_ms
        self.trades = trades
        self.order_ttl_s = order_ttl_s
        self.reconcile_interval_s = reconcile_interval_s
        self.connect_timeout_s = connect_timeout_s
        self.sign_in_thread = (
            (not fast_signing_backend()) if sign_in_thread is None else sign_in_thread
        )
        self.sdk_signer = sdk_signer
        self._signer = OrderSigner(keys.private_key, chain_id(env)) if keys is not None else None
        self._rng = rng or random.Random()
        self.rest = GrvtRest(urls, keys, env=env, venue=name, timeout_s=rest_timeout_s)
        ws_args: dict[str, Any] = {
            "backoff_base_s": ws_backoff_base_s,
            "backoff_cap_s": ws_backoff_cap_s,
            "rng": self._rng,
            "ping_interval_s": ws_ping_interval_s,
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
        self._state = ConnectionState.DISCONNECTED
        self._ws_states: dict[str, ConnectionState] = {}
        self._instruments: dict[str, Instrument] = {}
        self._sdk_instruments: dict[str, t.Instrument] = {}
        self._books: dict[str, OrderBook] = {}
        self._resync_tasks: dict[str, asyncio.Task[None]] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._signed: dict[str, t.Order] = {}
        """client id -> the signed order, until the venue answered (a retry resends it,
        so an attempt that landed unseen is de-duplicated by nonce, never placed twice)."""
        self._pending: dict[str, str] = {}
        """client ids the venue acknowledged as PENDING with no outcome seen yet -> symbol."""
        self._seen_trades = SeenIds()
        self._fills_watermark_ms = 0
        """Newest fill time delivered: the REST catch-up reads from a little before it."""
        self._started_ns = 0
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
        self._started_ns = time.time_ns()
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
        for ws in sockets:
            ws.start()
        try:
            await asyncio.wait_for(
                asyncio.gather(*(ws.connected.wait() for ws in sockets)), self.connect_timeout_s
            )
        except TimeoutError:
            detail = "; ".join(ws.last_error for ws in sockets if ws.last_error) or "no answer"
            await self.close()
            raise VenueError(
                f"{self.name}: websocket did not connect in {self.connect_timeout_s}s ({detail})",
                code="ws_connect",
                retryable=True,
            ) from None
        if self.keys is not None:
            self._spawn(self._reconcile_loop(), "reconcile")
            if self.dead_man_switch_s:
                await self._arm_dead_man()
                self._spawn(self._dead_man_loop(), "dead-man switch")

    async def close(self) -> None:
        self._closing = True
        tasks = list(self._resync_tasks.values()) + list(self._background)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._resync_tasks.clear()
        self._background.clear()
        if self.dead_man_switch_s and self.rest.raw is not None and self.keys is not None:
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
            req = t.ApiGetFilteredInstrumentsRequest(
                kind=[t.Kind.PERPETUAL], is_active=True, limit=1000
            )
            result = await self.rest.call(
                "instruments", lambda raw: raw.get_filtered_instruments_v1(req), auth=False
            )
            found: dict[str, Instrument] = {}
            for i in result or []:
                try:
                    inst = instrument_from_sdk(self.name, i)
                except (ValueError, ArithmeticError, AttributeError) as exc:
                    log.warning("%s: instrument %s skipped: %r", self.name, i.instrument, exc)
                    continue
                found[inst.symbol] = inst
                self._sdk_instruments[inst.symbol] = i
            self._instruments = found
        return self._instruments

    async def subscribe_books(self, symbols: list[str]) -> None:
        insts = await self.instruments()
        for symbol in symbols:
            inst = insts.get(symbol)
            if inst is None:
                raise VenueError(f"{self.name}: unknown symbol {symbol!r}", code="unknown_symbol")
            if symbol in self._books:
                continue
            self._books[symbol] = OrderBook(symbol, inst.tick_size, inst.step_size)
            await self.market_ws.subscribe(BOOK_STREAM, [self._book_selector(symbol)])
            if self.trades:
                await self.market_ws.subscribe(TRADE_STREAM, [f"{symbol}@50"])
            self._watch_resync(symbol)

    def book(self, symbol: str) -> OrderBook | None:
        return self._books.get(symbol)

    async def place(self, request: OrderRequest) -> OrderAck:
        keys = self._need_keys()
        inst = self._instrument(request.symbol)
        order = self._signed.get(request.client_id)
        if order is None:
            try:
                cid = clientids.to_venue(request.client_id)
            except clientids.ClientIdError as exc:
                raise VenueError(str(exc), code="invalid_client_id") from None
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
        req = t.ApiCreateOrderRequest(order=order)
        try:
            result = await self.rest.call(
                "create_order", lambda raw: raw.create_order_v1(req), auth=True
            )
        except VenueError as exc:
            if not exc.retryable:
                self._signed.pop(request.client_id, None)
            raise
        self._signed.pop(request.client_id, None)
        self._latency()
        state = result.state
        status = (
            _STATUS.get(state.status.value, OrderStatus.PENDING) if state else OrderStatus.PENDING
        )
        reason = state.reject_reason.value if state and status is OrderStatus.REJECTED else ""
        oid = result.order_id if result.order_id not in (None, "0x00") else None
        if status is OrderStatus.PENDING:
            self._pending[request.client_id] = request.symbol
        return OrderAck(request.client_id, oid, status, reason)

    async def cancel(self, symbol: str, client_id: str) -> bool:
        keys = self._need_keys()
        try:
            cid = clientids.to_venue(client_id)
        except clientids.ClientIdError as exc:
            raise VenueError(str(exc), code="invalid_client_id") from None
        req = t.ApiCancelOrderRequest(
            sub_account_id=keys.trading_account_id, client_order_id=str(cid)
        )
        try:
            await self.rest.call("cancel_order", lambda raw: raw.cancel_order_v1(req), auth=True)
        except VenueError as exc:
            if exc.code == str(NOT_FOUND):
                return False
            raise
        self._latency()
        return True

    async def cancel_all(
        self, symbol: str | None = None, client_id_prefix: str | None = None
    ) -> int:
        keys = self._need_keys()
        listed = await self.open_orders(symbol)
        if client_id_prefix is None:
            req = t.ApiCancelAllOrdersRequest(sub_account_id=keys.trading_account_id)
            if symbol is not None:
                inst = self._instrument(symbol)
                req.kind = [t.Kind.PERPETUAL]
                req.base = [inst.base]
                req.quote = [inst.quote]
            await self.rest.call(
                "cancel_all_orders", lambda raw: raw.cancel_all_orders_v1(req), auth=True
            )
            return len(listed)
        count = 0
        for o in listed:
            mine = o.client_id is not None and o.client_id.startswith(client_id_prefix)
            if mine and await self.cancel(o.symbol, o.client_id or ""):
                count += 1
        return count

    async def open_orders(self, symbol: str | None = None) -> list[OpenOrder]:
        keys = self._need_keys()
        req = t.ApiOpenOrdersRequest(sub_account_id=keys.trading_account_id)
        if symbol is not None:
            inst = self._instrument(symbol)
            req.kind, req.base, req.quote = [t.Kind.PERPETUAL], [inst.base], [inst.quote]
        result = await self.rest.call("open_orders", lambda raw: raw.open_orders_v1(req), auth=True)
        self._latency()
        out: list[OpenOrder] = []
        for o in result or []:
            try:
                leg = o.legs[0]
                if symbol is not None and leg.instrument != symbol:
                    continue
                size = Decimal(leg.size)
                traded = Decimal(_first(o.state.traded_size)) if o.state else Decimal(0)
                out.append(
                    OpenOrder(
                        venue=self.name,
                        symbol=leg.instrument,
                        client_id=clientids.from_venue(o.metadata.client_order_id),
                        venue_order_id=str(o.order_id),
                        side=Side.BUY if leg.is_buying_asset else Side.SELL,
                        price=Decimal(leg.limit_price or "0"),
                        size=size,
                        remaining_size=size - traded,
                        post_only=bool(o.post_only),
                        reduce_only=bool(o.reduce_only),
                    )
                )
            except (IndexError, AttributeError, ValueError, ArithmeticError) as exc:
                log.warning("%s: open order skipped (%r): %s", self.name, exc, o.order_id)
        return out

    async def positions(self) -> list[Position]:
        keys = self._need_keys()
        req = t.ApiPositionsRequest(sub_account_id=keys.trading_account_id)
        result = await self.rest.call("positions", lambda raw: raw.positions_v1(req), auth=True)
        self._latency()
        out = []
        for p in result or []:
            try:
                pos = position_event(self.name, _asdict(p))
            except (KeyError, ValueError, ArithmeticError) as exc:
                log.warning("%s: position skipped (%r): %s", self.name, exc, p.instrument)
                continue
            if pos.size != 0:
                out.append(pos)
        return out

    async def balances(self) -> list[Balance]:
        summary = await self.account_summary()
        try:
            return [
                Balance(
                    self.name,
                    summary.settle_currency,
                    Decimal(summary.total_equity),
                    Decimal(summary.available_balance),
                )
            ]
        except (ValueError, ArithmeticError) as exc:
            log.warning("%s: account summary unreadable (%r)", self.name, exc)
            return []

    async def account_summary(self) -> t.SubAccount:
        keys = self._need_keys()
        req = t.ApiSubAccountSummaryRequest(sub_account_id=keys.trading_account_id)
        return await self.rest.call(
            "account_summary", lambda raw: raw.sub_account_summary_v1(req), auth=True
        )

    async def fills(self, since_ns: int | None = None, limit: int = 500) -> list[Fill]:
        """Our fills since ``since_ns`` (default: since connect), oldest first."""
        keys = self._need_keys()
        req = t.ApiFillHistoryRequest(
            sub_account_id=keys.trading_account_id,
            start_time=str(since_ns if since_ns is not None else self._started_ns),
            limit=limit,
        )
        result = await self.rest.call(
            "fill_history", lambda raw: raw.fill_history_v1(req), auth=True
        )
        out = []
        for f in result or []:
            try:
                out.append(fill_event(self.name, _asdict(f)))
            except (KeyError, ValueError, ArithmeticError) as exc:
                log.warning("%s: fill skipped (%r)", self.name, exc)
        out.sort(key=lambda f: f.ts_ms)
        return out

    # -- internals: requests -------------------------------------------------------

    def _need_keys(self) -> GrvtKeys:
        if self.keys is None:
            raise VenueError(f"{self.name}: trading needs GRVT keys", code="no_keys")
        return self.keys

    def _instrument(self, symbol: str) -> Instrument:
        inst = self._instruments.get(symbol)
        if inst is None:
            raise VenueError(f"{self.name}: unknown symbol {symbol!r}", code="unknown_symbol")
        return inst

    def _latency(self) -> None:
        self.stats.latency_ms = self.rest.latency_ms

    def _sign_now(self, order: t.Order, account: Any) -> t.Order:
        if self.sdk_signer or self._signer is None:
            return sign(order, self.rest.config, account, self._sdk_instruments)
        return self._signer.sign(order, self._sdk_instruments)

    async def _sign(self, order: t.Order) -> t.Order:
        raw = await self.rest.start()
        started = time.perf_counter()
        if self.sign_in_thread:
            order = await asyncio.to_thread(self._sign_now, order, raw.account)
        else:
            order = self._sign_now(order, raw.account)
        ms = (time.perf_counter() - started) * 1000
        self.signing_ms = ms if self.signing_ms is None else 0.9 * self.signing_ms + 0.1 * ms
        self.stats.extra["signing_ms"] = round(self.signing_ms, 3)
        return order

    def _spawn(self, coro: Any, what: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=f"{self.name} {what}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    # -- internals: reconcile and dead-man switch -------------------------------------

    async def _reconcile_loop(self) -> None:
        while not self._closing:
            await asyncio.sleep(self.reconcile_interval_s)
            await self.reconcile()

    async def reconcile(self) -> None:
        """Ask REST what the streams may have missed: outcomes of PENDING orders,
        fills since connect, positions."""
        keys = self.keys
        if keys is None or self._closing:
            return
        try:
            for client_id in list(self._pending):
                cid = clientids.to_venue(client_id)
                req = t.ApiGetOrderRequest(
                    sub_account_id=keys.trading_account_id, client_order_id=str(cid)
                )
                try:
                    o = await self.rest.call(
                        "order", lambda raw, r=req: raw.get_order_v1(r), auth=True
                    )
                except VenueError as exc:
                    if exc.code == str(NOT_FOUND):
                        self._pending.pop(client_id, None)
                        continue
                    raise
                self._on_order(_asdict(o))
            started_ms = self._started_ns // 1_000_000
            since_ms = max(started_ms, self._fills_watermark_ms - FILL_OVERLAP_MS)
            for fill in await self.fills(since_ns=since_ms * 1_000_000):
                if self._seen_trades.add(fill.trade_id):
                    self.stats.extra["fills_reconciled"] = (
                        self.stats.extra.get("fills_reconciled", 0) + 1
                    )
                    self._deliver_fill(fill)
            for pos in await self.positions():
                self._events.push(pos)
        except VenueError as exc:
            log.warning("%s: reconcile failed: %s", self.name, exc)

    async def _cancel_on_disconnect(self, countdown_ms: int) -> None:
        keys = self._need_keys()
        req = t.ApiCancelOnDisconnectRequest(
            sub_account_id=keys.trading_account_id, countdown_time=str(countdown_ms)
        )
        await self.rest.call(
            "cancel_on_disconnect", lambda raw: raw.cancel_on_disconnect_v1(req), auth=True
        )

    async def _arm_dead_man(self) -> None:
        assert self.dead_man_switch_s
        await self._cancel_on_disconnect(int(self.dead_man_switch_s * 1000))
        self.dead_man_arms += 1

    async def _dead_man_loop(self) -> None:
        assert self.dead_man_switch_s
        period = max(0.5, self.dead_man_switch_s / 3)
        while not self._closing:
            await asyncio.sleep(period)
            try:
                await self._arm_dead_man()
            except VenueError as exc:
                log.error("%s: refreshing the dead-man switch failed: %s", self.name, exc)

    # -- internals: books -------------------------------------------------------------

    def _book_selector(self, symbol: str) -> str:
        return f"{symbol}@{self.book_rate_ms}"

    def _watch_resync(self, symbol: str) -> None:
        """Until the book is synced, ask for a fresh snapshot every few seconds."""
        if self._closing:
            return
        task = self._resync_tasks.get(symbol)
        if task is not None and not task.done():
            return
        self._resync_tasks[symbol] = asyncio.get_running_loop().create_task(
            self._resync_loop(symbol), name=f"{self.name} resync {symbol}"
        )

    async def _resync_loop(self, symbol: str) -> None:
        book = self._books[symbol]
        first = True
        try:
            while not self._closing and not book.synced:
                if not first and self.market_ws.connected.is_set():
                    log.info("%s %s: no snapshot yet; subscribing again", self.name, symbol)
                    await self.market_ws.resubscribe(BOOK_STREAM, self._book_selector(symbol))
                first = False
                for _ in range(30):
                    await asyncio.sleep(0.1)
                    if book.synced or self._closing:
                        break
        finally:
            self._resync_tasks.pop(symbol, None)

    def _resync(self, symbol: str, reason: str) -> None:
        book = self._books[symbol]
        if book.synced:
            book.invalidate(reason)
        self.stats.resyncs += 1
        log.warning("%s %s: book resync (%s)", self.name, symbol, reason)
        self._events.book_changed(symbol)
        if self.market_ws.connected.is_set():
            self._spawn(
                self.market_ws.resubscribe(BOOK_STREAM, self._book_selector(symbol)),
                f"resubscribe {symbol}",
            )
        self._watch_resync(symbol)

    # -- internals: stream frames ---------------------------------------------------

    def _on_ws_state(self, which: str, state: ConnectionState, detail: str) -> None:
        self.stats.reconnects = self.market_ws.reconnects + (
            self.trade_ws.reconnects if self.trade_ws else 0
        )
        before = self._ws_states.get(which)
        self._ws_states[which] = state
        if which == "market" and before is ConnectionState.CONNECTED and state is not before:
            for symbol, book in self._books.items():
                if book.synced:
                    book.invalidate(f"market websocket {state.value}")
                    self._events.book_changed(symbol)
        if which == "market" and state is ConnectionState.CONNECTED:
            for symbol in self._books:
                self._watch_resync(symbol)
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
        was = self._state
        self._state = agg
        if agg is ConnectionState.CONNECTED and was is ConnectionState.RECONNECTING:
            self._spawn(self.reconcile(), "reconcile after reconnect")
        self._events.push(ConnectionChanged(self.name, agg, detail))

    def _sync_stats(self) -> None:
        sockets = [self.market_ws] + ([self.trade_ws] if self.trade_ws else [])
        self.stats.frames = sum(ws.frames for ws in sockets)
        self.stats.bad_frames = sum(ws.bad_frames for ws in sockets)

    def _on_frame(self, frame: Frame) -> None:
        """One push; raising KeyError/ValueError counts it as bad."""
        stream = frame.stream
        try:
            if stream == BOOK_STREAM:
                self._on_book(frame)
            elif stream == TRADE_STREAM:
                self._on_trade(frame.feed)
            elif stream == ORDER_STREAM:
                self._on_order(frame.feed)
            elif stream == FILL_STREAM:
                self._on_fill(frame.feed)
            elif stream == POSITION_STREAM:
                self._events.push(position_event(self.name, frame.feed))
            else:
                self.stats.extra["unknown_frames"] = self.stats.extra.get("unknown_frames", 0) + 1
        finally:
            self._sync_stats()

    def _on_book(self, frame: Frame) -> None:
        feed = frame.feed
        symbol = str(feed["instrument"])
        book = self._books.get(symbol)
        if book is None:
            return
        inst = self._instruments[symbol]
        try:
            bids = levels(feed.get("bids"), inst)
            asks = levels(feed.get("asks"), inst)
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            # a delta we cannot read leaves a hole in the book: resync rather than guess
            self.market_ws.bad_frames += 1
            self._resync(symbol, f"unreadable book frame: {exc}")
            return
        ts = ns_to_ms(feed.get("event_time")) or int(time.time() * 1000)
        if frame.seq == 0:
            book.apply_snapshot(bids, asks, 0, ts)
            if book.synced:
                log.info("%s %s: book snapshot applied", self.name, symbol)
            self._events.book_changed(symbol)
            return
        prev = frame.prev_seq if frame.prev_seq is not None else frame.seq - 1
        if not book.synced:
            return  # waiting for the snapshot
        if book.apply_delta(bids, asks, prev_seq=prev, seq=frame.seq, ts_ms=ts):
            self._events.book_changed(symbol)
        else:
            self._resync(symbol, book.resync_reason)

    def _on_trade(self, d: dict[str, Any]) -> None:
        self._events.push(
            Trade(
                self.name,
                str(d["instrument"]),
                Side.BUY if d.get("is_taker_buyer") else Side.SELL,
                Decimal(str(d["price"])),
                Decimal(str(d["size"])),
                ns_to_ms(d.get("event_time")),
            )
        )

    def _on_order(self, o: dict[str, Any]) -> None:
        update = order_update(self.name, o)
        if update is None:
            return
        if update.client_id is not None:
            self._pending.pop(update.client_id, None)
        self._events.push(update)

    def _on_fill(self, f: dict[str, Any]) -> None:
        fill = fill_event(self.name, f)
        if self._seen_trades.add(fill.trade_id):  # else a REST reconcile delivered it
            self._deliver_fill(fill)

    def _deliver_fill(self, fill: Fill) -> None:
        self._fills_watermark_ms = max(self._fills_watermark_ms, fill.ts_ms)
        self._events.push(fill)


__all__ = ["GrvtConnector", "GrvtUrls", "build_order", "instrument_from_sdk"]
