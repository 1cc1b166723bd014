"""``BackpackConnector``: the real Backpack Exchange connector (REST + WebSocket).

Point it at loopback with ``rest_url="http://127.0.0.1:PORT"`` and
``ws_url="ws://127.0.0.1:PORT/"``; nothing else changes.

* Book: subscribe ``depth.<sym>``, buffer deltas, fetch ``GET /api/v1/depth``
  (``lastUpdateId`` = L), replay the buffer; each delta is applied with
  ``prev_seq = U - 1, seq = u``, so stale deltas (``u <= seq``) are ignored and
  a gap (``U > seq + 1``) or a crossed book invalidates it -> REST resync.
  A dropped socket invalidates every book until the resync after reconnect.
* Orders: Decimal -> decimal strings on the instrument grid; ``clientId`` is a
  uint32 packed from the core's string id (see ``clientids``).
* Events (``OrderUpdate``, ``Fill``, ``Position``, ``Trade``, ``BookChanged``,
  ``ConnectionChanged``) are queued and flushed with ``call_soon``, never
  inside a call the core made; book changes coalesce per flush.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.backpack.keys import BackpackKeys
from connectors.backpack.rest import BackpackRest
from connectors.backpack.signing import DEFAULT_WINDOW_MS
from connectors.backpack.ws import BackpackWs, Frame
from connectors.base import (
    DUPLICATE_CLIENT_ID,
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
from connectors.common.clientids import ClientIdError, ClientIdMap
from connectors.common.delivery import EventQueue

log = logging.getLogger("connectors.backpack")

ORDER_STREAM = "account.orderUpdate"
POSITION_STREAM = "account.positionUpdate"

_STATUS: dict[str, OrderStatus] = {
    "New": OrderStatus.OPEN,
    "PartiallyFilled": OrderStatus.PARTIALLY_FILLED,
    "Filled": OrderStatus.FILLED,
    "Cancelled": OrderStatus.CANCELLED,
    "Expired": OrderStatus.EXPIRED,
    "TriggerPending": OrderStatus.PENDING,
    "TriggerFailed": OrderStatus.REJECTED,
}
_EVENT_STATUS: dict[str, OrderStatus] = {
    "orderAccepted": OrderStatus.OPEN,
    "orderCancelled": OrderStatus.CANCELLED,
    "orderExpired": OrderStatus.EXPIRED,
    "triggerFailed": OrderStatus.REJECTED,
}
_SIDE = {"Bid": Side.BUY, "Ask": Side.SELL}
_NOT_FOUND = frozenset({"RESOURCE_NOT_FOUND", "http_404"})


# -- pure helpers (tested directly) ------------------------------------------------


def us_to_ms(value: Any) -> int:
    """Backpack µs timestamps (int or string) -> ms; 0 when absent/unreadable."""
    try:
        return int(value) // 1000
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


def levels(raw: Iterable[Any], inst: Instrument) -> list[Level]:
    out: list[Level] = []
    for entry in raw:
        px, qty = entry[0], entry[1]
        out.append((to_units(px, inst.tick_size), to_units(qty, inst.step_size)))
    return out


def decimal_string(value: Decimal, unit: Decimal, what: str) -> str:
    """``value`` as a plain decimal string with ``unit``'s exponent; it must be on the grid."""
    if value % unit != 0:
        raise VenueError(f"{what} {value} is not a multiple of {unit}", code=f"invalid_{what}")
    exp = unit.normalize().as_tuple().exponent
    q = value.quantize(Decimal(1).scaleb(min(int(exp), 0)))
    return format(q, "f")


def build_order_payload(request: OrderRequest, inst: Instrument, client_id: int) -> dict[str, Any]:
    """The ``POST /api/v1/order`` body: decimal strings on the grid, real JSON booleans.

    Booleans are only sent when true (``postOnly``/``reduceOnly``); the signer
    renders them lowercase. ``timeInForce`` goes with limit orders only.
    """
    if request.size <= 0:
        raise VenueError(f"size {request.size} must be positive", code="invalid_quantity")
    if request.size < inst.min_size:
        raise VenueError(
            f"size {request.size} below the minimum {inst.min_size}", code="invalid_quantity"
        )
    body: dict[str, Any] = {
        "symbol": inst.symbol,
        "side": "Bid" if request.side is Side.BUY else "Ask",
        "orderType": "Limit" if request.type is OrderType.LIMIT else "Market",
        "quantity": decimal_string(request.size, inst.step_size, "quantity"),
        "clientId": client_id,
    }
    if request.type is OrderType.LIMIT:
        if request.price is None or request.price <= 0:
            raise VenueError("a limit order needs a positive price", code="invalid_price")
        body["price"] = decimal_string(request.price, inst.tick_size, "price")
        body["timeInForce"] = {
            TimeInForce.GTC: "GTC",
            TimeInForce.IOC: "IOC",
            TimeInForce.FOK: "FOK",
        }[request.time_in_force]
        if request.post_only:
            if request.time_in_force is not TimeInForce.GTC:
                raise VenueError("post-only needs GTC", code="invalid_order")
            body["postOnly"] = True
    if request.reduce_only:
        body["reduceOnly"] = True
    return body


