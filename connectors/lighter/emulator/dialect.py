"""``LighterDialect``: a ``SimVenue`` behind Lighter's REST API and ``/stream`` WebSocket,
on the emulator kit (``Routes``, ``SubscriptionHub``, ``AccountFanout``, ``sim_mid``).

The parts: ``rest`` (reads, pagination), ``sequencer`` (sendTx, the two-stage tx path,
orders), ``feed`` (WebSocket), ``render`` (the recorded JSON forms), ``state`` and ``wire``.
This module wires them, turns the sim's events into Lighter's, and holds the fault hooks.
docs/venues/lighter.md lists every behaviour with its source, and what is a guess.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import random
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from aiohttp import web

from connectors.base import ZERO, Fill, OrderStatus, OrderUpdate, Position, Trade
from connectors.emulation.accounts import AccountFanout
from connectors.emulation.faults import FaultState, HttpFault
from connectors.emulation.harness import EmulatorHarness, VenueDialect, default_world
from connectors.emulation.hub import SubscriptionHub
from connectors.emulation.rest import Routes, json_answer
from connectors.emulation.sockets import SocketSet
from connectors.lighter.emulator import wire as w
from connectors.lighter.emulator.feed import Feed
from connectors.lighter.emulator.limits import TierLimits, TooMany
from connectors.lighter.emulator.rest import RestApi
from connectors.lighter.emulator.sequencer import TX_ROUTE, Sequencer
from connectors.lighter.emulator.signatures import MAINNET_CHAIN_ID, Signatures
from connectors.lighter.emulator.state import (
    MIN_ORDER_EXPIRY_MS,
    Account,
    Conn,
    LighterEmulatorStats,
    LighterKey,
    Order,
    Stash,
    build_markets,
)
from connectors.sim.venue import FlowParams, SimVenue
from connectors.sim.world import SimWorld

log = logging.getLogger("connectors.lighter.emulator")


class LighterDialect(RestApi, Sequencer, Feed, VenueDialect):  # Sequencer: CancelAlls too
    def __init__(
        self,
        venue: SimVenue,
        accounts: Mapping[str, str],
        faults: FaultState,
        *,
        ping_interval_s: float = 60.0,
        keys: Sequence[LighterKey] = (),
        idle_timeout_s: float = 120.0,
        min_scheduled_cancel_ms: int = 300_000,
        apply_delay_ms: int = 5,
        lost_answer_delay_ms: int = 2000,
        active_page_size: int = 50,
        credit_queued_abort: bool = True,
        tier: str | None = None,
        tier_window_s: float = 60.0,
        volume_quota: int = 1_000,
        free_tx_s: float = 15.0,
        seed: int = 1,
        chain_id: int = MAINNET_CHAIN_ID,
        verify_signatures: bool = True,
    ) -> None:
        super().__init__(venue, accounts, faults, ping_interval_s=ping_interval_s)
        self.idle_timeout_s = idle_timeout_s
        self.min_scheduled_cancel_ms = min_scheduled_cancel_ms
        self.apply_delay_ms = max(0, apply_delay_ms)
        self.lost_answer_delay_ms = max(0, lost_answer_delay_ms)
        self.active_page_size = active_page_size
        self.credit_queued_abort = credit_queued_abort
        """Whether the API server counts an accepted abort before it executed (a 21712
        check against what the account will hold): docs/venues/lighter.md."""
        self.min_order_expiry_ms = MIN_ORDER_EXPIRY_MS
        """Shortest OrderExpiry accepted for resting orders (tests may lower it)."""
        self.stats = LighterEmulatorStats()
        self.signatures = Signatures(chain_id, enabled=verify_signatures)
        """Every tx's ``Sig`` and auth token checked against the registered key."""
        self.limits = (
            TierLimits(
                tier,
                self.stats,
                window_s=tier_window_s,
                volume_quota=volume_quota,
                free_tx_s=free_tx_s,
            )
            if tier is not None
            else None
        )
        """The account tier's rate limits and volume quota (None: no limits)."""
        self._rng = random.Random(seed)
        self._markets = build_markets(venue)
        self._by_id = {m.market_id: m for m in self._markets.values()}
        self._by_sim = {m.inst.symbol: m for m in self._markets.values()}
        for m in self._markets.values():
            m.offset = self._rng.randint(100, 999)
            m.nonce = self._rng.randint(1000, 9999)
        self._accounts: dict[int, Account] = {}
        self._by_sim_account: dict[str, Account] = {}
        for key in keys:
            self._register(key)
        self._orders_by_sim: dict[tuple[str, str], Order] = {}
        self._next_order_index = w.ORDER_INDEX_BASE + 1000
        self._stash: list[Stash] = []
        self._trade_seq = 0
        self._block = 1
        self._tx_seq = 0
        self._volume_quota = 100_000
        self._last_tx_hash: dict[int, str] = {}
        self._token_cutoff = 0
        self._max_expiry_seen = 0
        self._seen_tokens: set[str] = set()
        self._revoked: set[str] = set()
        self._apply_queue: deque[tuple[float, Callable[[], None]]] = deque()
        self._apply_handle: asyncio.TimerHandle | None = None
        self.hub: SubscriptionHub[Conn] = SubscriptionHub()
        self.sockets = SocketSet("lighter", self.hub.forget)
        self._dirty_orders: dict[int, dict[int, Order]] = {}
        self._dirty_positions: dict[int, set[int]] = {}
        self._new_trades: dict[int, list[tuple[int, dict[str, Any]]]] = {}
        self._public_trades: dict[int, list[dict[str, Any]]] = {}
        self._liquidations: dict[int, list[dict[str, Any]]] = {}
        self._flush_scheduled = False
        self._session_seq = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._tx_failures: deque[tuple[int, str, int]] = deque()
        self.routes = Routes(
            "lighter",
            faults,
            refusal=w.LighterError,
            render_refusal=self._render_refusal,
            server_error=lambda: json_answer(
                {"code": w.CODE_SERVER_ERROR, "message": "internal error"}, 500
            ),
        )
        self.fanout: AccountFanout[Account] = AccountFanout(
            venue,
            faults,
            on_order=self._on_order_update,
            on_fill=self._on_fill,
            on_position=self._on_position,
            drop_sockets=self.sockets.abort_all,
            label="lighter emulator",
        )
        venue.on_book(self._on_book)
        venue.on_trade(self._on_trade)
        venue.on_heartbeat(self._on_heartbeat)
        for acct in self._by_sim_account.values():
            self.fanout.attach(acct.sim, acct)

    def _register(self, key: LighterKey) -> None:
        pub = key.public_key.lower().removeprefix("0x")
        if len(pub) != 80 or any(c not in "0123456789abcdef" for c in pub):
            raise ValueError(
                f"lighter emulator: public key of {key.account_index}:"
                f"{key.api_key_index} is not 40 bytes of hex"
            )
        if not 0 <= key.api_key_index <= 254:
            raise ValueError(f"lighter emulator: api key index {key.api_key_index} not in 0..254")
        acct = self._accounts.get(key.account_index)
        if acct is None:
            other = self._by_sim_account.get(key.account)
            if other is not None:
                raise ValueError(
                    f"lighter emulator: sim account {key.account!r} already belongs to "
                    f"account index {other.index}"
                )
            digest = hashlib.blake2b(f"mmtui-lighter-{key.account}".encode(), digest_size=20)
            acct = Account(key.account_index, key.account, "0x" + digest.hexdigest())
            self._accounts[key.account_index] = acct
            self._by_sim_account[key.account] = acct
        elif acct.sim != key.account:
            raise ValueError(
                f"lighter emulator: account index {key.account_index} maps to both "
                f"{acct.sim!r} and {key.account!r}"
            )
        if key.api_key_index in acct.keys:
            raise ValueError(
                f"lighter emulator: key {key.account_index}:{key.api_key_index} given twice"
            )
        self.signatures.register(key.account_index, key.api_key_index, pub)
        acct.keys[key.api_key_index] = pub
        acct.nonces[key.api_key_index] = 1
        acct.executed[key.api_key_index] = 1

    # -- public helpers (call on the loop, e.g. via harness.call) --------------------

    @property
    def ws_path(self) -> str:
        return "/stream"

    @property
    def market_ids(self) -> dict[str, int]:
        """Wire symbol -> market id."""
        return {m.wire: m.market_id for m in self._markets.values()}

    def market_decimals(self, wire: str) -> tuple[int, int]:
        """(price_decimals, size_decimals) of a wire symbol."""
        m = self._markets[wire]
        return m.price_dp, m.size_dp

    def l1_address(self, account_index: int) -> str:
        return self._accounts[account_index].l1_address

    def next_nonce(self, account_index: int, api_key_index: int) -> int:
        """The nonce the API server takes next (executed and queued txs counted)."""
        return self._accounts[account_index].nonces[api_key_index]

    def set_nonce(self, account_index: int, api_key_index: int, value: int) -> None:
        """Fault hook: the next accepted nonce of this key becomes ``value``."""
        acct = self._accounts[account_index]
        if api_key_index not in acct.nonces:
            raise KeyError(f"api key {account_index}:{api_key_index} is not registered")
        acct.nonces[api_key_index] = value
        acct.executed[api_key_index] = value

    def expire_tokens(self) -> None:
        """Fault hook: refuse every auth token seen so far and any token whose expiry is
        before the largest expiry seen so far; fresh tokens minted later still pass."""
        self._revoked |= self._seen_tokens
        self._token_cutoff = max(self._token_cutoff, self._max_expiry_seen)
        log.info("lighter emulator: auth tokens expired (cutoff %d)", self._token_cutoff)

    def order_json(self, account_index: int, client_order_index: int) -> dict[str, Any] | None:
        """The latest order of the account with this client index, as REST shows it."""
        o = self._accounts[account_index].last_coi(client_order_index)
        return self._order_json(o) if o is not None else None

    def schedule(self, account_index: int) -> tuple[int, int | None] | None:
        return self._accounts[account_index].schedule

    # -- harness hooks -----------------------------------------------------------------

    def install(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/stream", self._ws_handler)
        r.add_get("/", self.routes.wrap(self._status))
        gets: dict[str, Callable[[web.Request], Any]] = {
            "orderBooks": self._order_books,
            "orderBookDetails": self._order_book_details,
            "orderBookOrders": self._order_book_orders,
            "recentTrades": self._recent_trades,
            "account": self._account,
            "accountsByL1Address": self._accounts_by_l1,
            "accountActiveOrders": self._active_orders,
            "accountInactiveOrders": self._inactive_orders,
            "accountOrders": self._account_orders,
            "trades": self._trades,
            "nextNonce": self._next_nonce,
            "apikeys": self._apikeys,
            "funding-rates": self._funding_rates,
        }
        for name, fn in gets.items():
            r.add_get(f"/api/v1/{name}", self.routes.wrap(self._limited(name, fn)))
        for route, fn in ((TX_ROUTE, self._send_tx), ("sendTxBatch", self._send_tx_batch)):
            wrapped = self.routes.wrap(self._limited(route, fn), name=route)
            r.add_post(f"/api/v1/{route}", wrapped)

    def _limited(
        self, route: str, fn: Callable[[web.Request], Any]
    ) -> Callable[[web.Request], Any]:
        """``fn`` behind the tier's rate limit (when the emulator has a tier)."""

        def limited(request: web.Request) -> Any:
            if self.limits is not None:
                self.limits.admit(route, request.remote or "?")
            return fn(request)

        return limited

    def _render_refusal(self, err: w.LighterError) -> web.StreamResponse:
        if err.status == 401:
            self.stats.auth_refused += 1
        resp = json_answer(err.body(), err.status)
        if isinstance(err, TooMany):
            resp.headers["Retry-After"] = str(err.retry_after_s)
        return resp

    def fault_response(self, fault: HttpFault) -> web.StreamResponse:
        if fault.status == 429:
            headers = {}
            if fault.retry_after_s is not None:
                headers["Retry-After"] = str(max(0, math.ceil(fault.retry_after_s)))
            return web.json_response(
                {"code": w.CODE_TOO_MANY_REQUESTS, "message": "Too Many Requests!"},
                status=429,
                headers=headers,
            )
        return web.json_response(
            {"code": w.CODE_SERVER_ERROR, "message": "injected server error"},
            status=fault.status,
        )

    # -- sim events (synchronous, on the loop) -----------------------------------------

    def _on_order_update(self, acct: Account, u: OrderUpdate) -> None:
        o = self._orders_by_sim.get((acct.sim, u.client_id or ""))
        if o is None or o.modifying:
            return
        if u.status is OrderStatus.FILLED:
            self._finish(o, "filled")
        elif u.status in (OrderStatus.CANCELLED, OrderStatus.EXPIRED):
            self._finish(o, self._cancel_status(o, u.reason))
        elif u.reason.startswith("reduce-only: trimmed") and u.remaining_size is not None:
            o.initial = o.filled + u.remaining_size
            o.updated_ms = self.venue.now_ms
            self._mark_order(o)
        elif u.status is OrderStatus.OPEN:
            self._mark_order(o)

    @staticmethod
    def _cancel_status(o: Order, reason: str) -> str:
        if reason == "cancelled by user":
            return o.cancel_status or "canceled"
        if "self-trade" in reason:
            return "canceled-self-trade"
        if "reduce-only" in reason:
            return "canceled-reduce-only"
        return "canceled"  # IOC / market remainder, no liquidity

    def _on_fill(self, acct: Account, f: Fill) -> None:
        if f.client_id is None:
            self._on_liquidation(acct, f)
            return
        o = self._orders_by_sim.get((acct.sim, f.client_id))
        if o is None:
            log.warning("lighter emulator: fill for an unknown order %s", f)
            return
        m = o.market
        o.filled += f.size
        o.filled_quote += f.size * f.price
        o.updated_ms = f.ts_ms
        before = acct.pos_size.get(m.market_id, ZERO)
        acct.pos_size[m.market_id] = before + f.size * f.side.sign
        self._stash.append(Stash(acct, o, f.side, f.liquidity, before))
        self._mark_order(o)

    def _on_liquidation(self, acct: Account, f: Fill) -> None:
        """A fill of no order of the account's (``force_fill``): the venue's liquidation
        trade, pushed on the account's trades and the market's ``liquidation_trades``."""
        m = self._by_sim.get(f.symbol)
        if m is None:
            return
        self._trade_seq += 1
        self.stats.liquidations += 1
        tj = self._liquidation_json(m, acct, f.side, f.price, f.size, f.ts_ms)
        acct.trades.append(tj)
        acct.volume += f.size * f.price
        acct.pos_size[m.market_id] = acct.pos_size.get(m.market_id, ZERO) + f.size * f.side.sign
        self._new_trades.setdefault(acct.index, []).append((m.market_id, tj))
        self._liquidations.setdefault(m.market_id, []).append(tj)
        self._schedule_flush()

    def _on_position(self, acct: Account, p: Position) -> None:
        m = self._by_sim.get(p.symbol)
        if m is None:
            return
        acct.positions[m.market_id] = p
        acct.pos_size[m.market_id] = p.size
        self._dirty_positions.setdefault(acct.index, set()).add(m.market_id)
        self._schedule_flush()

    def _on_trade(self, trade: Trade) -> None:
        m = self._by_sim.get(trade.symbol)
        stash, self._stash = self._stash, []
        if m is None:
            return
        self._trade_seq += 1
        m.trade_count += 1
        m.last_price = trade.price
        if m.first_price is None:
            m.first_price = trade.price
        m.high = trade.price if m.high is None else max(m.high, trade.price)
        m.low = trade.price if m.low is None else min(m.low, trade.price)
        m.volume += trade.size
        m.quote_volume += trade.size * trade.price
        tj = self._trade_json(m, trade, stash)
        m.trades.append(tj)
        self._public_trades.setdefault(m.market_id, []).append(tj)
        for s in stash:
            s.account.trades.append(tj)
            s.account.volume += trade.size * trade.price
            if self.limits is not None:
                self.limits.traded(s.account, trade.size * trade.price)
            self._new_trades.setdefault(s.account.index, []).append((m.market_id, tj))
        self._schedule_flush()

    def _on_heartbeat(self, now_ms: int) -> None:
        try:
            self._fire_schedules()
            self._push_market_stats()
        except Exception:
            log.exception("lighter emulator: heartbeat at %d ms failed", now_ms)


def lighter_emulator(
    keys: Sequence[LighterKey],
    *,
    world: SimWorld | None = None,
    flow: FlowParams | None = None,
    port: int = 0,
    step_ms: int = 100,
    speed: float = 1.0,
    ping_interval_s: float = 60.0,
    start_ms: int | None = None,
    **options: Any,
) -> EmulatorHarness:
    """An (unstarted) harness serving Lighter's dialect; use it as a context manager.

    ``options`` go to ``LighterDialect`` (``idle_timeout_s``, ``min_scheduled_cancel_ms``,
    ``apply_delay_ms``, ``lost_answer_delay_ms``, ``active_page_size``,
    ``credit_queued_abort``, ``chain_id`` (304, what the SDK signs for),
    ``verify_signatures`` (True: every tx's and token's signature against the registered
    key), ``tier`` ("standard" / "premium": the tier's rate limits and volume quota),
    ``tier_window_s``, ``volume_quota``, ``free_tx_s``).
    ``harness.accounts`` maps ``"account_index:api_key_index"`` to the sim account, so
    ``harness.faults.reject_next_order("4242:3")`` works; the place route for
    ``harness.faults.lose_next_answer`` is ``"sendTx"``. The dialect
    (``harness.dialect``) adds ``expire_tokens()``, ``set_nonce(a, k, v)``,
    ``fail_next_txs(...)``, ``push_raw(text)``, ``announce_shutdown(ms)``, ``stats`` and
    read helpers; call them through ``harness.call(lambda: ...)``."""
    if not keys:
        raise ValueError("lighter emulator: at least one key is needed")
    world = world or default_world("lighter", flow=flow)
    accounts = {f"{k.account_index}:{k.api_key_index}": k.account for k in keys}
    dialect = partial(LighterDialect, keys=tuple(keys), seed=world.seed, **options)
    venue = "lighter" if "lighter" in world.venues else None
    return EmulatorHarness(
        dialect,
        accounts=accounts,
        world=world,
        venue=venue,
        step_ms=step_ms,
        speed=speed,
        ping_interval_s=ping_interval_s,
        port=port,
        start_ms=start_ms,
    )


__all__ = ["LighterDialect", "LighterEmulatorStats", "LighterKey", "lighter_emulator"]
