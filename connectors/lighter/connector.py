"""``LighterConnector``: Lighter's perp DEX through lighter-sdk (signing, sending)
plus our own REST reads and WebSocket, on the common layer (``connectors.common``).

Point it at loopback with ``url="http://127.0.0.1:PORT"`` and
``ws_url="ws://127.0.0.1:PORT/stream"``; nothing else changes. Every behaviour and its
source is listed in docs/venues/lighter.md.

* Instruments: ``orderBookDetails`` (active perps); tick = 10^-price_decimals,
  step = 10^-size_decimals, minimum size and notional from the venue.
* Orders: ``place`` signs and sends a CreateOrder (see ``tx`` for the nonce rules and
  what a lost answer means). ``sendTx`` returns no order index: the ack is PENDING and
  the order's fate arrives on ``account_all_orders``. Our client order index packs the
  run prefix and counter into 48 bits (``clientids.LIGHTER``); it is what
  ``venue_client_id`` and ``OpenOrder.venue_client_id`` show.
* Looking orders up: ``accountOrders`` by client order index, then the market's
  ``accountActiveOrders`` and ``accountInactiveOrders`` pages (``next_cursor``).
* Fill history: ``trades`` for the account, newest first, every page back to the asked
  time. Stream and history build fills with the same function (same trade ids).
* Book: ``order_book/{market}`` snapshot, then deltas whose ``begin_nonce`` must equal
  the last ``nonce``; a gap, an unreadable delta or a crossed book resyncs through the
  ``BookSet`` (unsubscribe + subscribe: the venue answers with a new snapshot).
* Private streams ``account_all_orders``, ``account_all_trades``,
  ``account_all_positions`` with an auth token minted by the signer and renewed before it
  expires (or at once when the venue refuses it).
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
from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal
from typing import Any

from connectors.base import (
    Balance,
    ConnectionChanged,
    ConnectionState,
    ConnectorStats,
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
    VenueOrder,
)
from connectors.book import OrderBook
from connectors.common.books import BookSet
from connectors.common.clientids import LIGHTER, ClientIdError, ClientIdMap
from connectors.common.delivery import EventQueue
from connectors.common.errors import ErrorCode, VenueError
from connectors.common.seen import SeenIds
from connectors.common.units import epoch_ms, optional_decimal
from connectors.common.wsclient import WsSettings
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
PAGE = 100
"""The venue's largest page of ``trades`` / ``accountInactiveOrders`` (NautilusTrader:
a larger ``limit`` is refused with 20001)."""
INACTIVE_PAGES = 20
"""How far back a lookup reads a market's inactive orders before it says it cannot tell."""
TX_TTL_MS = 600_000
"""A transaction the sequencer has not executed by its ``ExpiredAt`` (the signer sets
now + 10 min) never will be."""
LOOKUP_PATIENCE_S = 3.0
"""How long a lookup waits for our own queued create to execute before it says it cannot
tell (a Standard account's orders execute in ~200-300 ms: NautilusTrader's tier table)."""


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
        self.rest = LighterRest(url, token=self._token, timeout_s=rest_timeout_s, venue=name)
        self.tx = LighterTx(url, keys, chain_id=chain_id, timeout_s=rest_timeout_s, venue=name)
        self.ws = LighterWs(
            ws_url,
            self._on_message,
            self._on_ws_state,
            token=self.auth_token,
            on_auth_error=self._on_auth_error,
            on_frame=self._count_frames,
            settings=WsSettings(backoff_base_s=ws_backoff_base_s, backoff_cap_s=ws_backoff_cap_s),
            rng=rng or random.Random(),
            venue=name,
        )
        self._events = EventQueue(name, _now_ms)
        self.books = BookSet(
            name,
            refetch=self._refetch_book,
            on_change=self._events.book_changed,
            is_connected=self.ws.connected.is_set,
            stats=self.stats,
        )
        self._state = ConnectionState.DISCONNECTED
        self._markets: dict[str, wire.Market] = {}
        self._by_id: dict[int, wire.Market] = {}
        self._instruments: dict[str, Instrument] = {}
        self._token_cache: tuple[str, int] | None = None
        self._auth_failures = 0
        self._auth_retry: asyncio.Task[None] | None = None
        self._live: dict[int, set[str]] = {}
        """Client order index -> the exchange order indexes the stream shows live."""
        self._in_flight: dict[int, tuple[int, int | None]] = {}
        """Client order index -> (when we sent its create in ms, its nonce), until the
        stream shows the order."""
        self._order_markets: set[int] = set()
        """Markets where the account's order stream showed orders (ours or not)."""
        self._orders_snapshot = False
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
        try:
            await self.ws.start_and_wait(self.connect_timeout_s)
        except VenueError:
            await self.close()
            raise
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
        if self._auth_retry is not None:
            self._auth_retry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._auth_retry
        await self.books.close()
        await self.ws.close()
        await self.tx.close()
        await self.rest.close()
        self._state = ConnectionState.CLOSED
        self._events.sink = None

    async def instruments(self) -> dict[str, Instrument]:
        if not self._instruments:
            resp = await self.rest.get("/api/v1/orderBookDetails")
            for d in wire.items(resp, "order_book_details"):
                try:
                    if not isinstance(d, dict) or not wire.is_perp(d):
                        continue
                    m = wire.market_from_wire(d)
                except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
                    log.warning("%s: market skipped (%r): %s", self.name, exc, d)
                    continue
                self._markets[m.symbol] = m
                self._by_id[m.market_id] = m
                self._instruments[m.symbol] = wire.instrument(self.name, m)
            self._latency_from_rest()
        return self._instruments

    async def subscribe_books(self, symbols: list[str]) -> None:
        await self.instruments()
        for symbol in symbols:
            m = self._market(symbol)
            if symbol in self.books:
                continue
            self.books.add(self._instruments[symbol])
            await self.ws.subscribe(f"order_book/{m.market_id}")
            await self.ws.subscribe(f"trade/{m.market_id}")
            self.books.watch(symbol)

    def book(self, symbol: str) -> OrderBook | None:
        return self.books.get(symbol)

    async def place(self, request: OrderRequest) -> OrderAck:
        m = self._market(request.symbol)
        inst = self._instruments[request.symbol]
        index = self._client_index(request.client_id)
        if self._live.get(index):
            # the venue's own stream shows this index live: an earlier try landed
            # (Lighter refuses it too: 21728 "client order index already exists")
            raise VenueError(
                f"{self.name}: client order index {index} of {request.client_id} is already "
                "live on the account",
                code=ErrorCode.DUPLICATE_CLIENT_ID,
            )
        if request.size < inst.min_size:
            raise VenueError(
                f"size {request.size} below the minimum {inst.min_size}",
                code=ErrorCode.INVALID_SIZE,
            )
        size = wire.base_amount(request.size, m)
        if request.type is OrderType.MARKET:
            price = await self._market_bound(request, m)
            order_type, tif, expiry = ORDER_TYPE_MARKET, TIF_IOC, ORDER_EXPIRY_NONE
        else:
            if request.price is None or request.price <= 0:
                raise VenueError(
                    "a limit order needs a positive price", code=ErrorCode.INVALID_PRICE
                )
            price = wire.price_int(request.price, m)
            order_type = ORDER_TYPE_LIMIT
            if request.time_in_force is TimeInForce.FOK:
                raise VenueError("Lighter has no fill-or-kill orders", code=ErrorCode.INVALID_ORDER)
            if request.post_only:
                if request.time_in_force is not TimeInForce.GTC:
                    raise VenueError("post-only needs GTC", code=ErrorCode.INVALID_ORDER)
                tif, expiry = TIF_POST_ONLY, ORDER_EXPIRY_28_DAYS
            elif request.time_in_force is TimeInForce.IOC:
                tif, expiry = TIF_IOC, ORDER_EXPIRY_NONE
            else:
                tif, expiry = TIF_GOOD_TILL_TIME, ORDER_EXPIRY_28_DAYS
            if not request.reduce_only and request.price * request.size < inst.min_notional:
                raise VenueError(
                    f"notional {request.price * request.size} below the minimum "
                    f"{inst.min_notional}",
                    code=ErrorCode.MIN_NOTIONAL,
                )
        started = time.perf_counter()
        self._order_markets.add(m.market_id)
        self._remember_sent(index)
        try:
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
                on_nonce=lambda nonce: self._remember_sent(index, nonce),
            )
        except VenueError as exc:
            if not exc.outcome_unknown:
                self._in_flight.pop(index, None)  # refused: nothing is on its way
            raise
        self._latency(started)
        if self.tx.volume_quota_remaining is not None:
            self.stats.extra["volume_quota_remaining"] = self.tx.volume_quota_remaining
        return OrderAck(request.client_id, None, OrderStatus.PENDING)

    async def cancel(self, symbol: str, client_id: str) -> bool:
        """Cancel every live order of ours with this client id (the venue may hold two:
        a repeated client order index is not something we rely on it refusing). An order
        whose create is still on its way is cancelled by client index: one API key's
        transactions execute in nonce order, so the cancel lands after the create. False
        when the venue has none live."""
        m = self._market(symbol)
        index = self._client_index(client_id)
        live = sorted(self._live.get(index, ()))
        if not live:
            sent = self._in_flight.get(index)
            if sent is not None and _now_ms() - sent[0] < TX_TTL_MS:
                await self.tx.cancel_order(market=m.market_id, index=index)
                return True
            found = await self.lookup_order(symbol, client_id)
            if found is None or found.status.is_terminal or found.venue_order_id is None:
                return False
            live = [found.venue_order_id]
        for order_index in live:
            await self.tx.cancel_order(market=m.market_id, index=int(order_index))
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
            # everything on the account (the venue's cancel-all, other tools' orders too)
            await self.tx.cancel_all(None if symbol is None else self._market(symbol).market_id)
            return len(orders)
        count = 0
        for o in orders:
            if o.client_id and o.client_id.startswith(client_id_prefix):
                m = self._market(o.symbol)
                await self.tx.cancel_order(market=m.market_id, index=int(o.venue_order_id))
                count += 1
        return count

    async def open_orders(self, symbol: str | None = None) -> list[OpenOrder]:
        """``accountActiveOrders`` per market (the venue wants ``market_id``), every page.
        Without a symbol: the markets the account's order stream has shown (its snapshot
        lists every live order), or every market before that snapshot arrived."""
        await self.instruments()
        if symbol is not None:
            markets = [self._market(symbol)]
        elif self._orders_snapshot:
            markets = [self._by_id[i] for i in sorted(self._order_markets) if i in self._by_id]
        else:
            markets = sorted(self._by_id.values(), key=lambda x: x.market_id)
        out: list[OpenOrder] = []
        for m in markets:
            for o in await self._active_orders(m):
                try:
                    if wire.order_status(o).is_terminal:
                        continue
                    out.append(wire.open_order(self.name, m.symbol, o, self._decode(o)))
                except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
                    log.warning("%s: open order skipped (%r): %s", self.name, exc, o)
        return out

    async def lookup_order(self, symbol: str, client_id: str) -> VenueOrder | None:
        """The venue's lists by client index. Not in them while our create of it may still
        be queued at the sequencer: wait for its nonce to execute (``LOOKUP_PATIENCE_S``)
        and look again, or raise: the venue cannot tell yet."""
        m = self._market(symbol)
        index = self._client_index(client_id)
        found = await self._find(m, index)
        if found is None and index in self._in_flight:
            if await self._queued(index):
                raise VenueError(
                    f"{self.name}: {client_id} was sent and is not executed yet: "
                    "the venue cannot tell",
                    code=ErrorCode.VENUE,
                    retryable=True,
                )
            found = await self._find(m, index)
        if found is None:
            return None
        try:
            return wire.venue_order(self.name, m.symbol, found, self._decode(found))
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise VenueError(
                f"{self.name}: order {index} unreadable: {exc!r}", code=ErrorCode.BAD_ANSWER
            ) from None

    async def _find(self, m: wire.Market, index: int) -> dict[str, Any] | None:
        found = await self._by_client_index(m, index)
        if found is None:
            found = self._pick(o for o in await self._active_orders(m) if self._is(o, m, index))
        if found is None:
            async for page in self.rest.pages(
                "/api/v1/accountInactiveOrders",
                {"account_index": self.account, "market_id": m.market_id, "limit": PAGE},
                "orders",
                private=True,
                max_pages=INACTIVE_PAGES,
            ):
                found = self._pick(o for o in page if self._is(o, m, index))
                if found is not None:
                    break
        self._latency_from_rest()
        return found

    async def fills_since(self, since_ms: int, symbol: str | None = None) -> list[Fill]:
        """``trades`` of the account, newest first, page after page until the trades are
        older than ``since_ms`` (or the venue has no more)."""
        await self.instruments()
        params: dict[str, Any] = {
            "account_index": self.account,
            "sort_by": "timestamp",
            "sort_dir": "desc",
            "limit": PAGE,
        }
        if symbol is not None:
            params["market_id"] = self._market(symbol).market_id
        fills: dict[str, Fill] = {}
        async for page in self.rest.pages("/api/v1/trades", params, "trades", private=True):
            oldest: int | None = None
            for t in page:
                ts = epoch_ms(t.get("timestamp") if isinstance(t, dict) else None, "ms")
                oldest = ts if oldest is None else min(oldest, ts)
                if ts < since_ms:
                    continue
                for fill in self._trade_fills(t):
                    fills[fill.trade_id] = fill
            if oldest is not None and oldest < since_ms:
                break
        self._latency_from_rest()
        return sorted(fills.values(), key=lambda f: (f.ts_ms, _trade_order(f.trade_id)))

    def venue_client_id(self, client_id: str) -> str:
        return str(self._client_index(client_id))

    async def positions(self) -> list[Position]:
        account = await self._account()
        out: list[Position] = []
        now = _now_ms()
        for p in wire.items(account, "positions"):
            try:
                m = self._by_id.get(int(p["market_id"]))
                if m is None:
                    continue
                pos = wire.position(self.name, m.symbol, p, now)
            except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
                log.warning("%s: position skipped (%r): %s", self.name, exc, p)
                continue
            if pos.size != 0:
                out.append(pos)
        return out

    async def balances(self) -> list[Balance]:
        account = await self._account()
        try:
            return [wire.balance(self.name, account)]
        except (TypeError, ValueError, ArithmeticError) as exc:
            log.warning("%s: balance unreadable (%r)", self.name, exc)
            return []

    # -- reads ------------------------------------------------------------------------

    async def _active_orders(self, m: wire.Market) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        async for page in self.rest.pages(
            "/api/v1/accountActiveOrders",
            {"account_index": self.account, "market_id": m.market_id},
            "orders",
            private=True,
        ):
            out.extend(o for o in page if isinstance(o, dict))
        self._latency_from_rest()
        return out

    async def _by_client_index(self, m: wire.Market, index: int) -> dict[str, Any] | None:
        """``accountOrders``: the account's orders by client order index (the venue keeps
        the last 10K active and the last 1K inactive of 24 h there)."""
        try:
            resp = await self.rest.get(
                "/api/v1/accountOrders",
                {"account_index": self.account, "client_order_indexes": index},
                private=True,
            )
        except VenueError as exc:
            if exc.code != ErrorCode.NOT_FOUND:
                raise
            return None  # not served there: the market's lists say
        return self._pick(o for o in wire.items(resp, "orders") if self._is(o, m, index))

    @staticmethod
    def _is(o: Any, m: wire.Market, index: int) -> bool:
        if not isinstance(o, dict) or wire.client_index(o) != index:
            return False
        try:
            return int(o.get("market_index", m.market_id)) == m.market_id
        except (TypeError, ValueError):
            return False

    @staticmethod
    def _pick(orders: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
        """Of the orders with one client index: a live one, else the newest."""
        best: dict[str, Any] | None = None
        best_key: tuple[int, int, int] | None = None
        for o in orders:
            try:
                live = 1 if wire.order_status(o).is_live else 0
                key = (live, epoch_ms(o.get("updated_at"), "ms"), int(wire.order_index(o)))
            except (KeyError, TypeError, ValueError):
                continue
            if best_key is None or key > best_key:
                best, best_key = o, key
        return best

    async def _account(self) -> dict[str, Any]:
        resp = await self.rest.get("/api/v1/account", {"by": "index", "value": self.account})
        self._latency_from_rest()
        accounts = wire.items(resp, "accounts")
        if not accounts or not isinstance(accounts[0], dict):
            raise VenueError(
                f"{self.name}: account {self.account} not found", code=ErrorCode.NOT_FOUND
            )
        return accounts[0]

    # -- auth -------------------------------------------------------------------------

    async def auth_token(self) -> str:
        """The current auth token, minted anew when it is close to expiry."""
        return await self._token(False)

    async def _token(self, fresh: bool) -> str:
        token = self._token_cache
        if fresh or token is None or token[1] - time.time() < AUTH_RENEW_BEFORE_S:
            self._token_cache = token = await self.tx.auth_token(AUTH_TTL_S)
            self.stats.extra["auth_tokens"] = self.stats.extra.get("auth_tokens", 0) + 1
        return token[0]

    def _on_auth_error(self) -> None:
        """The venue refused a private subscription's token: mint one, subscribe again
        (once per episode, however many channels were refused), and give up loudly
        after a few tries: then the key or account index is wrong."""
        self._token_cache = None
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
            raise VenueError(
                f"{self.name}: unknown symbol {symbol!r}", code=ErrorCode.UNKNOWN_SYMBOL
            )
        return m

    def _client_index(self, client_id: str) -> int:
        """Our id's 48-bit client order index; an id we listed in the venue's raw form
        (another tool's, or an earlier run we cannot name) is that number."""
        if client_id.isdigit() and 0 < int(client_id) <= wire.MAX_CLIENT_ORDER_INDEX:
            return int(client_id)
        try:
            return self.client_ids.to_venue(client_id)
        except ClientIdError as exc:
            raise VenueError(str(exc), code=ErrorCode.INVALID_CLIENT_ID) from None

    def _decode_index(self, index: int) -> str:
        """A client order index in the core's form when its tag is a run prefix we know;
        otherwise the venue's number as it is (the form alone never proves an order is
        ours: the core matches ``venue_client_id`` against what it sent)."""
        decoded = self.client_ids.from_venue(index)
        if decoded is None or decoded.startswith("mm~"):
            return str(index)
        return decoded

    def _decode(self, o: dict[str, Any]) -> str | None:
        index = wire.client_index(o)
        return self._decode_index(index) if index is not None else None

    def _remember_sent(self, index: int, nonce: int | None = None) -> None:
        now = _now_ms()
        if len(self._in_flight) > 1000:
            for old in [i for i, (t, _) in self._in_flight.items() if now - t >= TX_TTL_MS]:
                del self._in_flight[old]
        self._in_flight[index] = (now, nonce)

    async def _queued(self, index: int) -> bool:
        """Whether our create of ``index`` may still be waiting for the sequencer: sent
        within its ``ExpiredAt`` and its nonce not executed after ``LOOKUP_PATIENCE_S``."""
        sent = self._in_flight.get(index)
        if sent is None or _now_ms() - sent[0] >= TX_TTL_MS:
            return False
        nonce = sent[1]
        if nonce is None:
            return False  # never signed: never sent
        loop = asyncio.get_running_loop()
        end = loop.time() + LOOKUP_PATIENCE_S
        while not await self.tx.executed(nonce):
            if loop.time() >= end:
                return True
            await asyncio.sleep(0.1)
        return False

    def _latency(self, started: float) -> None:
        self.stats.latency_ms = (time.perf_counter() - started) * 1000

    def _latency_from_rest(self) -> None:
        self.stats.latency_ms = self.rest.latency_ms

    async def _market_bound(self, request: OrderRequest, m: wire.Market) -> int:
        """The worst price a market order accepts (Lighter requires one)."""
        if request.price is not None and request.price > 0:
            return wire.price_int(request.price, m)
        book = self.books.get(m.symbol)
        ref: Decimal | None = None
        if book is not None and book.synced:
            ref = book.best_ask() if request.side is Side.BUY else book.best_bid()
        if ref is None:
            resp = await self.rest.get("/api/v1/orderBookDetails", {"market_id": m.market_id})
            details = wire.items(resp, "order_book_details")
            if details and isinstance(details[0], dict):
                last = details[0].get("last_trade_price")
                ref = optional_decimal(last, "last_trade_price") or None
        if ref is None:
            raise VenueError(
                f"{self.name}: no price to bound a market order on {m.symbol}",
                code=ErrorCode.NO_PRICE,
            )
        factor = 1 + self.market_slippage if request.side is Side.BUY else 1 - self.market_slippage
        bound = (ref * factor).quantize(m.tick)
        return wire.price_int(max(bound, m.tick), m)

    async def _refetch_book(self, symbol: str) -> None:
        """The ``BookSet``'s hook: the venue resends a book on a new subscription."""
        await self.ws.resubscribe(f"order_book/{self._market(symbol).market_id}")

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
        if state is ConnectionState.CONNECTED:
            self.books.watch_all()  # the new subscriptions' snapshots bring them back
        else:
            self.books.invalidate_all(f"websocket {state.value}")
            self._orders_snapshot = False  # the next connection's snapshot says again
        self._events.push(ConnectionChanged(self.name, state, detail))

    def _count_frames(self) -> None:
        self.stats.frames = self.ws.frames
        self.stats.bad_frames = self.ws.bad_frames

    def _on_message(self, msg: dict[str, Any]) -> None:
        kind = str(msg.get("type", ""))
        stage, _, channel_kind = kind.partition("/")
        if stage not in ("subscribed", "update"):
            self.stats.extra["unknown_frames"] = self.stats.extra.get("unknown_frames", 0) + 1
            return
        snapshot = stage == "subscribed"
        if channel_kind == "order_book":
            self._on_book(msg, snapshot)
        elif channel_kind == "trade":
            if not snapshot:  # the subscribe answer replays past trades: not live prints
                self._on_public_trades(msg)
        elif channel_kind in ("account_all_orders", "account_orders"):
            self._on_orders(msg, snapshot and channel_kind == "account_all_orders")
        elif channel_kind == "account_all_trades":
            self._on_fills(msg, snapshot)
        elif channel_kind == "account_all_positions":
            self._on_positions(msg)
        else:
            self.stats.extra["unknown_frames"] = self.stats.extra.get("unknown_frames", 0) + 1

    def _channel_market(self, msg: dict[str, Any]) -> wire.Market | None:
        parts = str(msg.get("channel", "")).split(":")
        if len(parts) < 2:
            raise ValueError(f"channel {msg.get('channel')!r} names no market")
        return self._by_id.get(int(parts[1]))

    def _on_book(self, msg: dict[str, Any], snapshot: bool) -> None:
        m = self._channel_market(msg)
        book = self.books.get(m.symbol) if m is not None else None
        if m is None or book is None:
            return
        try:
            ob = msg["order_book"]
            nonce, begin = int(ob["nonce"]), int(ob["begin_nonce"])
            bids = wire.book_levels(ob.get("bids"), m, snapshot=snapshot)
            asks = wire.book_levels(ob.get("asks"), m, snapshot=snapshot)
        except (KeyError, TypeError, ValueError, ArithmeticError, VenueError) as exc:
            self.ws.bad_frames += 1
            self.books.resync(m.symbol, f"unreadable book message: {exc!r}")
            return
        ts = epoch_ms(msg.get("timestamp"), "ms") or _now_ms()
        if snapshot:
            book.apply_snapshot(bids, asks, nonce, ts)
            if not book.synced:
                self.books.resync(m.symbol, book.resync_reason)
                return
            log.info("%s %s: book synced at nonce %d", self.name, m.symbol, nonce)
        else:
            if not book.synced:
                return  # waiting for the snapshot of our resubscribe
            if nonce <= book.seq:
                return  # stale or repeated
            if begin != book.seq:
                self.books.resync(m.symbol, f"nonce gap: expected begin {book.seq}, got {begin}")
                return
            if not book.apply_delta(bids, asks, prev_seq=begin, seq=nonce, ts_ms=ts):
                self.books.resync(m.symbol, book.resync_reason or "delta not applicable")
                return
        self.books.changed(m.symbol)

    def _on_public_trades(self, msg: dict[str, Any]) -> None:
        m = self._channel_market(msg)
        if m is None or m.symbol not in self.books:
            return
        for t in wire.items(msg, "trades"):
            try:
                self._events.push(wire.public_trade(self.name, m.symbol, t))
            except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
                self._bad_item("public trade", exc, t)

    def _on_orders(self, msg: dict[str, Any], full: bool) -> None:
        if full:
            self._orders_snapshot = True
        for market_id, items in wire.by_market(msg, "orders"):
            self._order_markets.add(market_id)
            m = self._by_id.get(market_id)
            if m is None or not isinstance(items, list):
                continue
            for o in items:
                try:
                    update = wire.order_update(self.name, m.symbol, o, self._decode(o))
                except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
                    self._bad_item("order", exc, o)  # its siblings still count
                    continue
                index = wire.client_index(o)
                if index is not None:
                    self._in_flight.pop(index, None)
                live = self._live.get(index, set()) if index is not None else set()
                if update.status is OrderStatus.REJECTED and update.venue_order_id in live:
                    # it rested first: a modify made it cross (post-only) -> cancelled
                    update = replace(update, status=OrderStatus.CANCELLED)
                if index is not None and update.venue_order_id is not None:
                    if update.status.is_terminal:
                        live.discard(update.venue_order_id)
                        if not live:
                            self._live.pop(index, None)
                    else:
                        self._live.setdefault(index, set()).add(update.venue_order_id)
                self._events.push(update)

    def _trade_fills(self, t: Any) -> list[Fill]:
        if not isinstance(t, dict):
            raise ValueError(f"trade {t!r} is not an object")
        m = self._by_id.get(int(t["market_id"]))
        if m is None:
            return []
        return wire.account_fills(self.name, m.symbol, t, self.account, self._decode_index)

    def _on_fills(self, msg: dict[str, Any], snapshot: bool) -> None:
        for _market_id, items in wire.by_market(msg, "trades"):
            for t in items if isinstance(items, list) else ():
                try:
                    if snapshot and epoch_ms(t.get("timestamp"), "ms") < self._started_ms:
                        continue  # before this session: the journal has those
                    fills = self._trade_fills(t)
                except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError) as exc:
                    self._bad_item("trade", exc, t)
                    continue
                for fill in fills:
                    if self._seen_trades.add(fill.trade_id):  # a snapshot repeats what we have
                        self._events.push(fill)

    def _on_positions(self, msg: dict[str, Any]) -> None:
        now = _now_ms()
        for market_id, p in wire.by_market(msg, "positions"):
            m = self._by_id.get(market_id)
            if m is None or not isinstance(p, dict):
                continue
            try:
                self._events.push(wire.position(self.name, m.symbol, p, now))
            except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
                self._bad_item("position", exc, p)

    def _bad_item(self, what: str, exc: Exception, item: Any) -> None:
        self.ws.bad_frames += 1
        ident = item.get("order_index") or item.get("trade_id") if isinstance(item, dict) else None
        log.warning("%s: unreadable %s skipped (%r): %s", self.name, what, exc, ident)


def _trade_order(trade_id: str) -> tuple[int, str]:
    head, _, tail = trade_id.partition(":")
    return (int(head) if head.isdigit() else 0, tail)


__all__ = ["LighterConnector"]