def instrument_from_market(venue: str, m: dict[str, Any]) -> Instrument:
    f = m["filters"]
    qty = f["quantity"]
    step = Decimal(str(qty["stepSize"]))
    return Instrument(
        venue=venue,
        symbol=m["symbol"],
        base=m.get("baseSymbol") or m["symbol"].split("_")[0],
        quote=m.get("quoteSymbol") or "USDC",
        tick_size=Decimal(str(f["price"]["tickSize"])),
        step_size=step,
        min_size=Decimal(str(qty.get("minQuantity") or step)),
        contract_type="perp" if str(m.get("marketType", "")).upper() == "PERP" else "spot",
    )


class DepthSync:
    """U/u continuity for one symbol's book: buffer before the snapshot, then apply.

    Results of ``on_delta``: ``APPLIED``, ``BUFFERED`` (no snapshot yet: fetch one)
    or ``GAP`` (book invalidated: fetch a snapshot).
    """

    APPLIED = "applied"
    BUFFERED = "buffered"
    GAP = "gap"

    def __init__(self, book: OrderBook, max_buffer: int = 5000) -> None:
        self.book = book
        self.max_buffer = max_buffer
        self.buffer: list[tuple[int, int, list[Level], list[Level], int]] = []
        self.dropped = 0

    def on_delta(
        self, first: int, last: int, bids: list[Level], asks: list[Level], ts_ms: int
    ) -> str:
        if not self.book.synced:
            self._buffer((first, last, bids, asks, ts_ms))
            return self.BUFFERED
        if self.book.apply_delta(bids, asks, prev_seq=first - 1, seq=last, ts_ms=ts_ms):
            return self.APPLIED
        # gap or crossed: keep this delta, it may follow the next snapshot
        self.buffer.clear()
        self._buffer((first, last, bids, asks, ts_ms))
        return self.GAP

    def on_snapshot(
        self, bids: list[Level], asks: list[Level], last_update_id: int, ts_ms: int
    ) -> bool:
        """Apply the snapshot and replay buffered deltas; False if still not in sync."""
        self.book.apply_snapshot(bids, asks, last_update_id, ts_ms)
        if not self.book.synced:
            return False
        pending = [d for d in self.buffer if d[1] > last_update_id]
        for i, (first, last, b, a, ts) in enumerate(pending):
            if not self.book.apply_delta(b, a, prev_seq=first - 1, seq=last, ts_ms=ts):
                self.buffer = pending[i:]
                return False
        self.buffer.clear()
        return True

    def reset(self, reason: str) -> None:
        self.book.invalidate(reason)
        self.buffer.clear()

    def _buffer(self, delta: tuple[int, int, list[Level], list[Level], int]) -> None:
        self.buffer.append(delta)
        if len(self.buffer) > self.max_buffer:
            del self.buffer[0]
            self.dropped += 1


# -- the connector ------------------------------------------------------------------


