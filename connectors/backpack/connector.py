"""``BackpackConnector``: the real Backpack Exchange connector (REST + WebSocket).

Point it at loopback with ``rest_url="http://127.0.0.1:PORT"`` and
``ws_url="ws://127.0.0.1:PORT/"``; nothing else changes.

* Books: ``depth.<sym>`` deltas bridged to a REST snapshot (``depth.DepthSync``),
  kept in the shared ``BookSet`` (one paced resync task per symbol).
* Orders: Decimal -> decimal strings on the grid; ``clientId`` is a uint32 packed
  from the core's id (``connectors.common.clientids``). The uint32 space has no
  mark only we use, so the connector never decides that an order is ours by its
  form: it lists every order with the raw id the venue gave (``venue_client_id``)
  and decodes it to a core id only for a run prefix it knows. ``cancel_all``
  cancels only orders this connector placed.
* Recovery is the core's: ``lookup_order`` (resting order, else the order
  history), ``fills_since`` (the fill history, every page) and ``open_orders``.
  The connector runs no reconcile loop of its own.
* Events (``OrderUpdate``, ``Fill``, ``Position``, ``Trade``, ``BookChanged``,
  ``ConnectionChanged``) are queued and flushed with ``call_soon``, never inside a
  call the core made; book changes coalesce per flush.

Where each behaviour comes from: ``docs/venues/backpack.md``.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from collections import OrderedDict
from decimal import Decimal
from typing import Any

from connectors.backpack import wire
from connectors.backpack.account import account_state
from connectors.backpack.depth import DepthSync
from connectors.backpack.keys import BackpackKeys
from connectors.backpack.rest import PAGE_LIMIT, BackpackRest
from connectors.backpack.signing import DEFAULT_WINDOW_MS
from connectors.backpack.stream import ORDER_STREAM, POSITION_STREAM, BackpackStream
from connectors.backpack.ws import BackpackWs, Frame
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
from connectors.common.badframes import UNREADABLE
from connectors.common.books import BookSet
from connectors.common.clientids import ClientIdError, ClientIdMap
from connectors.common.delivery import EventQueue
from connectors.common.retry import startup_read
from connectors.common.units import BadNumber, parse_decimal
from connectors.common.wsclient import WsSettings

log = logging.getLogger("connectors.backpack")

LOOKUP_MARGIN_MS = 300_000
"""How far before we sent an order the order history is read back when looking it
up (covers clock skew between us and the venue)."""
SENT_MEMORY = 200_000


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
        lookup_max_pages: int = 20,
    ) -> None:
        self.name = name
        self.stats = ConnectorStats()
        self.keys = keys
        self.client_ids = ClientIdMap(run_prefixes)
        self.connect_timeout_s = connect_timeout_s
        self.depth_stream = depth_stream
        self.trades = trades
        self.lookup_max_pages = lookup_max_pages
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
            settings=WsSettings(
                backoff_base_s=ws_backoff_base_s,
                backoff_cap_s=ws_backoff_cap_s,
                ping_interval_s=ws_ping_interval_s,
                ping_timeout_s=ws_ping_interval_s,
            ),
            rng=rng or random.Random(),
            clock_ms=self.rest.now_ms,
            venue=name,
            stats=self.stats,
        )
        self._events = EventQueue(name, self.rest.now_ms)
        self.books = BookSet(
            name,
            refetch=self._refetch,
            on_change=self._events.book_changed,
            is_connected=self.ws.connected.is_set,
            stats=self.stats,
            min_gap_s=0.5,
            settle_s=2.0,
        )
        self.ws.liveness = self.books.liveness  # its frames and pongs keep the books fresh
        self._depth: dict[str, DepthSync] = {}
        self._state = ConnectionState.DISCONNECTED
        self._instruments: dict[str, Instrument] = {}
        self.stream = BackpackStream(
            name,
            rest=self.rest,
            books=self.books,
            depth=self._depth,
            instruments=lambda: self._instruments,
            core_id=self._core_id,
            events=self._events,
            stats=self.stats,
        )
        self._sent: OrderedDict[int, int] = OrderedDict()
        """Venue client ids this connector placed -> local ms when sent (the proof an
        order is ours for ``cancel_all``, and where a lookup's history read may stop)."""

    # -- protocol ---------------------------------------------------------------------

    @property
    def state(self) -> ConnectionState:
        return self._state

    async def connect(self, sink: EventSink) -> None:
        """Time, markets and (with keys) the key check — each retried on a transient
        error (``startup_read``) — then the socket."""
        self._events.sink = sink
        await self.rest.start()
        try:
            await startup_read(self.name, "the venue's time", self.rest.sync_time)
        except VenueError as exc:
            log.warning("%s: no venue time (%s); signing with the local clock", self.name, exc)
        try:
            await startup_read(self.name, "the markets", self.instruments)
            if self.keys is not None:
                await self._check_key()
        except VenueError:
            await self.rest.close()
            raise
        if self.keys is not None:
            await self.ws.subscribe([ORDER_STREAM, POSITION_STREAM])
        try:
            await self.ws.start_and_wait(self.connect_timeout_s)
        except VenueError:
            await self.close()
            raise

    async def _check_key(self) -> None:
        """One cheap signed read (``GET /api/v1/capital``, ``balanceQuery``): a key the
        venue refuses fails the start here with one line — instead of a run that places
        nothing for its whole duration. Backpack refuses a request it cannot
        authenticate with ``INVALID_CLIENT_REQUEST`` and "Invalid signature" / "Invalid
        X-Signature header" / "Request has expired" (its support FAQ, "What are the
        common errors": support.backpack.exchange/exchange/api-and-developer-docs/faqs),
        answered with HTTP 401 (a balanceQuery's "401 (Unauthorized) Request has
        expired", catsats/backpack_exchange issues 4 and 16); the emulator answers
        401 ``UNAUTHORIZED`` "Unknown API key". Either is a refused key."""
        try:
            await startup_read(
                self.name, "the key check", lambda: self.rest.signed("GET", "/api/v1/capital")
            )
        except VenueError as exc:
            if exc.code != ErrorCode.AUTH and not _auth_refusal(exc):
                raise
            detail = " ".join(str(exc).removeprefix(f"{self.name}: ").split())[:300]
            raise VenueError(
                f"{self.name}: the venue refused the API key ({detail}); check key_file",
                code=ErrorCode.AUTH,
                venue_code=exc.venue_code,
            ) from None

    async def close(self) -> None:
        await self.books.close()
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
                    inst = wire.instrument_from_market(self.name, m)
                except UNREADABLE as exc:
                    log.warning("%s: market skipped (%r): %.80s", self.name, exc, m)
                    continue
                if inst is not None:
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
                raise VenueError(
                    f"{self.name}: unknown symbol {symbol!r}", code=ErrorCode.UNKNOWN_SYMBOL
                )
            if symbol in self.books:
                continue
            self._depth[symbol] = DepthSync(self.books.add(inst))
            streams.append(self._depth_name(symbol))
            if self.trades:
                streams.append(f"trade.{symbol}")
            fresh.append(symbol)
        if streams:
            await self.ws.subscribe(streams)  # deltas buffer from here on
        for symbol in fresh:
            self.books.watch(symbol, refetch_now=True)

    def book(self, symbol: str) -> OrderBook | None:
        return self.books.get(symbol)

    async def place(self, request: OrderRequest) -> OrderAck:
        inst = self._instrument(request.symbol)
        cid = self._venue_cid(request.client_id)
        body = wire.build_order_payload(request, inst, cid)
        self._remember_sent(cid)
        resp = await self.rest.signed("POST", "/api/v1/order", body=body)
        self._latency()
        if not isinstance(resp, dict) or resp.get("id") is None:
            # the venue took the request: whether an order exists is not known
            raise VenueError(
                f"{self.name}: unreadable place answer {str(resp)[:200]!r}",
                code=ErrorCode.BAD_ANSWER,
                outcome_unknown=True,
            )
        # The answer as the venue gave it ("New" -> open, with its order id). The core
        # does not take it as proof the order rests: a venue can take an order and never
        # report it again; until the stream's orderAccepted (or a fill, or the core's
        # lookup by client id) shows it, the core keeps asking.
        status = wire.STATUS.get(str(resp.get("status")), OrderStatus.PENDING)
        return OrderAck(request.client_id, str(resp["id"]), status)

    async def cancel(self, symbol: str, client_id: str) -> bool:
        cid = self._venue_cid(client_id)
        return await self._cancel_one({"symbol": symbol, "clientId": cid})

    async def cancel_all(
        self, symbol: str | None = None, client_id_prefix: str | None = None
    ) -> int:
        """Cancel the orders this connector placed (on ``symbol``, whose core id starts
        with the prefix, when given), one by one by order id. Never the venue's
        cancel-all: it would take other tools' orders on the account with it."""
        count = 0
        for o in await self.open_orders(symbol):
            if o.venue_client_id is None or int(o.venue_client_id) not in self._sent:
                continue
            if client_id_prefix is not None and not (o.client_id or "").startswith(
                client_id_prefix
            ):
                continue
            if await self._cancel_one({"symbol": o.symbol, "orderId": o.venue_order_id}):
                count += 1
        return count

    async def open_orders(self, symbol: str | None = None) -> list[OpenOrder]:
        resp = await self.rest.signed(
            "GET", "/api/v1/orders", params={"symbol": symbol} if symbol else None
        )
        self._latency()
        out: list[OpenOrder] = []
        for o in self._items(resp, "/api/v1/orders"):
            try:
                listed = wire.open_order(self.name, o, self._core_id)
            except UNREADABLE as exc:
                log.error("%s: open order unreadable (%r): %.200s", self.name, exc, o)
                continue
            if listed is not None:
                out.append(listed)
        return out

    async def lookup_order(self, symbol: str, client_id: str) -> VenueOrder | None:
        cid = self._venue_cid(client_id)
        try:
            resp = await self.rest.signed(
                "GET", "/api/v1/order", params={"symbol": symbol, "clientId": cid}
            )
        except VenueError as exc:
            if exc.code != ErrorCode.NOT_FOUND:
                raise
        else:
            return self._looked_up(resp, client_id)
        # not resting: the order history (newest first) is the only place left
        sent = self._sent.get(cid)
        horizon = None if sent is None else sent + self.rest.offset_ms - LOOKUP_MARGIN_MS
        offset = 0
        for _ in range(self.lookup_max_pages):
            params = {"symbol": symbol, "limit": PAGE_LIMIT, "offset": offset}
            answer = await self.rest.answer(
                "GET",
                "/wapi/v1/history/orders",
                params=params | {"sortDirection": "Desc"},
                signed=True,
            )
            batch = self._items(answer.payload, "/wapi/v1/history/orders")
            for o in batch:
                if wire.raw_client_id(o.get("clientId")) == str(cid):
                    return self._looked_up(o, client_id)
            offset += len(batch)
            if len(batch) < PAGE_LIMIT:
                return None  # the whole history read: the venue does not know the id
            oldest = wire.iso_ms(batch[-1].get("createdAt"))
            if horizon is not None and 0 < oldest < horizon:
                return None  # read back to before we sent it
        raise VenueError(
            f"{self.name}: {client_id} not found in {self.lookup_max_pages} pages of history",
            code=ErrorCode.UNKNOWN_OUTCOME,
            retryable=True,
        )

    async def fills_since(self, since_ms: int, symbol: str | None = None) -> list[Fill]:
        params: dict[str, Any] = {"from": max(0, since_ms), "sortDirection": "Asc"}
        if symbol is not None:
            params["symbol"] = symbol
        items, _ = await self.rest.pages("/wapi/v1/history/fills", params)
        self._latency()
        fills: dict[str, Fill] = {}
        for f in items:
            try:
                fill = wire.parse_fill(
                    wire.HISTORY_FILL, self.name, f, self._core_id, self._instruments.get
                )
            except UNREADABLE as exc:
                self.stats.extra["bad_history_fills"] = (
                    self.stats.extra.get("bad_history_fills", 0) + 1
                )
                log.error("%s: fill history item unreadable (%r): %.200s", self.name, exc, f)
                continue
            fills.setdefault(fill.trade_id, fill)  # pages may overlap: once each
        return sorted(fills.values(), key=lambda f: f.ts_ms)

    def venue_client_id(self, client_id: str) -> str:
        return str(self._venue_cid(client_id))

    async def positions(self) -> list[Position]:
        resp = await self.rest.signed("GET", "/api/v1/position")
        self._latency()
        now = self.rest.now_ms()
        out: list[Position] = []
        for p in self._items(resp, "/api/v1/position"):
            try:
                pos = wire.position_from_rest(self.name, p, now)
            except UNREADABLE as exc:
                raise VenueError(
                    f"{self.name}: position unreadable ({exc!r}): {str(p)[:200]}",
                    code=ErrorCode.BAD_ANSWER,
                ) from None
            if pos.size != 0:
                out.append(pos)
        return out

    async def balances(self) -> list[Balance]:
        resp = await self.rest.signed("GET", "/api/v1/capital")
        self._latency()
        out: list[Balance] = []
        for asset, b in resp.items() if isinstance(resp, dict) else []:
            try:
                available = wire.opt_dec(b.get("available"), "available")
                total = (
                    available
                    + wire.opt_dec(b.get("locked"), "locked")
                    + wire.opt_dec(b.get("staked"), "staked")
                )
            except UNREADABLE as exc:
                log.warning("%s: balance %s skipped (%r)", self.name, asset, exc)
                continue
            out.append(Balance(self.name, str(asset), total, available))
        return out

    async def read_account(self, symbols: list[str]) -> AccountState:
        """Collateral, positions and the funding of the markets (``account.py``)."""
        collateral = await self.rest.signed("GET", "/api/v1/capital/collateral")
        positions = self._items(
            await self.rest.signed("GET", "/api/v1/position"), "/api/v1/position"
        )
        marks = await self.rest.public("/api/v1/markPrices")
        self._latency()
        if not isinstance(collateral, dict):
            raise VenueError(
                f"{self.name}: collateral answered {type(collateral).__name__}",
                code=ErrorCode.BAD_ANSWER,
            )
        try:
            return account_state(
                self.name, collateral, positions, marks, symbols, self.rest.now_ms()
            )
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise VenueError(
                f"{self.name}: account unreadable ({exc!r})", code=ErrorCode.BAD_ANSWER
            ) from None

    async def collateral(self) -> dict[str, Decimal]:
        """Margin summary: the numeric top-level fields of ``/api/v1/capital/collateral``."""
        resp = await self.rest.signed("GET", "/api/v1/capital/collateral")
        out: dict[str, Decimal] = {}
        for key, value in resp.items() if isinstance(resp, dict) else []:
            if isinstance(value, str | int) and not isinstance(value, bool):
                try:
                    out[key] = parse_decimal(value, key)
                except BadNumber:
                    continue
        return out

    # -- internals: ids and requests -----------------------------------------------------

    def _venue_cid(self, client_id: str) -> int:
        """A core id, or a raw venue id as the venue listed it, as the uint32 to send."""
        if client_id.isdigit():
            n = int(client_id)
            if n < 2**32:
                return n
        try:
            return self.client_ids.to_venue(client_id)
        except ClientIdError as exc:
            raise VenueError(str(exc), code=ErrorCode.INVALID_CLIENT_ID) from None

    def _core_id(self, raw: str | None) -> str | None:
        """A raw venue client id -> our core id when it carries a run prefix we know;
        otherwise the raw id itself (another tool's, or an earlier run's: the core
        proves ownership against its journal, never by the form)."""
        if raw is None:
            return None
        decoded = self.client_ids.from_venue(int(raw))
        if decoded is None or decoded.startswith("mm~"):
            return raw
        return decoded

    def _remember_sent(self, cid: int) -> None:
        self._sent[cid] = int(time.time() * 1000)
        self._sent.move_to_end(cid)
        while len(self._sent) > SENT_MEMORY:
            self._sent.popitem(last=False)

    def _instrument(self, symbol: str) -> Instrument:
        inst = self._instruments.get(symbol)
        if inst is None:
            raise VenueError(
                f"{self.name}: unknown symbol {symbol!r}", code=ErrorCode.UNKNOWN_SYMBOL
            )
        return inst

    def _latency(self) -> None:
        self.stats.latency_ms = self.rest.latency_ms

    def _items(self, resp: Any, what: str) -> list[dict[str, Any]]:
        if not isinstance(resp, list):
            raise VenueError(
                f"{self.name}: {what} answered {type(resp).__name__}, not a list",
                code=ErrorCode.BAD_ANSWER,
            )
        return [o for o in resp if isinstance(o, dict)]

    def _looked_up(self, o: Any, client_id: str) -> VenueOrder:
        try:
            found = wire.venue_order(self.name, o, self._core_id)
        except UNREADABLE as exc:
            raise VenueError(
                f"{self.name}: order unreadable ({exc!r}): {str(o)[:200]}",
                code=ErrorCode.BAD_ANSWER,
            ) from None
        return dataclasses.replace(found, client_id=client_id)

    async def _cancel_one(self, body: dict[str, Any]) -> bool:
        try:
            answer = await self.rest.answer("DELETE", "/api/v1/order", body=body, signed=True)
        except VenueError as exc:
            if exc.code == ErrorCode.NOT_FOUND:
                return False
            raise
        self._latency()
        if answer.status == 202 or not isinstance(answer.payload, dict):
            return True  # "accepted but not yet executed": the stream reports the outcome
        try:
            update = wire.order_update(self.name, answer.payload, self._core_id, self.rest.now_ms())
        except UNREADABLE:
            return True
        if update.status.is_terminal:
            self._events.push(update)  # the stream may repeat it
        return update.status is OrderStatus.CANCELLED

    # -- internals: books ---------------------------------------------------------------

    def _depth_name(self, symbol: str) -> str:
        if self.depth_stream == "depth":
            return f"depth.{symbol}"
        return f"depth.{self.depth_stream}.{symbol}"  # e.g. "200ms"

    async def _refetch(self, symbol: str) -> None:
        """The BookSet's hook: a REST snapshot, bridged to the buffered deltas."""
        await self.stream.refetch(symbol)

    # -- internals: stream frames ------------------------------------------------------

    def _on_ws_state(self, state: ConnectionState, detail: str) -> None:
        self.stats.reconnects = self.ws.reconnects
        if state is self._state:
            if detail:  # same state, news worth showing (e.g. a refused private stream)
                self._events.push(ConnectionChanged(self.name, state, detail))
            return
        self._state = state
        if state is ConnectionState.CONNECTED:
            self.books.watch_all(refetch_now=True)
        else:
            for sync in self._depth.values():
                sync.buffer.clear()
                sync.pending = None
            self.books.invalidate_all(f"websocket {state.value}")
        self._events.push(ConnectionChanged(self.name, state, detail))

    def _on_frame(self, frame: Frame) -> None:
        """One push from the socket (``stream``); raising counts it as bad."""
        self.stream.on_frame(frame)


AUTH_WORDS = ("signature", "api key", "expired")


def _auth_refusal(exc: VenueError) -> bool:
    """A refusal of the request's authentication that came without a 401/403 status:
    Backpack's generic ``INVALID_CLIENT_REQUEST`` naming the signature, key or window."""
    text = str(exc).lower()
    return exc.venue_code == "INVALID_CLIENT_REQUEST" and any(w in text for w in AUTH_WORDS)


__all__ = ["BackpackConnector"]
