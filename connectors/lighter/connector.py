"""``LighterConnector``: Lighter's perp DEX through lighter-sdk (signing, sending)
plus our own REST reads and WebSocket.

Point it at loopback with ``url="http://127.0.0.1:PORT"`` and
``ws_url="ws://127.0.0.1:PORT/stream"``; nothing else changes.

* Instruments: ``orderBooks`` + ``orderBookDetails``; tick = 10^-price_decimals,
  step = 10^-size_decimals, minimum size and notional from the venue. The core
  sees Decimal prices and sizes; integers exist only inside this package.
* Orders: ``place`` signs and sends a CreateOrder (see ``tx`` for the nonce
  rules). ``sendTx`` returns no order index: the ack is PENDING and the order's
  fate (open, filled, ``canceled-post-only`` = rejected) arrives on the
  ``account_all_orders`` channel. Client order indexes pack the run prefix and
  counter into 48 bits (``connectors.common.clientids.LIGHTER``); an index already live
  on the account is refused here before it reaches the venue.
* Book: ``order_book/{market}`` snapshot, then deltas whose ``begin_nonce`` must
  equal the last ``nonce``; a gap, an unreadable delta or a crossed book drops
  the book and resubscribes (the venue answers with a new snapshot).
* Fills from ``account_all_trades``, positions from ``account_all_positions``
  (signed sizes), both authenticated with a token minted by the signer and
  renewed before it expires (or at once when the venue refuses it).
* Dead-man's switch: with ``dead_man_switch_s`` set, a scheduled cancel-all is
  armed at connect and pushed forward every third of that period while the
  private stream is up; a clean close aborts it after cancelling our orders.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from dataclasses import replace
from decimal import Decimal
from typing import Any

from connectors.base import (
    DUPLICATE_CLIENT_ID,
    Balance,
    ConnectionChanged,
    ConnectionState,
    ConnectorStats,
    EventSink,
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
)
from connectors.book import OrderBook
from connectors.common.clientids import LIGHTER, ClientIdError, ClientIdMap
from connectors.common.delivery import EventQueue
from connectors.common.seen import SeenIds
from connectors.lighter import wire
from connectors.lighter.keys import LighterKeys
from connectors.lighter.rest import LighterRest
from connectors.lighter.tx import (
    ORDER_EXPIRY_28_DAYS,
    ORDER_EXPIRY_NONE,
    ORDER_TYPE_LIMIT,
    ORDER_TYPE_MARKET,
    TIF_GOOD_TILL_TIME,
    TIF_IOC,
    TIF_POST_ONLY,
    LighterTx,
)
from connectors.lighter.ws import LighterWs

log = logging.getLogger("connectors.lighter")

AUTH_TTL_S = 600
AUTH_RENEW_BEFORE_S = 120
MAX_AUTH_FAILURES = 3
DEAD_MAN_MARGIN_MS = 2000


def _now_ms() -> int:
    return int(time.time() * 1000)


class LighterConnector:
    def __init__(
        self,
        url: str,
        ws_url: str,
        keys: LighterKeys,
        *,
        name: str = "lighter",
        run_prefixes: tuple[str, ...] = (),
        chain_id: int | None = None,
        dead_man_switch_s: float | None = None,
        market_slippage: Decimal = Decimal("0.05"),
        rest_timeout_s: float = 10.0,
        connect_timeout_s: float = 15.0,
        rng: random.Random | None = None,
        ws_backoff_base_s: float = 0.5,
        ws_backoff_cap_s: float = 30.0,
    ) -> None:
        self.name = name
        self.stats = ConnectorStats()
        self.keys = keys
        self.account = keys.account_index
        self.client_ids = ClientIdMap(run_prefixes, layout=LIGHTER)
        self.dead_man_switch_s = dead_man_switch_s
        self.market_slippage = market_slippage
        self.connect_timeout_s = connect_timeout_s
        self.rest = LighterRest(url, timeout_s=rest_timeout_s, venue=name)
        self.tx = LighterTx(url, keys, chain_id=chain_id, timeout_s=rest_timeout_s, venue=name)
        self.ws = LighterWs(
            ws_url,
            self._on_message,
            self._on_ws_state,
            token=self.auth_token,
            on_auth_error=self._on_auth_error,
            backoff_base_s=ws_backoff_base_s,
            backoff_cap_s=ws_backoff_cap_s,
            rng=rng or random.Random(),
            venue=name,
        )
        self._events = EventQueue(name, _now_ms)
        self._state = ConnectionState.DISCONNECTED
        self._markets: dict[str, wire.Market] = {}
        self._by_id: dict[int, wire.Market] = {}
        self._instruments: dict[str, Instrument] = {}
        self._books: dict[str, OrderBook] = {}
        self._token: tuple[str, int] | None = None
        self._auth_failures = 0
        self._auth_retry: asyncio.Task[None] | None = None
        self._live: dict[int, str] = {}
        """Live orders by client order index -> exchange order index (from the venue)."""
        self._seen_trades = SeenIds()
        self._started_ms = 0
        self._dead_man: asyncio.Task[None] | None = None
        self.dead_man_deadline_ms: int | None = None
        self._closing = False

    # -- protocol ---------------------------------------------------------------------

    @property
    def state(self) -> ConnectionState:
        return self._state

    async def connect(self, sink: EventSink) -> None:
        self._events.sink = sink
        self._closing = False
        self._started_ms = _now_ms()
        await self.rest.start()
        try:
            await self.instruments()
            await self.tx.start()
            await self.auth_token()  # a bad key fails here, clearly
        except VenueError:
            await self.rest.close()
            await self.tx.close()
            raise
        acct = self.account
        for channel in (
            f"account_all_orders/{acct}",
            f"account_all_trades/{acct}",
            f"account_all_positions/{acct}",
        ):
            await self.ws.subscribe(channel, private=True)
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
        if self.dead_man_switch_s:
            try:
                await self._arm_dead_man()
            except VenueError as exc:
                await self.close()
                raise VenueError(
                    f"{self.name}: could not arm the dead-man's switch: {exc}", code=exc.code
                ) from None
            self._dead_man = asyncio.get_running_loop().create_task(
                self._dead_man_loop(), name=f"{self.name} dead-man switch"
            )

    async def close(self) -> None:
        self._closing = True
        if self._dead_man is not None:
            self._dead_man.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._dead_man
            self._dead_man = None
            if self.dead_man_deadline_ms is not None and self.tx.client is not None:
                try:
                    await self.tx.abort_scheduled_cancel_all()
                    self.dead_man_deadline_ms = None
                except VenueError as exc:
                    log.warning(
                        "%s: could not abort the scheduled cancel-all (%s); the venue will "
                        "cancel this account's orders at its deadline",
                        self.name,
                        exc,
                    )
        await self.ws.close()
        await self.tx.close()
        await self.rest.close()
        self._state = ConnectionState.CLOSED
        self._events.sink = None

    async def instruments(self) -> dict[str, Instrument]:
        if not self._instruments:
            books = await self.rest.get("/api/v1/orderBooks")
            details = await self.rest.get("/api/v1/orderBookDetails")
            detail_by_id = {
                int(d["market_id"]): d
                for d in details.get("order_book_details") or []
                if isinstance(d, dict) and "market_id" in d
            }
            for b in books.get("order_books") or []:
                try:
                    if (
                        b.get("status", "active") != "active"
                        or b.get("market_type", "perp") != "perp"
                    ):
                        continue
                    m = wire.market_from_wire(b, detail_by_id.get(int(b["market_id"])))
                except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
                    log.warning("%s: market skipped (%r): %s", self.name, exc, b)
                    continue
                self._markets[m.symbol] = m
                self._by_id[m.market_id] = m
                self._instruments[m.symbol] = wire.instrument(self.name, m)
        return self._instruments

    async def subscribe_books(self, symbols: list[str]) -> None:
        await self.instruments()
        for symbol in symbols:
            m = self._market(symbol)
            if symbol in self._books:
                continue
            self._books[symbol] = OrderBook(symbol, m.tick, m.step)
            await self.ws.subscribe(f"order_book/{m.market_id}")
            await self.ws.subscribe(f"trade/{m.market_id}")

    def book(self, symbol: str) -> OrderBook | None:
        return self._books.get(symbol)

    async def place(self, request: OrderRequest) -> OrderAck:
        m = self._market(request.symbol)
        inst = self._instruments[request.symbol]
        index = self._client_index(request.client_id)
        if index in self._live:
            raise VenueError(
                f"{self.name}: client order index {index} of {request.client_id} is already "
                "live on the account",
                code=DUPLICATE_CLIENT_ID,
            )
        if request.size < inst.min_size:
            raise VenueError(
                f"size {request.size} below the minimum {inst.min_size}", code="invalid_size"
            )
        size = wire.base_amount(request.size, m)
        if request.type is OrderType.MARKET:
            price = await self._market_bound(request, m)
            order_type, tif, expiry = ORDER_TYPE_MARKET, TIF_IOC, ORDER_EXPIRY_NONE
        else:
            if request.price is None or request.price <= 0:
                raise VenueError("a limit order needs a positive price", code="invalid_price")
            price = wire.price_int(request.price, m)
            order_type = ORDER_TYPE_LIMIT
            if request.time_in_force is TimeInForce.FOK:
                raise VenueError("Lighter has no fill-or-kill orders", code="invalid_order")
            if request.post_only:
                if request.time_in_force is not TimeInForce.GTC:
                    raise VenueError("post-only needs GTC", code="invalid_order")
                tif, expiry = TIF_POST_ONLY, ORDER_EXPIRY_28_DAYS
            elif request.time_in_force is TimeInForce.IOC:
                tif, expiry = TIF_IOC, ORDER_EXPIRY_NONE
            else:
                tif, expiry = TIF_GOOD_TILL_TIME, ORDER_EXPIRY_28_DAYS
            if request.price * request.size < inst.min_notional:
                raise VenueError(
                    f"notional {request.price * request.size} below the minimum "
                    f"{inst.min_notional}",
                    code="invalid_size",
                )
        started = time.perf_counter()
        await self.tx.create_order(
            market=m.market_id,
            client_index=index,
            base_amount=size,
            price=price,
            is_ask=request.side is Side.SELL,
            order_type=order_type,
            time_in_force=tif,
            reduce_only=request.reduce_only,
            order_expiry=expiry,
        )
        self._latency(started)
        if self.tx.volume_quota_remaining is not None:
            self.stats.extra["volume_quota_remaining"] = self.tx.volume_quota_remaining
        return OrderAck(request.client_id, None, OrderStatus.PENDING)

    async def cancel(self, symbol: str, client_id: str) -> bool:
        m = self._market(symbol)
        index = self._client_index(client_id)
        await self.tx.cancel_order(market=m.market_id, index=index)
        return True

    async def modify(self, symbol: str, client_id: str, size: Decimal, price: Decimal) -> None:
        """Change a resting order's price and *remaining* ``size`` in one transaction
        (no cancel/replace; the order keeps its indexes, loses its queue place)."""
        m = self._market(symbol)
        await self.tx.modify_order(
            market=m.market_id,
            index=self._client_index(client_id),
            base_amount=wire.base_amount(size, m),
            price=wire.price_int(price, m),
        )

    async def cancel_all(
        self, symbol: str | None = None, client_id_prefix: str | None = None
    ) -> int:
        orders = await self.open_orders(symbol)
        if client_id_prefix is None:
            if symbol is None:
                await self.tx.cancel_all()
            else:
                await self.tx.cancel_all(self._market(symbol).market_id)
            return len(orders)
        count = 0
        for o in orders:
            if o.client_id and o.client_id.startswith(client_id_prefix):
                m = self._market(o.symbol)
                await self.tx.cancel_order(market=m.market_id, index=int(o.venue_order_id))
                count += 1
        return count

    async def open_orders(self, symbol: str | None = None) -> list[OpenOrder]:
        params: dict[str, Any] = {"account_index": self.account}
        if symbol is not None:
            params["market_id"] = self._market(symbol).market_id
        resp = await self._private_get("/api/v1/accountActiveOrders", params)
        out: list[OpenOrder] = []
        for o in resp.get("orders") or []:
            try:
                m = self._by_id[int(o["market_index"])]
                if wire.order_status(o).is_terminal:
                    continue
                out.append(wire.open_order(self.name, m.symbol, o, self._decode(o)))
            except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
                log.warning("%s: open order skipped (%r): %s", self.name, exc, o.get("order_index"))
        return out

    async def positions(self) -> list[Position]:
        account = await self._account()
        out: list[Position] = []
        now = _now_ms()
        for p in account.get("positions") or []:
            try:
                m = self._by_id.get(int(p["market_id"]))
                if m is None:
                    continue
                pos = wire.position(self.name, m.symbol, p, now)
            except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
                log.warning("%s: position skipped (%r): %s", self.name, exc, p.get("market_id"))
                continue
            if pos.size != 0:
                out.append(pos)
        return out

    async def balances(self) -> list[Balance]:
        account = await self._account()
        try:
            total = Decimal(str(account.get("total_asset_value") or account.get("collateral")))
            available = Decimal(str(account.get("available_balance") or "0"))
        except ArithmeticError as exc:
            log.warning("%s: balance unreadable (%r)", self.name, exc)
            return []
        return [Balance(self.name, "USDC", total, available)]

    # -- auth -------------------------------------------------------------------------

    async def auth_token(self) -> str:
        """The current auth token, minted anew when it is close to expiry."""
        token = self._token
        if token is None or token[1] - time.time() < AUTH_RENEW_BEFORE_S:
            self._token = token = await self.tx.auth_token(AUTH_TTL_S)
            self.stats.extra["auth_tokens"] = self.stats.extra.get("auth_tokens", 0) + 1
        return token[0]

    def _on_auth_error(self) -> None:
        """The venue refused a private subscription's token: mint one, subscribe again
        (once per episode, however many channels were refused), and give up loudly
        after a few tries: then the key or account index is wrong."""
        self._token = None
        if self._closing or (self._auth_retry is not None and not self._auth_retry.done()):
            return
        self._auth_failures += 1
        if self._auth_failures > MAX_AUTH_FAILURES:
            if self._auth_failures == MAX_AUTH_FAILURES + 1:
                detail = "the venue refuses our auth token: check the API key and account index"
                log.error("%s: %s", self.name, detail)
                self._events.push(ConnectionChanged(self.name, self._state, detail))
            return
        self._auth_retry = asyncio.get_running_loop().create_task(self._resubscribe_private())

    async def _resubscribe_private(self) -> None:
        await asyncio.sleep(0.2 * self._auth_failures)  # let the other refusals arrive first
        await self.ws.resubscribe_private()

    async def _private_get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        for attempt in range(2):
            try:
                resp = await self.rest.get(path, params, auth=await self.auth_token())
            except VenueError as exc:
                if exc.code != "auth":
                    raise
                if attempt == 0:
                    log.info("%s: auth token refused on %s; minting a new one", self.name, path)
                    self._token = None
                    continue
                raise VenueError(
                    f"{exc} (a fresh token was refused too: check the API key and account index)",
                    code="auth",
                ) from None
            self._latency_from_rest()
            return resp
        raise AssertionError("unreachable")

    async def _account(self) -> dict[str, Any]:
        resp = await self.rest.get("/api/v1/account", {"by": "index", "value": self.account})
        self._latency_from_rest()
        accounts = resp.get("accounts") or []
        if not accounts:
            raise VenueError(f"{self.name}: account {self.account} not found", code="no_account")
        return accounts[0]

    # -- dead-man's switch -----------------------------------------------------------

    async def _arm_dead_man(self) -> None:
        assert self.dead_man_switch_s is not None
        # a little margin: the venue measures "at least 5 min ahead" when it applies the tx
        deadline = _now_ms() + int(self.dead_man_switch_s * 1000) + DEAD_MAN_MARGIN_MS
        await self.tx.schedule_cancel_all(deadline)
        self.dead_man_deadline_ms = deadline
        self.stats.extra["dead_man_pushes"] = self.stats.extra.get("dead_man_pushes", 0) + 1

    async def _dead_man_loop(self) -> None:
        assert self.dead_man_switch_s is not None
        period = self.dead_man_switch_s / 3
        while True:
            await asyncio.sleep(period)
            if not self.ws.connected.is_set():
                # blind: let the deadline run; the venue cancels if we stay blind
                log.warning("%s: dead-man's switch not pushed: stream down", self.name)
                continue
            try:
                await self._arm_dead_man()
            except VenueError as exc:
                log.error("%s: dead-man's switch push failed: %s", self.name, exc)

    # -- internals --------------------------------------------------------------------

    def _market(self, symbol: str) -> wire.Market:
        m = self._markets.get(symbol)
        if m is None:
            raise VenueError(f"{self.name}: unknown symbol {symbol!r}", code="unknown_symbol")
        return m

    def _client_index(self, client_id: str) -> int:
        try:
            return self.client_ids.to_venue(client_id)
        except ClientIdError as exc:
            raise VenueError(str(exc), code="invalid_client_id") from None

    def _decode(self, o: dict[str, Any]) -> str | None:
        index = wire.client_index(o)
        return self.client_ids.from_venue(index) if index is not None else None

    def _latency(self, started: float) -> None:
        self.stats.latency_ms = (time.perf_counter() - started) * 1000

    def _latency_from_rest(self) -> None:
        self.stats.latency_ms = self.rest.latency_ms

    async def _market_bound(self, request: OrderRequest, m: wire.Market) -> int:
        """The worst price a market order accepts (Lighter requires one)."""
        if request.price is not None and request.price > 0:
            return wire.price_int(request.price, m)
        book = self._books.get(m.symbol)
        ref: Decimal | None = None
        if book is not None and book.synced:
            ref = book.best_ask() if request.side is Side.BUY else book.best_bid()
        if ref is None:
            resp = await self.rest.get("/api/v1/orderBookDetails", {"market_id": m.market_id})
            details = resp.get("order_book_details") or []
            if details:
                ref = Decimal(str(details[0].get("last_trade_price") or "0")) or None
        if ref is None:
            raise VenueError(
                f"{self.name}: no price to bound a market order on {m.symbol}", code="no_price"
            )
        factor = 1 + self.market_slippage if request.side is Side.BUY else 1 - self.market_slippage
        bound = (ref * factor).quantize(m.tick)
        return wire.price_int(max(bound, m.tick), m)

    # -- stream messages --------------------------------------------------------------

    def _on_ws_state(self, state: ConnectionState, detail: str) -> None:
        self.stats.reconnects = self.ws.reconnects
        if state is ConnectionState.CONNECTED and detail == self.ws.url:
            self._auth_failures = 0
        if state is self._state:
            if detail:
                self._events.push(ConnectionChanged(self.name, state, detail))
            return
        self._state = state
        if state is not ConnectionState.CONNECTED:
            for symbol, book in self._books.items():
                if book.synced:
                    book.invalidate(f"websocket {state.value}")
                    self._events.book_changed(symbol)
        self._events.push(ConnectionChanged(self.name, state, detail))

    def _on_message(self, msg: dict[str, Any]) -> None:
        self.stats.frames = self.ws.frames
        kind = str(msg.get("type", ""))
        stage, _, channel_kind = kind.partition("/")
        if stage not in ("subscribed", "update"):
            self.stats.extra["unknown_frames"] = self.stats.extra.get("unknown_frames", 0) + 1
            return
        snapshot = stage == "subscribed"
        if channel_kind == "order_book":
            self._on_book(msg, snapshot)
        elif channel_kind == "trade":
            self._on_public_trades(msg)
        elif channel_kind in ("account_all_orders", "account_orders"):
            self._on_orders(msg)
        elif channel_kind == "account_all_trades":
            self._on_fills(msg, snapshot)
        elif channel_kind == "account_all_positions":
            self._on_positions(msg)
        else:
            self.stats.extra["unknown_frames"] = self.stats.extra.get("unknown_frames", 0) + 1
        self.stats.bad_frames = self.ws.bad_frames

    def _channel_market(self, msg: dict[str, Any]) -> wire.Market | None:
        parts = str(msg.get("channel", "")).split(":")
        if len(parts) < 2:
            raise ValueError(f"channel {msg.get('channel')!r} names no market")
        return self._by_id.get(int(parts[1]))

    def _on_book(self, msg: dict[str, Any], snapshot: bool) -> None:
        m = self._channel_market(msg)
        if m is None:
            return
        book = self._books.get(m.symbol)
        if book is None:
            return
        try:
            ob = msg["order_book"]
            nonce, begin = int(ob["nonce"]), int(ob["begin_nonce"])
            bids = wire.levels(ob.get("bids"), m)
            asks = wire.levels(ob.get("asks"), m)
        except (KeyError, TypeError, ValueError, ArithmeticError, VenueError) as exc:
            self.ws.bad_frames += 1
            self._resync(book, f"unreadable book message: {exc!r}")
            return
        ts = int(msg.get("timestamp") or 0) or _now_ms()
        if snapshot:
            book.apply_snapshot(bids, asks, nonce, ts)
            if not book.synced:
                self._resync(book, book.resync_reason)
                return
            log.info("%s %s: book synced at nonce %d", self.name, m.symbol, nonce)
        else:
            if not book.synced:
                return  # waiting for the snapshot of our resubscribe
            if nonce <= book.seq:
                return  # stale or repeated
            if begin != book.seq:
                self._resync(book, f"nonce gap: expected begin {book.seq}, got {begin}")
                return
            if not book.apply_delta(bids, asks, prev_seq=begin, seq=nonce, ts_ms=ts):
                self._resync(book, book.resync_reason or "delta not applicable")
                return
        self._events.book_changed(m.symbol)

    def _resync(self, book: OrderBook, reason: str) -> None:
        if book.synced:
            book.invalidate(reason)
        self.stats.resyncs += 1
        log.warning("%s %s: book dropped (%s); resubscribing", self.name, book.symbol, reason)
        self._events.book_changed(book.symbol)
        m = self._markets[book.symbol]
        if not self._closing:
            asyncio.get_running_loop().create_task(self.ws.resubscribe(f"order_book/{m.market_id}"))

    def _on_public_trades(self, msg: dict[str, Any]) -> None:
        m = self._channel_market(msg)
        if m is None or m.symbol not in self._books:
            return
        for t in msg.get("trades") or []:
            self._events.push(wire.public_trade(self.name, m.symbol, t))

    def _on_orders(self, msg: dict[str, Any]) -> None:
        orders = msg.get("orders") or {}
        now = _now_ms()
        for market_key, items in orders.items():
            m = self._by_id.get(int(market_key))
            if m is None:
                continue
            for o in items or []:
                try:
                    update = wire.order_update(self.name, m.symbol, o, self._decode(o), now)
                except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
                    self._bad_item("order", exc, o)  # its siblings still count
                    continue
                index = wire.client_index(o)
                if update.status is OrderStatus.REJECTED and index in self._live:
                    # it rested first: a modify made it cross (post-only) -> cancelled
                    update = replace(update, status=OrderStatus.CANCELLED)
                if index is not None:
                    if update.status.is_terminal:
                        self._live.pop(index, None)
                    else:
                        self._live[index] = str(o["order_index"])
                ts = int(o.get("updated_at") or 0)
                if ts:
                    # the venue stamps seconds; keep ms for the core
                    update = replace(update, ts_ms=ts * 1000 if ts < 10**12 else ts)
                self._events.push(update)

    def _on_fills(self, msg: dict[str, Any], snapshot: bool) -> None:
        trades = msg.get("trades") or {}
        for market_key, items in trades.items():
            m = self._by_id.get(int(market_key))
            if m is None:
                continue
            for t in items or []:
                trade_id = str(t.get("trade_id_str") or t.get("trade_id"))
                if snapshot and int(t.get("timestamp") or 0) < self._started_ms:
                    continue  # before this session: the journal has those
                if not self._seen_trades.add(trade_id):
                    continue  # a snapshot after a reconnect repeats what we have
                try:
                    fills = wire.account_fills(
                        self.name, m.symbol, t, self.account, self.client_ids.from_venue
                    )
                except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
                    self._bad_item("trade", exc, t)
                    continue
                for fill in fills:
                    self._events.push(fill)

    def _on_positions(self, msg: dict[str, Any]) -> None:
        positions = msg.get("positions") or {}
        now = _now_ms()
        for market_key, p in positions.items():
            m = self._by_id.get(int(market_key))
            if m is None or not isinstance(p, dict):
                continue
            try:
                self._events.push(wire.position(self.name, m.symbol, p, now))
            except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
                self._bad_item("position", exc, p)

    def _bad_item(self, what: str, exc: Exception, item: Any) -> None:
        self.ws.bad_frames += 1
        self.stats.bad_frames = self.ws.bad_frames
        ident = item.get("order_index") or item.get("trade_id") if isinstance(item, dict) else None
        log.warning("%s: unreadable %s skipped (%r): %s", self.name, what, exc, ident)


__all__ = ["LighterConnector"]