class BackpackConnector:
    def __init__(
        self,
        rest_url: str,
        ws_url: str,
        keys: BackpackKeys | None = None,
        *,
        name: str = "backpack",
        run_prefixes: tuple[str, ...] = (),
        window_ms: int = DEFAULT_WINDOW_MS,
        rest_timeout_s: float = 10.0,
        connect_timeout_s: float = 10.0,
        depth_stream: str = "depth",
        trades: bool = True,
        broker_id: str | None = None,
        rng: random.Random | None = None,
        ws_backoff_base_s: float = 0.5,
        ws_backoff_cap_s: float = 30.0,
        ws_ping_interval_s: float | None = 20.0,
    ) -> None:
        self.name = name
        self.stats = ConnectorStats()
        self.keys = keys
        self.client_ids = ClientIdMap(run_prefixes)
        self.connect_timeout_s = connect_timeout_s
        self.depth_stream = depth_stream
        self.trades = trades
        self._rng = rng or random.Random()
        self.rest = BackpackRest(
            rest_url,
            keys,
            window_ms=window_ms,
            timeout_s=rest_timeout_s,
            broker_id=broker_id,
            venue=name,
        )
        self.ws = BackpackWs(
            ws_url,
            keys,
            self._on_frame,
            self._on_ws_state,
            window_ms=window_ms,
            backoff_base_s=ws_backoff_base_s,
            backoff_cap_s=ws_backoff_cap_s,
            rng=self._rng,
            ping_interval_s=ws_ping_interval_s,
            ping_timeout_s=ws_ping_interval_s,
            venue=name,
        )
        self._events = EventQueue(name, lambda: int(time.time() * 1000))
        self._state = ConnectionState.DISCONNECTED
        self._instruments: dict[str, Instrument] = {}
        self._books: dict[str, OrderBook] = {}
        self._depth: dict[str, DepthSync] = {}
        self._resync_tasks: dict[str, asyncio.Task[None]] = {}
        self._closing = False

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
        except VenueError:
            await self.rest.close()
            raise
        if self.keys is not None:
            await self.ws.subscribe([ORDER_STREAM, POSITION_STREAM])
        self.ws.start()
        try:
            await asyncio.wait_for(self.ws.connected.wait(), self.connect_timeout_s)
        except TimeoutError:
            detail = self.ws.last_error or "no answer"
            await self.close()
            raise VenueError(
                f"{self.name}: websocket did not connect in {self.connect_timeout_s}s ({detail})",
                code="ws_connect",
                retryable=True,
            ) from None

    async def close(self) -> None:
        self._closing = True
        for task in list(self._resync_tasks.values()):
            task.cancel()
        for task in list(self._resync_tasks.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._resync_tasks.clear()
        await self.ws.close()
        await self.rest.close()
        self._state = ConnectionState.CLOSED
        self._events.sink = None

    async def instruments(self) -> dict[str, Instrument]:
        if not self._instruments:
            markets = await self.rest.public("/api/v1/markets")
            found: dict[str, Instrument] = {}
            for m in markets if isinstance(markets, list) else []:
                try:
                    inst = instrument_from_market(self.name, m)
                except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
                    log.warning("%s: market skipped (%r): %s", self.name, exc, m.get("symbol"))
                    continue
                found[inst.symbol] = inst
            self._instruments = found
        return self._instruments

    async def subscribe_books(self, symbols: list[str]) -> None:
        insts = await self.instruments()
        streams: list[str] = []
        fresh: list[str] = []
        for symbol in symbols:
            inst = insts.get(symbol)
            if inst is None:
                raise VenueError(f"{self.name}: unknown symbol {symbol!r}", code="unknown_symbol")
            if symbol in self._books:
                continue
            book = OrderBook(symbol, inst.tick_size, inst.step_size)
            self._books[symbol] = book
            self._depth[symbol] = DepthSync(book)
            streams.append(self._depth_name(symbol))
            if self.trades:
                streams.append(f"trade.{symbol}")
            fresh.append(symbol)
        if streams:
            await self.ws.subscribe(streams)  # deltas buffer from here on
        for symbol in fresh:
            self._resync(symbol)

    def book(self, symbol: str) -> OrderBook | None:
        return self._books.get(symbol)

    async def place(self, request: OrderRequest) -> OrderAck:
        inst = self._instrument(request.symbol)
        try:
            cid = self.client_ids.to_venue(request.client_id)
        except ClientIdError as exc:
            raise VenueError(str(exc), code="invalid_client_id") from None
        body = build_order_payload(request, inst, cid)
        try:
            resp = await self.rest.signed("POST", "/api/v1/order", body=body)
        except VenueError as exc:
            if "duplicate client" in str(exc).lower():
                raise VenueError(str(exc), code=DUPLICATE_CLIENT_ID) from None
            raise
        self._latency()
        if not isinstance(resp, dict):
            raise VenueError(f"{self.name}: unexpected place answer {resp!r}", code="bad_answer")
        status = _STATUS.get(str(resp.get("status")), OrderStatus.OPEN)
        oid = resp.get("id")
        return OrderAck(request.client_id, str(oid) if oid is not None else None, status)

    async def cancel(self, symbol: str, client_id: str) -> bool:
        try:
            cid = self.client_ids.to_venue(client_id)
        except ClientIdError as exc:
            raise VenueError(str(exc), code="invalid_client_id") from None
        return await self._cancel_one(symbol, {"symbol": symbol, "clientId": cid})

    async def cancel_all(
        self, symbol: str | None = None, client_id_prefix: str | None = None
    ) -> int:
        if client_id_prefix is None:
            if symbol is not None:
                symbols = [symbol]
            else:
                symbols = sorted({o.symbol for o in await self.open_orders()})
            count = 0
            for sym in symbols:
                resp = await self.rest.signed("DELETE", "/api/v1/orders", body={"symbol": sym})
                if isinstance(resp, list):
                    count += len(resp)
                    for o in resp:
                        self._queue_order_object(o)
            return count
        count = 0
        for o in await self.open_orders(symbol):
            if o.client_id and o.client_id.startswith(client_id_prefix):
                body = {"symbol": o.symbol, "orderId": o.venue_order_id}
                if await self._cancel_one(o.symbol, body):
                    count += 1
        return count

    async def open_orders(self, symbol: str | None = None) -> list[OpenOrder]:
        resp = await self.rest.signed(
            "GET", "/api/v1/orders", params={"symbol": symbol} if symbol else None
        )
        self._latency()
        out: list[OpenOrder] = []
        for o in resp if isinstance(resp, list) else []:
            try:
                if o.get("price") is None:
                    continue  # trigger/market orders: not resting quotes
                qty = Decimal(str(o["quantity"]))
                done = Decimal(str(o.get("executedQuantity") or "0"))
                out.append(
                    OpenOrder(
                        venue=self.name,
                        symbol=o["symbol"],
                        client_id=self.client_ids.from_venue(o.get("clientId")),
                        venue_order_id=str(o["id"]),
                        side=_SIDE[o["side"]],
                        price=Decimal(str(o["price"])),
                        size=qty,
                        remaining_size=qty - done,
                        post_only=bool(o.get("postOnly")),
                        reduce_only=bool(o.get("reduceOnly")),
                    )
                )
            except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
                log.warning("%s: open order skipped (%r): id=%s", self.name, exc, o.get("id"))
        return out

    async def positions(self) -> list[Position]:
        resp = await self.rest.signed("GET", "/api/v1/position")
        self._latency()
        out: list[Position] = []
        now = int(time.time() * 1000)
        for p in resp if isinstance(resp, list) else []:
            try:
                size = Decimal(str(p["netQuantity"]))
                if size == 0:
                    continue
                out.append(
                    Position(
                        venue=self.name,
                        symbol=p["symbol"],
                        size=size,
                        entry_price=Decimal(str(p.get("entryPrice") or "0")),
                        unrealized_pnl=Decimal(str(p.get("pnlUnrealized") or "0")),
                        realized_pnl=Decimal(str(p.get("pnlRealized") or "0")),
                        ts_ms=now,
                    )
                )
            except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
                log.warning("%s: position skipped (%r): %s", self.name, exc, p.get("symbol"))
        return out

    async def balances(self) -> list[Balance]:
        resp = await self.rest.signed("GET", "/api/v1/capital")
        self._latency()
        out: list[Balance] = []
        for asset, b in (resp or {}).items() if isinstance(resp, dict) else []:
            try:
                available = Decimal(str(b.get("available") or "0"))
                total = (
                    available
                    + Decimal(str(b.get("locked") or "0"))
                    + Decimal(str(b.get("staked") or "0"))
                )
            except (AttributeError, ValueError, ArithmeticError) as exc:
                log.warning("%s: balance %s skipped (%r)", self.name, asset, exc)
                continue
            out.append(Balance(self.name, asset, total, available))
        return out

    async def collateral(self) -> dict[str, Decimal]:
        """Margin summary: the numeric top-level fields of ``/api/v1/capital/collateral``."""
        resp = await self.rest.signed("GET", "/api/v1/capital/collateral")
        out: dict[str, Decimal] = {}
        for key, value in (resp or {}).items() if isinstance(resp, dict) else []:
            if isinstance(value, str | int) and not isinstance(value, bool):
                with contextlib.suppress(ArithmeticError, ValueError):
                    out[key] = Decimal(str(value))
        return out

    # -- internals: requests ---------------------------------------------------------

    def _instrument(self, symbol: str) -> Instrument:
        inst = self._instruments.get(symbol)
        if inst is None:
            raise VenueError(f"{self.name}: unknown symbol {symbol!r}", code="unknown_symbol")
        return inst

    def _latency(self) -> None:
        self.stats.latency_ms = self.rest.latency_ms

    async def _cancel_one(self, symbol: str, body: dict[str, Any]) -> bool:
        try:
            resp = await self.rest.signed("DELETE", "/api/v1/order", body=body)
        except VenueError as exc:
            if exc.code in _NOT_FOUND:
                return False
            raise
        self._latency()
        if isinstance(resp, dict):
            self._queue_order_object(resp)
        return True

    def _queue_order_object(self, o: Any) -> None:
        """A REST order object (cancel answers) as an OrderUpdate; the WS event may repeat it."""
        if not isinstance(o, dict):
            return
        status = _STATUS.get(str(o.get("status")))
        if status is None or not status.is_terminal:
            return
        try:
            qty = Decimal(str(o.get("quantity") or "0"))
            done = Decimal(str(o.get("executedQuantity") or "0"))
        except ArithmeticError:
            return
        self._events.push(
            OrderUpdate(
                venue=self.name,
                symbol=str(o.get("symbol", "")),
                client_id=self.client_ids.from_venue(o.get("clientId")),
                venue_order_id=str(o["id"]) if o.get("id") is not None else None,
                status=status,
                filled_size=done,
                remaining_size=qty - done if qty else None,
                ts_ms=int(time.time() * 1000),
            )
        )

    # -- internals: books ---------------------------------------------------------------

    def _depth_name(self, symbol: str) -> str:
        if self.depth_stream == "depth":
            return f"depth.{symbol}"
        return f"depth.{self.depth_stream}.{symbol}"  # e.g. "200ms"

    def _resync(self, symbol: str) -> None:
        if self._closing:
            return
        task = self._resync_tasks.get(symbol)
        if task is not None and not task.done():
            return
        self._resync_tasks[symbol] = asyncio.get_running_loop().create_task(
            self._resync_loop(symbol), name=f"{self.name} resync {symbol}"
        )

    async def _resync_loop(self, symbol: str) -> None:
        attempt = 0
        sync = self._depth[symbol]
        inst = self._instruments[symbol]
        while not self._closing and not sync.book.synced:
            if attempt:
                await asyncio.sleep(min(5.0, 0.1 * 2 ** min(attempt, 10)))
            attempt += 1
            if not self.ws.connected.is_set():
                continue  # the snapshot is useless without the deltas that follow it
            try:
                snap = await self.rest.public("/api/v1/depth", {"symbol": symbol, "limit": 1000})
                bids = levels(snap["bids"], inst)
                asks = levels(snap["asks"], inst)
                last_id = int(snap["lastUpdateId"])
                ts = us_to_ms(snap.get("timestamp")) or int(time.time() * 1000)
            except VenueError as exc:
                log.warning("%s %s: depth snapshot failed: %s", self.name, symbol, exc)
                continue
            except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
                self.stats.bad_frames += 1
                log.warning("%s %s: bad depth snapshot: %r", self.name, symbol, exc)
                continue
            if sync.on_snapshot(bids, asks, last_id, ts):
                log.info("%s %s: book synced at update id %d", self.name, symbol, sync.book.seq)
            else:
                log.info(
                    "%s %s: snapshot %d not in sync (%s); retrying",
                    self.name,
                    symbol,
                    last_id,
                    sync.book.resync_reason,
                )
            self._events.book_changed(symbol)
        self._resync_tasks.pop(symbol, None)

    # -- internals: stream frames ------------------------------------------------------

    def _on_ws_state(self, state: ConnectionState, detail: str) -> None:
        self.stats.reconnects = self.ws.reconnects
        if state is self._state:
            if detail:  # same state, news worth showing (e.g. a refused private stream)
                self._events.push(ConnectionChanged(self.name, state, detail))
            return
        self._state = state
        if state is not ConnectionState.CONNECTED:
            for symbol, sync in self._depth.items():
                if sync.book.synced:
                    sync.reset(f"websocket {state.value}")
                    self._events.book_changed(symbol)
        else:
            for symbol in self._depth:
                self._resync(symbol)
        self._events.push(ConnectionChanged(self.name, state, detail))

    def _on_frame(self, frame: Frame) -> None:
        """One push from the socket; raising KeyError/ValueError counts it as bad."""
        self.stats.frames = self.ws.frames
        stream, data = frame.stream, frame.data
        if stream.startswith("depth."):
            self._on_depth(data)
        elif stream.startswith(ORDER_STREAM):
            self._on_order_update(data)
        elif stream.startswith(POSITION_STREAM):
            self._on_position(data)
        elif stream.startswith("trade."):
            self._on_trade(data)
        elif stream.startswith("bookTicker."):
            pass  # the depth book is authoritative; the ticker adds nothing we use
        else:
            self.stats.extra["unknown_frames"] = self.stats.extra.get("unknown_frames", 0) + 1
        self.stats.bad_frames = self.ws.bad_frames

    def _on_depth(self, d: dict[str, Any]) -> None:
        symbol = d["s"]
        sync = self._depth.get(symbol)
        if sync is None:
            return
        inst = self._instruments[symbol]
        try:
            first, last = int(d["U"]), int(d["u"])
            bids = levels(d.get("b") or (), inst)
            asks = levels(d.get("a") or (), inst)
        except (KeyError, TypeError, ValueError, IndexError, ArithmeticError) as exc:
            # a delta we cannot read leaves a hole in the book: resync rather than guess
            self.ws.bad_frames += 1
            log.warning("%s %s: unreadable depth delta (%r); resync", self.name, symbol, exc)
            sync.reset(f"unreadable delta: {exc}")
            self.stats.resyncs += 1
            self._events.book_changed(symbol)
            self._resync(symbol)
            return
        ts = us_to_ms(d.get("T") or d.get("E")) or int(time.time() * 1000)
        result = sync.on_delta(first, last, bids, asks, ts)
        if result is DepthSync.APPLIED:
            self._events.book_changed(symbol)
        elif result is DepthSync.GAP:
            self.stats.resyncs += 1
            log.warning("%s %s: book resync (%s)", self.name, symbol, sync.book.resync_reason)
            self._events.book_changed(symbol)
            self._resync(symbol)
        else:
            self._resync(symbol)

    def _on_trade(self, d: dict[str, Any]) -> None:
        # buyer is maker -> the taker sold
        side = Side.SELL if d.get("m") else Side.BUY
        self._events.push(
            Trade(
                self.name,
                d["s"],
                side,
                Decimal(str(d["p"])),
                Decimal(str(d["q"])),
                us_to_ms(d.get("T") or d.get("E")),
            )
        )

    def _on_order_update(self, d: dict[str, Any]) -> None:
        event = d.get("e")
        symbol = d["s"]
        client_id = self.client_ids.from_venue(d.get("c"))
        oid = str(d["i"]) if d.get("i") is not None else None
        ts = us_to_ms(d.get("E") or d.get("T"))
        filled = Decimal(str(d["z"])) if d.get("z") is not None else None
        qty = Decimal(str(d["q"])) if d.get("q") is not None else None
        remaining = qty - filled if qty is not None and filled is not None else None
        if event == "orderFill":
            fill = Fill(
                venue=self.name,
                symbol=symbol,
                client_id=client_id,
                venue_order_id=oid,
                side=_SIDE[d["S"]],
                price=Decimal(str(d["L"])),
                size=Decimal(str(d["l"])),
                fee=Decimal(str(d.get("n") or "0")),
                liquidity=Liquidity.MAKER if d.get("m") else Liquidity.TAKER,
                trade_id=str(d["t"]),
                ts_ms=ts,
            )
            self._events.push(fill)
        status = _STATUS.get(str(d.get("X"))) or _EVENT_STATUS.get(str(event))
        if status is None:
            if event not in ("orderModified", "triggerPlaced"):
                self.stats.extra["unknown_frames"] = self.stats.extra.get("unknown_frames", 0) + 1
            return
        if event == "orderExpired" and status is not OrderStatus.EXPIRED:
            status = OrderStatus.EXPIRED
        elif event == "orderCancelled" and not status.is_terminal:
            status = OrderStatus.CANCELLED
        self._events.push(
            OrderUpdate(
                venue=self.name,
                symbol=symbol,
                client_id=client_id,
                venue_order_id=oid,
                status=status,
                filled_size=filled,
                remaining_size=remaining,
                reason=str(d.get("R") or ""),
                ts_ms=ts,
            )
        )

    def _on_position(self, d: dict[str, Any]) -> None:
        # the snapshot pushed on subscribe has no "e"; updates carry positionOpened/...
        self._events.push(
            Position(
                venue=self.name,
                symbol=d["s"],
                size=Decimal(str(d.get("q") or "0")),
                entry_price=Decimal(str(d.get("B") or "0")),
                unrealized_pnl=Decimal(str(d.get("P") or "0")),
                realized_pnl=Decimal(str(d.get("p") or "0")),
                ts_ms=us_to_ms(d.get("E") or d.get("T")),
            )
        )


__all__ = ["BackpackConnector", "DepthSync", "build_order_payload"]
