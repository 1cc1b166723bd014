"""``LighterConnector``: Lighter's perp DEX through lighter-sdk (signing, sending)
plus our own REST reads and WebSocket, on the common layer (``connectors.common``).

Point it at loopback with ``url="http://127.0.0.1:PORT"`` and
``ws_url="ws://127.0.0.1:PORT/stream"``; nothing else changes. Every behaviour and its
source is listed in docs/venues/lighter.md.

The connector is the one ``Connector``; it composes the parts that each own one job:
``markets`` (the market table), ``clientids`` (core ids <-> client order indexes),
``order_tracking`` (our orders between the venue's answers), ``reads`` (REST: orders,
lookups, fill history, positions, balance), ``stream`` (WebSocket messages -> events),
``dead_man`` (the scheduled cancel-all) and ``order_entry`` (the order paths).

* Orders: place, cancel, modify, cancel-all and the orders still in the tx queue are
  ``order_entry`` (a mixin of the connector). Our client order index packs the
  run prefix and counter into 48 bits (``common.clientids.LIGHTER``); it is what
  ``venue_client_id`` and ``OpenOrder.venue_client_id`` show.
* Private streams ``account_all_orders``, ``account_all_trades``,
  ``account_all_positions`` with an auth token minted by the signer and renewed before it
  expires (or at once when the venue refuses it).
* Dead-man's switch: with ``dead_man_switch_s`` set, a scheduled cancel-all is
  armed at connect (one already queued, a crashed run's, is taken over) and renewed every
  third of that period while the private stream is up -- abort and schedule in one batch,
  as the venue keeps one queued (``dead_man``); a clean close aborts it.
* The account tier (``tier``: "standard", "premium"; None: no pacing) sets the request
  budget every request waits for (``pacing``); transactions issued in the same loop turn
  leave as one ``sendTxBatch`` (``txqueue``).
* Without keys (``keys=None``) it is a public feed: markets, ``order_book/{id}`` and
  ``trade/{id}`` only -- no signer, key check, auth token, private channel or dead-man's
  switch; placing and cancelling are refused (``connectors.common.public``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from decimal import Decimal
from typing import Any

from connectors.base import (
    AccountState,
    Balance,
    ConnectionChanged,
    ConnectionState,
    ConnectorStats,
    EventSink,
    Fill,
    Instrument,
    OpenOrder,
    Position,
    VenueOrder,
)
from connectors.book import OrderBook
from connectors.common.books import BookSet
from connectors.common.clientids import LIGHTER, ClientIdMap
from connectors.common.delivery import EventQueue
from connectors.common.errors import ErrorCode, VenueError
from connectors.common.retry import startup_read
from connectors.common.wsclient import WsSettings
from connectors.lighter import wire
from connectors.lighter.clientids import ClientIndexes
from connectors.lighter.dead_man import DeadManSwitch
from connectors.lighter.keycheck import check_api_key
from connectors.lighter.keys import LighterKeys
from connectors.lighter.markets import LighterMarkets
from connectors.lighter.order_entry import UNSENT, LighterOrderEntry
from connectors.lighter.order_tracking import OrderTracker
from connectors.lighter.pacing import TIERS, RequestPacer
from connectors.lighter.reads import LighterReads
from connectors.lighter.rest import LighterRest
from connectors.lighter.stream import LighterStream
from connectors.lighter.tx import LighterTx
from connectors.lighter.ws import LighterWs

log = logging.getLogger("connectors.lighter")

AUTH_TTL_S = 600
AUTH_RENEW_BEFORE_S = 120
MAX_AUTH_FAILURES = 3


def _now_ms() -> int:
    return int(time.time() * 1000)


class LighterConnector(LighterOrderEntry):
    def __init__(
        self,
        url: str,
        ws_url: str,
        keys: LighterKeys | None,
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
        tier: str | None = None,
        pacer: RequestPacer | None = None,
        batch_txs: bool = True,
    ) -> None:
        self.name = name
        self.stats = ConnectorStats()
        self.keys = keys
        self.account = keys.account_index if keys is not None else -1
        """The account's index; -1 without keys (a public feed reads no account)."""
        if keys is None:
            dead_man_switch_s = None  # no account: nothing to cancel
        self.client_ids = ClientIdMap(run_prefixes, layout=LIGHTER)
        self.ids = ClientIndexes(self.client_ids)
        self.dead_man_switch_s = dead_man_switch_s
        self.market_slippage = market_slippage
        self.connect_timeout_s = connect_timeout_s
        if pacer is None and tier is not None:
            pacer = RequestPacer(TIERS[tier])
        self.pacer = pacer
        """The account tier's request budget (None: requests are not paced)."""
        self.rest = LighterRest(
            url, token=self._token, timeout_s=rest_timeout_s, venue=name, pacer=pacer
        )
        self.tx = LighterTx(
            url,
            keys,
            chain_id=chain_id,
            timeout_s=rest_timeout_s,
            venue=name,
            pacer=pacer,
            batch=batch_txs,
        )
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
        self.ws.liveness = self.books.liveness  # its frames and pongs keep the books fresh
        self.markets = LighterMarkets(name)
        self.orders = OrderTracker(self.tx.executed, _now_ms)
        self.reads = LighterReads(name, self.account, self.rest, self.markets, self.ids, self.stats)
        self.stream = LighterStream(
            name,
            ws=self.ws,
            books=self.books,
            markets=self.markets,
            ids=self.ids,
            orders=self.orders,
            trade_fills=self.reads.trade_fills,
            events=self._events,
            stats=self.stats,
            on_fill=self._quota_earned,
        )
        self._state = ConnectionState.DISCONNECTED
        self._token_cache: tuple[str, int] | None = None
        self._auth_failures = 0
        self._auth_retry: asyncio.Task[None] | None = None
        self.dead_man = (
            DeadManSwitch(name, dead_man_switch_s, self.tx, self.ws.connected.is_set, self.stats)
            if dead_man_switch_s
            else None
        )
        self._closing = False

    # -- protocol ---------------------------------------------------------------------

    @property
    def state(self) -> ConnectionState:
        return self._state

    @property
    def dead_man_deadline_ms(self) -> int | None:
        """When the venue cancels the account's orders unless the switch is pushed."""
        return self.dead_man.deadline_ms if self.dead_man is not None else None

    @property
    def dead_man_armed(self) -> bool | None:
        """``DeadManSwitched``: a scheduled cancel-all may still stand (not aborted)."""
        return None if self.dead_man is None else self.dead_man.armed

    async def connect(self, sink: EventSink) -> None:
        self._events.sink = sink
        self._closing = False
        self.stream.started_ms = _now_ms()
        if self.pacer is not None:
            # an earlier run may have spent the venue's minute: its 429s are waited out
            # for one window (said once in the log), a refusal still fails at once
            self.pacer.connecting()
        await self.rest.start()
        try:
            await startup_read(self.name, "the markets", self.instruments)
            if self.keys is not None:  # without keys: a public feed, nothing signed
                await self.tx.start()
                await check_api_key(self.rest, self.keys, self.name)  # a wrong key fails here
                await self.auth_token()
        except VenueError:
            await self.rest.close()
            await self.tx.close()
            raise
        acct = self.account
        private = ("account_all_orders", "account_all_trades", "account_all_positions")
        for channel in private if self.keys is not None else ():
            await self.ws.subscribe(f"{channel}/{acct}", private=True)
        try:
            await self.ws.start_and_wait(self.connect_timeout_s)
        except VenueError:
            await self.close()
            raise
        if self.dead_man is not None:
            try:
                await self.dead_man.start()
            except VenueError as exc:
                await self.close()
                raise VenueError(
                    f"{self.name}: could not arm the dead-man's switch: {exc}", code=exc.code
                ) from None

    async def close(self) -> None:
        self._closing = True
        self.wind_down()  # nothing new leaves; the switch's abort has the reserve
        if self.dead_man is not None:
            await self.dead_man.stop()
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
        return await self.reads.instruments()

    async def subscribe_books(self, symbols: list[str]) -> None:
        await self.instruments()
        for symbol in symbols:
            m = self.markets.market(symbol)
            if symbol in self.books:
                continue
            self.books.add(self.markets.instruments[symbol])
            await self.ws.subscribe(f"order_book/{m.market_id}")
            await self.ws.subscribe(f"trade/{m.market_id}")
            self.books.watch(symbol)

    def book(self, symbol: str) -> OrderBook | None:
        return self.books.get(symbol)

    async def open_orders(self, symbol: str | None = None) -> list[OpenOrder]:
        """``accountActiveOrders`` per market (the venue wants ``market_id``), every page.
        Without a symbol: the markets the account's order stream has shown (its snapshot
        lists every live order), or every market before that snapshot arrived."""
        await self.instruments()
        by_id = self.markets.by_id
        if symbol is not None:
            markets = [self.markets.market(symbol)]
        elif self.orders.snapshot:
            markets = [by_id[i] for i in sorted(self.orders.markets) if i in by_id]
        else:
            markets = self.markets.all()
        return await self.reads.open_orders(markets)

    async def lookup_order(self, symbol: str, client_id: str) -> VenueOrder | None:
        """The venue's lists by client index. Not in them while our create of it may still
        be queued at the sequencer: wait for its nonce to execute (``LOOKUP_PATIENCE_S``)
        and look again, or raise: the venue cannot tell yet."""
        m = self.markets.market(symbol)
        index = self.ids.to_index(client_id)
        found = await self.reads.find(m, index)
        if found is None and index in self.orders.in_flight:
            if await self.orders.queued(index):
                raise VenueError(
                    f"{self.name}: {client_id} was sent and is not executed yet: "
                    "the venue cannot tell",
                    code=ErrorCode.VENUE,
                    retryable=True,
                )
            found = await self.reads.find(m, index)
        if found is None:
            return None
        try:
            return wire.venue_order(self.name, m.symbol, found, self.ids.of_order(found))
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise VenueError(
                f"{self.name}: order {index} unreadable: {exc!r}", code=ErrorCode.BAD_ANSWER
            ) from None

    async def fills_since(self, since_ms: int, symbol: str | None = None) -> list[Fill]:
        """``trades`` of the account, newest first, page after page until the trades are
        older than ``since_ms`` (or the venue has no more)."""
        await self.instruments()
        market = self.markets.market(symbol) if symbol is not None else None
        return await self.reads.fills_since(since_ms, market)

    def venue_client_id(self, client_id: str) -> str:
        return str(self.ids.to_index(client_id))

    async def positions(self) -> list[Position]:
        return await self.reads.positions()

    account_poll_s = 60.0
    """Two requests a reading: once a minute is 2 of a Standard account's 60."""

    async def read_account(self, symbols: list[str]) -> AccountState:
        return await self.reads.read_account(symbols)

    async def balances(self) -> list[Balance]:
        return await self.reads.balances()

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

    # -- internals ---------------------------------------------------------------------

    async def _refetch_book(self, symbol: str) -> None:
        """The ``BookSet``'s hook: the venue resends a book on a new subscription."""
        await self.ws.resubscribe(f"order_book/{self.markets.market(symbol).market_id}")

    # -- the WebSocket -----------------------------------------------------------------

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
            self.orders.snapshot = False  # the next connection's snapshot says again
        self._events.push(ConnectionChanged(self.name, state, detail))

    def _quota_earned(self, fill: Fill) -> None:
        """Premium: the venue adds volume quota for what we trade (docs: volume quota)."""
        if self.pacer is not None and self.pacer.quota is not None:
            self.pacer.quota.earned(fill.price * fill.size)
            self.tx.queue.wake()

    def _count_frames(self) -> None:
        self.stats.frames = self.ws.frames
        self.stats.bad_frames = self.ws.bad_frames

    def _on_message(self, msg: dict[str, Any]) -> None:
        """The WebSocket client's message handler (recorded frames enter here too)."""
        self.stream.on_message(msg)


__all__ = ["UNSENT", "LighterConnector"]
