"""A loopback emulator of Lighter's REST API and ``/stream`` WebSocket.

Serves a ``SimVenue`` through Lighter's dialect (spec: /work/shared/spec/venues.md
section 2, checklist 5.2) inside ``connectors.emulation.EmulatorHarness``, so the
real lighter-sdk 1.1.8 (``SignerClient``, ``ApiClient``) can talk to it::

    key = LighterKey(account_index=4242, api_key_index=3, public_key=pub_hex)
    with lighter_emulator([key]) as emu:
        emu.base_url                 # http://127.0.0.1:PORT (SignerClient url / ApiClient host)
        emu.ws_url                   # ws://127.0.0.1:PORT/stream
        emu.faults.reject_next_order("4242:3")
        emu.call(lambda: emu.dialect.expire_tokens())

Markets: the sim's ``BTC-PERP`` is ``BTC``; market ids ETH=0, BTC=1, SOL=2, any
other base asset gets the smallest free id in sorted order. ``price_decimals`` and
``size_decimals`` are the decimals of the sim tick and step; every price/size string
is written with exactly that many decimals.

Conventions this emulator chose where the venue is unknown ([EMU]) are listed in
``EMULATOR_NOTES``; the important ones:

* **Trade fees**: ``taker_fee``/``maker_fee`` of a Trade are integer fee *rates* in
  units of 1e-6 (0.02 % = 200), taken from the sim venue's fee rates.
* **IOC / market remainder**: an IOC or market order that cannot fill in full ends
  as ``canceled`` (with ``filled_base_amount`` > 0 if it partly filled).
* **Error codes**: see ``connectors.lighter.emu_wire`` (``CODE_*``): 21104 invalid
  nonce, 21728 duplicate client order index, 20013 invalid auth token (HTTP 401), ...

Public API: ``LighterKey``, ``lighter_emulator(keys, ...)`` -> ``EmulatorHarness`` whose
``dialect`` is a ``LighterDialect`` with (call on the loop via ``harness.call``):
``expire_tokens()``, ``set_nonce(a, k, v)``, ``fail_next_txs(count, code=, message=,
http_status=)``, ``announce_shutdown(close_in_ms)``,
``next_nonce(a, k)``, ``order_json(a, client_order_index)``, ``schedule(a)``,
``l1_address(a)``, ``market_ids``, ``market_decimals(wire)``, ``stats``
(``LighterEmulatorStats``) and the attribute ``min_order_expiry_ms``.

Signatures (tx ``Sig`` and the auth token's) cannot be verified (Schnorr over
ECgFp5/Poseidon2, no Python verifier): only their structure is checked.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any

from aiohttp import web

from connectors.base import (
    ZERO,
    Event,
    Fill,
    Instrument,
    Liquidity,
    OrderRequest,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Position,
    Side,
    TimeInForce,
    Trade,
)
from connectors.emulation.faults import FaultState, HttpFault
from connectors.emulation.harness import EmulatorHarness, VenueDialect, default_world
from connectors.emulation.sockets import SocketSet, close_ws
from connectors.lighter import emu_wire as w
from connectors.lighter.emu_wire import LighterError, bad, fmt
from connectors.sim.venue import FlowParams, LevelChanges, SimVenue
from connectors.sim.world import SimWorld

log = logging.getLogger("connectors.lighter.emulator")

EMULATOR_NOTES = """\
REST
- Every success body carries "code": 200. Errors: {"code": C, "message": M} with HTTP 400
  (bad request / refused tx), 401 (auth token), 404 (unknown path, aiohttp default).
- Auth (private reads, private WS channels): header Authorization: <token> or query auth=.
  Token expiry:account:key:<160 hex>; refused (401, code 20013 "invalid auth token")
  unless expiry in (now, now + 8 h], account == the requested account, key registered for
  it, and not revoked by expire_tokens().
- expire_tokens(): every token seen so far is refused, and so is any token whose expiry is
  before the largest expiry seen so far (cutoff); a fresh token minted afterwards passes.
- Unknown account: 400 21100 "account not found"; unknown api key: 400 21109.
- min_quote_amount is the sim instrument's min_notional (0 in the default world, so
  "0.000000"); it is enforced at sendTx when > 0.
- Bad query parameter: 400 20001 "invalid param: <name>". Unknown market_id: 400 21600.
- accountInactiveOrders / trades: newest first; cursor = opaque string (an offset).
- orderBookOrders: our own accounts' orders are listed one by one (real order_index);
  the rest of each level is one synthetic crowd order of account 1.
- Injected faults: 429 -> {"code": 23000, "message": "too many requests"} (+ Retry-After);
  5xx -> {"code": 29500, "message": "injected server error"}.

sendTx / sendTxBatch
- Form fields tx_type, tx_info (a JSON JSON-object string), optional price_protection
  (ignored). A JSON body with the same fields is accepted too.
- Check order: tx type (21120) -> tx_info structure: exact key set of the 1.1.8 signer,
  integer fields, Sig base64 of 80 bytes (21101 / 21102) -> account (21100) and api key
  (21109) -> ExpiredAt > now (21103) -> Nonce == expected (21104 "invalid nonce") ->
  type-specific checks -> accepted (nonce consumed). Refusals never consume the nonce.
- CreateOrder checks: market (21600), ClientOrderIndex 0..2^48-1 (21707), BaseAmount
  1..2^48-1 on the step and >= min size unless reduce-only (0 allowed for reduce-only:
  "close the whole position") (21701), Price 1..2^32-1 on the tick (21702), Type limit/market
  only and TriggerPrice 0 (21703), TIF 0..2 and market => IOC (21704), OrderExpiry for
  GTT/post-only within [now + 5 min - 1 min, now + 30 days + 1 min] (21705); a live or
  pending ClientOrderIndex of the same account -> 400 21728 "client order index already
  exists" (client index 0 = none, never a duplicate).
- Accepted: 200 {"code":200,"message":"{\\"ratelimit\\": \\"didn't use volume quota\\"}",
  "tx_hash": <80 hex>, "predicted_execution_time_ms", "volume_quota_remaining"}; the tx is
  applied apply_delay_ms later, in arrival order.
- sendTxBatch (<= 50): all txs are checked first, in order (nonces consecutive); if one is
  refused the whole batch is refused and no nonce is consumed.
- CancelOrder / ModifyOrder with an Index that matches no live order of the account in
  that market: accepted (nonce consumed) and a no-op.
- ModifyOrder: BaseAmount is the new *remaining* size (initial = filled + BaseAmount), Price
  the new price; the order keeps its order_index and client index, loses time priority;
  a post-only order that would now cross ends canceled-post-only.
- CancelAll: TIF 0 immediate (Time must be 0), all markets or L2TxAttributes {"5": m};
  TIF 1 scheduled: Time in [now + min_scheduled_cancel_ms, now + 15 days] (else 21706);
  a later schedule replaces the earlier one; TIF 2 aborts the schedule. Schedules fire on
  the first sim step after their (wall-clock) time. Schedules and OrderExpiry are checked
  on sim steps only: a paused harness fires none (harness.step() or resume()).

Orders
- order_index >= 2^48, allocated when the tx is applied; Index < 2^48 in cancel/modify is
  a client order index.
- Statuses: open, filled, canceled (user cancel, cancel-all, schedule, IOC/market remainder),
  canceled-post-only, canceled-reduce-only (nothing to reduce, also when a fill removed the
  position), canceled-self-trade, canceled-expired (OrderExpiry passed), and for a
  reject_next_order fault canceled-margin-not-allowed (or the fault's reason itself when it
  is a Lighter "canceled-..." status).
- Market orders (Type 1, IOC) fill against the book up to Price (treated as a limit).
- Order timestamps: timestamp/created_at/updated_at in seconds, transaction_time in us.

Trades
- trade_id counts every trade of the venue; the crowd (resting background liquidity) is
  account 1, the background takers account 2; their order ids are synthetic (>= 2^49).
- taker_fee / maker_fee: integer fee rates in units of 1e-6 (0.02 % = 200).
- avg_entry_price is rounded to the market's price decimals.

WebSocket /stream
- Greeting {"type":"connected","session_id":...}. Commands subscribe/unsubscribe/ping/pong.
  First message of a channel "subscribed/<kind>", then "update/<kind>"; channel names in
  pushes use ':'.
- order_book/{m}: snapshot = every level; deltas = changed levels (size 0 removes).
  offset strictly increasing with random gaps; nonce chained: begin_nonce == previous
  message's nonce (the snapshot's begin_nonce is NOT chained). skip_book_ids breaks it.
- account_* snapshots carry no historical trades (read /api/v1/trades).
- Private channels need "auth" in the subscribe message; refusal -> error frame
  {"error":{"code":20013,"message":"invalid auth token for channel <channel>"}}.
- {"type":"jsonapi/sendtx","data":{"id":..,"tx_type":14,"tx_info":{..} or "..."}} and
  jsonapi/sendtxbatch (data.tx_types / data.tx_infos as in REST) go through the same checks
  as REST; the answer is {"type":<same>,"data":{"id":<caller's id>, <the REST body>}} (a
  refusal's data carries its code/message; no HTTP status).
- account_tx/{a} is not emulated (invalid channel).
- Error frames: 30001 invalid JSON, 30002 invalid message, 30005 invalid channel,
  30006 already subscribed, 30007 not subscribed. The connection is kept.
- Server {"type":"ping"} every ping_interval_s; client ping -> {"type":"pong"}.
  A connection with no client data frame for idle_timeout_s is closed (code 1000,
  "idle timeout"); protocol-level pings do not count as traffic.
"""

CROWD_ACCOUNT = 1
TAKER_ACCOUNT = 2
_CROWD_IDS = 2**49
_KNOWN_MARKET_IDS = {"ETH": 0, "BTC": 1, "SOL": 2}
_DAY_MS = 86_400_000
_MIN_ORDER_EXPIRY_MS = 5 * 60_000
_MAX_ORDER_EXPIRY_MS = 30 * _DAY_MS
_EXPIRY_SLACK_MS = 60_000
_MAX_SCHEDULE_MS = 15 * _DAY_MS
_TOKEN_MAX_S = 8 * 3600
_MAX_BATCH = 50
_RECENT_TRADES = 200
_IMF = Decimal("0.05")
_PENDING_STATUSES = ("in-progress", "pending", "open")
_VALID_STATUSES = frozenset(
    {
        "canceled",
        "canceled-post-only",
        "canceled-reduce-only",
        "canceled-position-not-allowed",
        "canceled-margin-not-allowed",
        "canceled-too-much-slippage",
        "canceled-not-enough-liquidity",
        "canceled-self-trade",
        "canceled-expired",
        "canceled-oco",
        "canceled-child",
        "canceled-liquidation",
        "canceled-invalid-balance",
    }
)


@dataclass(frozen=True)
class LighterKey:
    """One registered API key of an emulated account."""

    account_index: int
    api_key_index: int
    public_key: str
    """hex, no 0x (as ``lighter.signer_client.create_api_key()`` returns it, stripped)"""
    account: str = "alice"
    """The SimVenue account behind this Lighter account index."""


@dataclass(slots=True)
class LighterEmulatorStats:
    txs_accepted: int = 0
    txs_rejected: int = 0
    txs_applied: int = 0
    invalid_nonce: int = 0
    auth_refused: int = 0
    bad_frames: int = 0
    ws_connections: int = 0
    idle_disconnects: int = 0
    schedules_fired: int = 0
    orders_expired: int = 0


# -- state --------------------------------------------------------------------------


@dataclass(slots=True)
class _Market:
    inst: Instrument
    market_id: int
    wire: str
    price_dp: int
    size_dp: int
    offset: int = 0
    nonce: int = 0
    last_price: Decimal | None = None
    first_price: Decimal | None = None
    high: Decimal | None = None
    low: Decimal | None = None
    volume: Decimal = ZERO
    quote_volume: Decimal = ZERO
    trade_count: int = 0
    trades: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=_RECENT_TRADES))
    stats_sig: tuple[Any, ...] | None = None

    def price(self, value: Decimal) -> str:
        return fmt(value, self.price_dp)

    def size(self, value: Decimal) -> str:
        return fmt(value, self.size_dp)


@dataclass(eq=False, slots=True)
class _Order:
    order_index: int
    coi: int
    account: _Account
    market: _Market
    is_ask: bool
    type: str
    tif: str
    reduce_only: bool
    price: Decimal
    initial: Decimal
    nonce: int
    order_expiry: int
    created_ms: int
    sim_cid: str
    version: int = 0
    filled: Decimal = ZERO
    filled_quote: Decimal = ZERO
    status: str = "open"
    updated_ms: int = 0
    cancel_status: str | None = None
    """Status to report when the sim says "cancelled by user" (expiry, schedule...)."""
    modifying: bool = False

    @property
    def live(self) -> bool:
        return self.status in _PENDING_STATUSES

    @property
    def remaining(self) -> Decimal:
        return self.initial - self.filled if self.live else ZERO


@dataclass(eq=False, slots=True)
class _Account:
    index: int
    sim: str
    l1_address: str
    keys: dict[int, str] = field(default_factory=dict)
    nonces: dict[int, int] = field(default_factory=dict)
    orders: dict[int, _Order] = field(default_factory=dict)
    live: dict[int, _Order] = field(default_factory=dict)
    """order index -> live order (a subset of ``orders``)."""
    live_coi: dict[int, _Order] = field(default_factory=dict)
    last_coi: dict[int, _Order] = field(default_factory=dict)
    pending_coi: dict[int, int] = field(default_factory=dict)
    """client index -> number of accepted, not yet applied creates."""
    trades: list[dict[str, Any]] = field(default_factory=list)
    volume: Decimal = ZERO
    schedule: tuple[int, int | None] | None = None
    """(wall-clock ms, market or None) of the scheduled cancel-all."""
    pos_size: dict[int, Decimal] = field(default_factory=dict)
    positions: dict[int, Position] = field(default_factory=dict)
    update_seq: int = 0


@dataclass(eq=False, slots=True)
class _Conn:
    ws: web.WebSocketResponse
    request: web.Request
    session_id: str
    queue: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    subs: set[str] = field(default_factory=set)
    last_rx: float = 0.0


@dataclass(slots=True)
class _Stash:
    """One side of a match, recorded from the sim's Fill until its Trade arrives."""

    account: _Account
    order: _Order
    side: Side
    liquidity: Liquidity
    size_before: Decimal


# -- the dialect ------------------------------------------------------------------------


class LighterDialect(VenueDialect):
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
        seed: int = 1,
    ) -> None:
        super().__init__(venue, accounts, faults, ping_interval_s=ping_interval_s)
        self.idle_timeout_s = idle_timeout_s
        self.min_scheduled_cancel_ms = min_scheduled_cancel_ms
        self.apply_delay_ms = max(0, apply_delay_ms)
        self.min_order_expiry_ms = _MIN_ORDER_EXPIRY_MS
        """Shortest OrderExpiry accepted for resting orders (tests may lower it)."""
        self.stats = LighterEmulatorStats()
        self._rng = random.Random(seed)
        self._markets = _build_markets(venue)
        self._by_id = {m.market_id: m for m in self._markets.values()}
        self._by_sim = {m.inst.symbol: m for m in self._markets.values()}
        for m in self._markets.values():
            m.offset = self._rng.randint(100, 999)
            m.nonce = self._rng.randint(1000, 9999)
        self._accounts: dict[int, _Account] = {}
        self._by_sim_account: dict[str, _Account] = {}
        for key in keys:
            self._register(key)
        self._orders_by_sim: dict[tuple[str, str], _Order] = {}
        self._next_order_index = w.ORDER_INDEX_BASE + 1000
        self._stash: list[_Stash] = []
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
        self.sockets = SocketSet("lighter", self._forget)
        self._subs: dict[str, set[_Conn]] = {}
        self._dirty_orders: dict[int, dict[int, _Order]] = {}
        self._dirty_positions: dict[int, set[int]] = {}
        self._new_trades: dict[int, list[tuple[int, dict[str, Any]]]] = {}
        self._public_trades: dict[int, list[dict[str, Any]]] = {}
        self._flush_scheduled = False
        self._session_seq = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._tx_failures: deque[tuple[int, str, int]] = deque()
        venue.on_book(self._on_book)
        venue.on_trade(self._on_trade)
        venue.on_heartbeat(self._on_heartbeat)
        for acct in self._by_sim_account.values():
            venue.on_account(acct.sim, partial(self._on_account, acct))

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
            l1 = (
                "0x"
                + hashlib.blake2b(
                    f"mmtui-lighter-{key.account}".encode(), digest_size=20
                ).hexdigest()
            )
            acct = _Account(key.account_index, key.account, l1)
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
        acct.keys[key.api_key_index] = pub
        acct.nonces[key.api_key_index] = 1

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
        return self._accounts[account_index].nonces[api_key_index]

    def set_nonce(self, account_index: int, api_key_index: int, value: int) -> None:
        """Fault hook: the next accepted nonce of this key becomes ``value``."""
        acct = self._accounts[account_index]
        if api_key_index not in acct.nonces:
            raise KeyError(f"api key {account_index}:{api_key_index} is not registered")
        acct.nonces[api_key_index] = value

    def push_raw(self, text: str) -> int:
        """Fault hook: send ``text`` as-is to every WebSocket client (malformed frames,
        unknown message types); returns how many clients got it."""
        conns = list(self.sockets)
        for conn in conns:
            self._send(conn, text)
        return len(conns)

    def expire_tokens(self) -> None:
        """Fault hook: refuse every auth token seen so far and any token whose expiry is
        before the largest expiry seen so far; fresh tokens minted later still pass."""
        self._revoked |= self._seen_tokens
        self._token_cutoff = max(self._token_cutoff, self._max_expiry_seen)
        log.info("lighter emulator: auth tokens expired (cutoff %d)", self._token_cutoff)

    def fail_next_txs(
        self,
        count: int = 1,
        *,
        code: int = 21500,
        message: str = "internal server error",
        http_status: int = 200,
    ) -> None:
        """Fault hook: answer the next ``count`` sendTx/sendTxBatch calls (REST or WS) with
        ``{"code": code, "message": message}`` and ``http_status`` (default 200: the SDK
        returns such a body as a "success" the caller must check). Nothing is applied and
        no nonce is consumed."""
        for _ in range(max(0, count)):
            self._tx_failures.append((code, message, http_status))

    def announce_shutdown(self, close_in_ms: int) -> int:
        """Fault hook: send ``{"type":"shutdown","close_in_ms":N}`` on every WebSocket and
        close them all (Close frame 1001) ``close_in_ms`` later; returns how many."""
        conns = list(self.sockets)
        text = _dumps({"type": "shutdown", "close_in_ms": close_in_ms})
        for conn in conns:
            self._send(conn, text)

        async def close_later() -> None:
            await asyncio.sleep(close_in_ms / 1000)
            for conn in conns:
                self.sockets.drop(conn)
            await asyncio.gather(
                *(close_ws(c.ws, 1001, b"server shutdown") for c in conns),
                return_exceptions=True,
            )

        task = asyncio.get_running_loop().create_task(close_later(), name="lighter-shutdown")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return len(conns)

    def order_json(self, account_index: int, client_order_index: int) -> dict[str, Any] | None:
        """The latest order of the account with this client index, as REST shows it."""
        o = self._accounts[account_index].last_coi.get(client_order_index)
        return self._order_json(o) if o is not None else None

    def schedule(self, account_index: int) -> tuple[int, int | None] | None:
        return self._accounts[account_index].schedule

    # -- harness hooks -----------------------------------------------------------------

    def install(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/stream", self._ws_handler)
        r.add_get("/", self._wrap(self._status))
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
        }
        for name, fn in gets.items():
            r.add_get(f"/api/v1/{name}", self._wrap(fn))
        r.add_post("/api/v1/sendTx", self._send_tx)
        r.add_post("/api/v1/sendTxBatch", self._send_tx_batch)

    def fault_response(self, fault: HttpFault) -> web.StreamResponse:
        if fault.status == 429:
            headers = {}
            if fault.retry_after_s is not None:
                headers["Retry-After"] = str(max(0, math.ceil(fault.retry_after_s)))
            return web.json_response(
                {"code": w.CODE_TOO_MANY_REQUESTS, "message": "too many requests"},
                status=429,
                headers=headers,
            )
        return web.json_response(
            {"code": w.CODE_SERVER_ERROR, "message": "injected server error"},
            status=fault.status,
        )

    # -- REST plumbing ---------------------------------------------------------------

    def _wrap(
        self, fn: Callable[[web.Request], Any]
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handler(request: web.Request) -> web.StreamResponse:
            try:
                result = fn(request)
            except LighterError as err:
                if err.status == 401:
                    self.stats.auth_refused += 1
                return web.json_response(err.body(), status=err.status)
            except Exception:
                log.exception("lighter emulator: %s %s failed", request.method, request.path)
                return web.json_response(
                    {"code": w.CODE_SERVER_ERROR, "message": "internal error"}, status=500
                )
            return web.json_response(result)

        return handler

    def _int_param(
        self, request: web.Request, name: str, default: int | None = None, required: bool = False
    ) -> int | None:
        raw = request.query.get(name)
        if raw is None or raw == "":
            if required:
                raise bad(w.CODE_INVALID_PARAM, f"invalid param: {name} is required")
            return default
        try:
            return int(raw)
        except ValueError:
            raise bad(w.CODE_INVALID_PARAM, f"invalid param: {name}") from None

    def _limit(self, request: web.Request, hi: int, default: int) -> int:
        limit = self._int_param(request, "limit", default)
        assert limit is not None
        if not 1 <= limit <= hi:
            raise bad(w.CODE_INVALID_PARAM, f"invalid param: limit must be in [1, {hi}]")
        return limit

    def _market_param(self, request: web.Request, required: bool = False) -> _Market | None:
        mid = self._int_param(request, "market_id", required=required)
        if mid is None or (mid == w.NIL_MARKET and not required):
            return None
        m = self._by_id.get(mid)
        if m is None:
            raise bad(w.CODE_INVALID_MARKET, f"invalid market id {mid}")
        return m

    def _account_by_index(self, index: int | None) -> _Account:
        acct = self._accounts.get(index) if index is not None else None
        if acct is None:
            raise bad(w.CODE_ACCOUNT_NOT_FOUND, "account not found")
        return acct

    def _auth(self, request: web.Request, account_index: int | None) -> _Account:
        token = request.headers.get("Authorization") or request.query.get("auth")
        return self._check_token(token, account_index)

    def _check_token(self, text: str | None, account_index: int | None) -> _Account:
        token = w.parse_token(text)
        refused = LighterError(401, w.CODE_INVALID_AUTH, "invalid auth token")
        if token is None:
            raise refused
        now_s = time.time()
        if token.expiry_s > self._max_expiry_seen and token.expiry_s <= now_s + _TOKEN_MAX_S:
            self._max_expiry_seen = token.expiry_s
        if token.text in self._revoked or token.expiry_s < self._token_cutoff:
            raise refused
        if not now_s < token.expiry_s <= now_s + _TOKEN_MAX_S:
            raise refused
        if account_index is not None and token.account_index != account_index:
            raise refused
        acct = self._accounts.get(token.account_index)
        if acct is None or token.api_key_index not in acct.keys:
            raise refused
        self._seen_tokens.add(token.text)
        return acct

    # -- public REST -----------------------------------------------------------------

    def _status(self, request: web.Request) -> dict[str, Any]:
        return {"status": 1, "network_id": 1, "timestamp": int(time.time())}

    def _markets_for(self, request: web.Request) -> list[_Market]:
        m = self._market_param(request)
        return [m] if m is not None else sorted(self._by_id.values(), key=lambda x: x.market_id)

    def _order_book_json(self, m: _Market) -> dict[str, Any]:
        inst = m.inst
        return {
            "symbol": m.wire,
            "market_id": m.market_id,
            "market_type": "perp",
            "base_asset_id": 0,
            "quote_asset_id": 0,
            "status": "active",
            "taker_fee": fmt(inst.taker_fee * 100, 4),
            "maker_fee": fmt(inst.maker_fee * 100, 4),
            "liquidation_fee": "1.0000",
            "min_base_amount": m.size(inst.min_size),
            "min_quote_amount": fmt(inst.min_notional, 6),
            "supported_size_decimals": m.size_dp,
            "supported_price_decimals": m.price_dp,
            "supported_quote_decimals": 6,
            "order_quote_limit": "",
            "is_maker_fee_enabled": True,
            "is_taker_fee_enabled": True,
            "created_at": "2025-01-01T00:00:00Z",
            "multiplier": "1",
            "start_timestamp": 0,
            "end_timestamp": 0,
            "settlement_type": 0,
            "settlement_price": 0,
            "settlement_cap": 0,
            "outcome": 0,
            "default_price": 0,
            "operator_account_index": 0,
            "is_frozen": False,
            "open_interest": "0",
        }

    def _order_books(self, request: web.Request) -> dict[str, Any]:
        return {
            "code": w.CODE_OK,
            "order_books": [self._order_book_json(m) for m in self._markets_for(request)],
        }

    def _order_book_details(self, request: web.Request) -> dict[str, Any]:
        out = []
        for m in self._markets_for(request):
            mark = self._mid(m) or ZERO
            last = m.last_price if m.last_price is not None else mark
            first = m.first_price if m.first_price is not None else last
            detail = self._order_book_json(m) | {
                "size_decimals": m.size_dp,
                "price_decimals": m.price_dp,
                "quote_multiplier": 1,
                "default_initial_margin_fraction": 500,
                "min_initial_margin_fraction": 500,
                "maintenance_margin_fraction": 300,
                "closeout_margin_fraction": 200,
                # the SDK model demands JSON numbers here: floats only at the wire edge
                "last_trade_price": float(last),
                "daily_trades_count": m.trade_count,
                "daily_base_token_volume": float(m.volume),
                "daily_quote_token_volume": float(m.quote_volume),
                "daily_price_low": float(m.low if m.low is not None else last),
                "daily_price_high": float(m.high if m.high is not None else last),
                "daily_price_change": float((last - first) / first * 100 if first else ZERO),
                "open_interest": 0,
                "daily_chart": {},
                "market_config": {
                    "market_margin_mode": 0,
                    "insurance_fund_account_index": 0,
                    "liquidation_mode": 0,
                    "force_reduce_only": False,
                    "trading_hours": "",
                    "hidden": False,
                    "rfq_enabled": False,
                },
                "strategy_index": 0,
                "funding_clamp_small": "0",
                "funding_clamp_big": "0",
                "base_interest_rate": "0",
                "mark_price": m.price(mark),
                "index_price": m.price(mark),
                "market_flags": 0,
                "funding_premium_multiplier": 0,
            }
            out.append(detail)
        return {"code": w.CODE_OK, "order_book_details": out, "spot_order_book_details": []}

    def _order_book_orders(self, request: web.Request) -> dict[str, Any]:
        m = self._market_param(request, required=True)
        assert m is not None
        limit = self._limit(request, 250, 250)
        bids, asks, _ = self.venue.snapshot(m.inst.symbol, limit)
        ours: dict[tuple[bool, int], list[_Order]] = {}
        for acct in self._accounts.values():
            for o in acct.live.values():
                if o.market is m:
                    key = (o.is_ask, m.inst.price_to_ticks(o.price))
                    ours.setdefault(key, []).append(o)
        now_us = self.venue.now_ms * 1000

        def level_orders(is_ask: bool, levels: list[tuple[int, int]]) -> list[dict[str, Any]]:
            out: list[dict[str, Any]] = []
            for price_ticks, lots in levels:
                price = m.inst.ticks_to_price(price_ticks)
                rest = m.inst.lots_to_size(lots)
                for o in sorted(ours.get((is_ask, price_ticks), []), key=lambda x: x.created_ms):
                    rest -= o.remaining
                    out.append(
                        self._simple_order(
                            o.order_index,
                            o.account.index,
                            o.initial,
                            o.remaining,
                            m,
                            price,
                            o.order_expiry,
                        )
                    )
                if rest > 0:
                    oid = _CROWD_IDS + price_ticks * 2 + (1 if is_ask else 0)
                    out.append(self._simple_order(oid, CROWD_ACCOUNT, rest, rest, m, price, 0))
                if len(out) >= limit:
                    break
            return [o | {"transaction_time": now_us} for o in out[:limit]]

        ask_orders = level_orders(True, asks)
        bid_orders = level_orders(False, bids)
        return {
            "code": w.CODE_OK,
            "total_asks": len(ask_orders),
            "asks": ask_orders,
            "total_bids": len(bid_orders),
            "bids": bid_orders,
        }

    def _simple_order(
        self,
        oid: int,
        owner: int,
        initial: Decimal,
        remaining: Decimal,
        m: _Market,
        price: Decimal,
        expiry: int,
    ) -> dict[str, Any]:
        return {
            "order_index": oid,
            "order_id": str(oid),
            "owner_account_index": owner,
            "initial_base_amount": m.size(initial),
            "remaining_base_amount": m.size(remaining),
            "price": m.price(price),
            "order_expiry": expiry,
        }

    def _recent_trades(self, request: web.Request) -> dict[str, Any]:
        m = self._market_param(request, required=True)
        assert m is not None
        limit = self._limit(request, 100, 100)
        return {"code": w.CODE_OK, "trades": list(reversed(m.trades))[:limit]}

    def _account(self, request: web.Request) -> dict[str, Any]:
        by = request.query.get("by", "index")
        value = request.query.get("value", "")
        if by == "index":
            try:
                acct = self._account_by_index(int(value))
            except ValueError:
                raise bad(w.CODE_INVALID_PARAM, "invalid param: value") from None
        elif by == "l1_address":
            found = [a for a in self._accounts.values() if a.l1_address == value.lower()]
            if not found:
                raise bad(w.CODE_ACCOUNT_NOT_FOUND, "account not found")
            acct = found[0]
        else:
            raise bad(w.CODE_INVALID_PARAM, "invalid param: by")
        return {
            "code": w.CODE_OK,
            "total": 1,
            "accounts": [self._detailed_account(acct)],
            "next_cursor": "",
        }

    def _money(self, acct: _Account) -> tuple[Decimal, Decimal, Decimal]:
        """(collateral, total asset value, available balance)."""
        bal = self.venue.balances(acct.sim)[0]
        margin = ZERO
        for p in self.venue.positions(acct.sim):
            m = self._by_sim.get(p.symbol)
            if m is None or p.size == 0:
                continue
            margin += abs(p.size) * (self._mid(m) or p.entry_price) * _IMF
        return bal.available, bal.total, max(ZERO, bal.total - margin)

    def _base_account(self, acct: _Account) -> dict[str, Any]:
        collateral, _, available = self._money(acct)
        live = acct.live
        return {
            "code": w.CODE_OK,
            "account_type": 0,
            "account_trading_mode": 0,
            "index": acct.index,
            "l1_address": acct.l1_address,
            "cancel_all_time": acct.schedule[0] if acct.schedule else 0,
            "total_order_count": len(live),
            "total_isolated_order_count": 0,
            "pending_order_count": 0,
            "available_balance": fmt(available, 6),
            "status": 1,
            "collateral": fmt(collateral, 6),
            "transaction_time": self.venue.now_ms * 1000,
        }

    def _detailed_account(self, acct: _Account) -> dict[str, Any]:
        collateral, total, _ = self._money(acct)
        return self._base_account(acct) | {
            "account_index": acct.index,
            "name": acct.sim,
            "description": "",
            "can_invite": False,
            "referral_points_percentage": "0",
            "positions": [
                self._position_json(acct, m.market_id) for m in self._position_markets(acct)
            ],
            "assets": [
                {
                    "symbol": self.venue.collateral_asset,
                    "asset_id": 3,
                    "balance": fmt(collateral, 6),
                    "locked_balance": "0.000000",
                    "margin_balance": fmt(collateral, 6),
                    "margin_mode": "enabled",
                    "multiplier": "1",
                }
            ],
            "total_asset_value": fmt(total, 6),
            "cross_asset_value": fmt(total, 6),
            "pool_info": {
                "status": 0,
                "operator_fee": "0",
                "min_operator_share_rate": "0",
                "total_shares": 0,
                "operator_shares": 0,
                "annual_percentage_yield": 0,
                "daily_returns": [],
                "share_prices": [],
                "sharpe_ratio": 0,
                "strategies": [],
            },
            "shares": [],
            "created_at": 0,
            "can_rfq": False,
            "cross_initial_margin_requirement": "0.000000",
            "cross_maintenance_margin_requirement": "0.000000",
            "can_rfq_market_ids": [],
            "metadata": {"color": ""},
            "agent_enabled": False,
        }

    def _position_markets(self, acct: _Account) -> list[_Market]:
        seen = {
            self._by_sim[p.symbol].market_id
            for p in self.venue.positions(acct.sim)
            if p.symbol in self._by_sim
        }
        return [self._by_id[i] for i in sorted(seen)]

    def _accounts_by_l1(self, request: web.Request) -> dict[str, Any]:
        address = request.query.get("l1_address", "").lower()
        found = [a for a in self._accounts.values() if a.l1_address == address]
        if not found:
            raise bad(w.CODE_ACCOUNT_NOT_FOUND, "account not found")
        return {
            "code": w.CODE_OK,
            "l1_address": address,
            "sub_accounts": [self._base_account(a) for a in sorted(found, key=lambda a: a.index)],
        }

    def _active_orders(self, request: web.Request) -> dict[str, Any]:
        index = self._int_param(request, "account_index", required=True)
        acct = self._auth(request, index)
        m = self._market_param(request)
        orders = [self._order_json(o) for o in acct.live.values() if m is None or o.market is m]
        return {"code": w.CODE_OK, "orders": orders}

    def _cursor(self, request: web.Request) -> int:
        raw = request.query.get("cursor") or "0"
        try:
            start = int(raw)
        except ValueError:
            raise bad(w.CODE_INVALID_PARAM, "invalid param: cursor") from None
        return max(0, start)

    def _inactive_orders(self, request: web.Request) -> dict[str, Any]:
        index = self._int_param(request, "account_index", required=True)
        acct = self._auth(request, index)
        limit = self._limit(request, 100, 100)
        m = self._market_param(request)
        chosen = [o for o in acct.orders.values() if not o.live and (m is None or o.market is m)]
        chosen.sort(key=lambda o: (o.updated_ms, o.order_index), reverse=True)
        start = self._cursor(request)
        page = chosen[start : start + limit]
        out: dict[str, Any] = {"code": w.CODE_OK, "orders": [self._order_json(o) for o in page]}
        if start + limit < len(chosen):
            out["next_cursor"] = str(start + limit)
        return out

    def _account_orders(self, request: web.Request) -> dict[str, Any]:
        index = self._int_param(request, "account_index")
        acct = self._auth(request, index)
        raw = ",".join(request.query.getall("client_order_indexes", []))
        try:
            wanted = [int(x) for x in raw.replace("[", "").replace("]", "").split(",") if x.strip()]
        except ValueError:
            raise bad(w.CODE_INVALID_PARAM, "invalid param: client_order_indexes") from None
        if not wanted or len(wanted) > 20:
            raise bad(w.CODE_INVALID_PARAM, "invalid param: client_order_indexes (1..20 ids)")
        orders = [self._order_json(acct.last_coi[c]) for c in wanted if c in acct.last_coi]
        return {"code": w.CODE_OK, "orders": orders}

    def _trades(self, request: web.Request) -> dict[str, Any]:
        limit = self._limit(request, 100, 100)
        m = self._market_param(request)
        index = self._int_param(request, "account_index")
        if index is not None and index >= 0:
            acct = self._auth(request, index)
            trades = [t for t in acct.trades if m is None or t["market_id"] == m.market_id]
        else:
            markets = [m] if m is not None else list(self._by_id.values())
            trades = [t for mk in markets for t in mk.trades]
        order_index = self._int_param(request, "order_index")
        if order_index is not None:
            trades = [t for t in trades if order_index in (t["ask_id"], t["bid_id"])]
        trades = sorted(trades, key=lambda t: t["trade_id"], reverse=True)
        if request.query.get("sort_dir") == "asc":
            trades.reverse()
        start = self._cursor(request)
        page = trades[start : start + limit]
        out: dict[str, Any] = {"code": w.CODE_OK, "trades": page}
        if start + limit < len(trades):
            out["next_cursor"] = str(start + limit)
        return out

    def _key_param(self, request: web.Request) -> tuple[_Account, int]:
        acct = self._account_by_index(self._int_param(request, "account_index", required=True))
        key = self._int_param(request, "api_key_index", required=True)
        assert key is not None
        if key not in acct.keys:
            raise bad(w.CODE_API_KEY_NOT_FOUND, "api key not found")
        return acct, key

    def _next_nonce(self, request: web.Request) -> dict[str, Any]:
        acct, key = self._key_param(request)
        return {"code": w.CODE_OK, "nonce": acct.nonces[key]}

    def _apikeys(self, request: web.Request) -> dict[str, Any]:
        acct = self._account_by_index(self._int_param(request, "account_index", required=True))
        only = self._int_param(request, "api_key_index")
        if only is not None and only != w.NIL_MARKET and only not in acct.keys:
            raise bad(w.CODE_API_KEY_NOT_FOUND, "api key not found")
        keys = [
            {
                "account_index": acct.index,
                "api_key_index": k,
                "nonce": acct.nonces[k],
                "public_key": pub,
                "transaction_time": 0,
            }
            for k, pub in sorted(acct.keys.items())
            if only is None or only == w.NIL_MARKET or k == only
        ]
        return {"code": w.CODE_OK, "api_keys": keys}

    # -- sendTx --------------------------------------------------------------------------

    async def _form(self, request: web.Request) -> Mapping[str, Any]:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise bad(w.CODE_INVALID_PARAM, "invalid param: body is not JSON") from None
            if not isinstance(body, dict):
                raise bad(w.CODE_INVALID_PARAM, "invalid param: body must be an object")
            return body
        return await request.post()

    async def _send_tx(self, request: web.Request) -> web.StreamResponse:
        try:
            form = await self._form(request)
            body = self._tx(form.get("tx_type"), form.get("tx_info"))
        except LighterError as err:
            return self._refuse(err)
        except Exception:
            log.exception("lighter emulator: sendTx failed")
            return web.json_response(
                {"code": w.CODE_SERVER_ERROR, "message": "internal error"}, status=500
            )
        return web.json_response(body)

    async def _send_tx_batch(self, request: web.Request) -> web.StreamResponse:
        try:
            form = await self._form(request)
            body = self._tx_batch(form.get("tx_types"), form.get("tx_infos"))
        except LighterError as err:
            return self._refuse(err)
        except Exception:
            log.exception("lighter emulator: sendTxBatch failed")
            return web.json_response(
                {"code": w.CODE_SERVER_ERROR, "message": "internal error"}, status=500
            )
        return web.json_response(body)

    def _injected_tx_failure(self) -> None:
        if self._tx_failures:
            code, message, status = self._tx_failures.popleft()
            log.info("lighter emulator: injected tx failure %d %d %s", status, code, message)
            raise LighterError(status, code, message)

    def _tx(self, raw_type: Any, raw_info: Any) -> dict[str, Any]:
        """Check and accept one tx; the RespSendTx body (LighterError when refused)."""
        self._injected_tx_failure()
        if isinstance(raw_type, bool):
            raise bad(w.CODE_INVALID_PARAM, "invalid param: tx_type")
        try:
            tx_type = int(str(raw_type))
        except ValueError:
            raise bad(w.CODE_INVALID_PARAM, "invalid param: tx_type") from None
        if raw_info is None:
            raise bad(w.CODE_INVALID_PARAM, "invalid param: tx_info is required")
        apply, acct, key, coi = self._check_tx(tx_type, raw_info, {})
        return self._tx_response(self._accept(acct, key, coi, apply))

    def _tx_batch(self, raw_types: Any, raw_infos: Any) -> dict[str, Any]:
        """Check every tx of a batch, then accept them all (or none)."""
        self._injected_tx_failure()
        types = _json_list(raw_types, "tx_types")
        infos = _json_list(raw_infos, "tx_infos")
        if not types or len(types) != len(infos) or len(types) > _MAX_BATCH:
            raise bad(
                w.CODE_INVALID_PARAM,
                f"invalid param: tx_types/tx_infos must have 1..{_MAX_BATCH} equal entries",
            )
        planned: dict[tuple[int, int], int] = {}
        checked = []
        for tx_type, info in zip(types, infos, strict=True):
            if isinstance(tx_type, bool) or not isinstance(tx_type, int):
                raise bad(w.CODE_INVALID_PARAM, "invalid param: tx_types must be integers")
            apply, acct, key, coi = self._check_tx(tx_type, info, planned)
            planned[(acct.index, key)] = planned.get((acct.index, key), 0) + 1
            if coi:
                planned[(acct.index, -coi)] = 1
            checked.append((acct, key, coi, apply))
        hashes = [self._accept(acct, key, coi, apply) for acct, key, coi, apply in checked]
        return self._tx_response(hashes[-1]) | {"tx_hash": hashes}

    def _refuse(self, err: LighterError) -> web.Response:
        self.stats.txs_rejected += 1
        if err.code == w.CODE_INVALID_NONCE:
            self.stats.invalid_nonce += 1
        log.info("lighter emulator: tx refused: %s", err)
        return web.json_response(err.body(), status=err.status)

    def _tx_response(self, tx_hash: str) -> dict[str, Any]:
        return {
            "code": w.CODE_OK,
            "message": '{"ratelimit": "didn\'t use volume quota"}',
            "tx_hash": tx_hash,
            "predicted_execution_time_ms": int(time.time() * 1000) + self.apply_delay_ms,
            "volume_quota_remaining": self._volume_quota,
        }

    def _accept(self, acct: _Account, key: int, coi: int, apply: Callable[[str], None]) -> str:
        self._tx_seq += 1
        acct.nonces[key] += 1
        if coi:
            acct.pending_coi[coi] = acct.pending_coi.get(coi, 0) + 1
        self.stats.txs_accepted += 1
        self._volume_quota = max(0, self._volume_quota - 1)
        tx_hash = hashlib.blake2b(
            f"{acct.index}:{key}:{self._tx_seq}:{time.time_ns()}".encode(), digest_size=40
        ).hexdigest()
        self._enqueue(partial(apply, tx_hash))
        return tx_hash

    def _check_tx(
        self, tx_type: int, raw: Any, planned: Mapping[tuple[int, int], int]
    ) -> tuple[Callable[[str], None], _Account, int, int]:
        """Check one tx synchronously; returns (apply(tx_hash), account, key, client index)."""
        info = w.parse_tx_info(tx_type, raw)
        acct = self._accounts.get(info["AccountIndex"])
        if acct is None:
            raise bad(w.CODE_ACCOUNT_NOT_FOUND, "account not found")
        key = info["ApiKeyIndex"]
        if key not in acct.keys:
            raise bad(w.CODE_API_KEY_NOT_FOUND, "api key not found")
        now_ms = int(time.time() * 1000)
        if info["ExpiredAt"] <= now_ms:
            raise bad(w.CODE_TX_EXPIRED, "invalid ExpiredAt: transaction expired")
        expected = acct.nonces[key] + planned.get((acct.index, key), 0)
        if info["Nonce"] != expected:
            raise bad(w.CODE_INVALID_NONCE, "invalid nonce")
        if tx_type == w.TX_CREATE_ORDER:
            coi = self._check_create(acct, info, now_ms, planned)
            return partial(self._apply_create, acct, info), acct, key, coi
        if tx_type == w.TX_CANCEL_ORDER:
            m = self._market_of(info)
            index = w.in_range(info, "Index", 0, 2**56, w.CODE_INVALID_TX_INFO)
            return partial(self._apply_cancel, acct, m, index), acct, key, 0
        if tx_type == w.TX_MODIFY_ORDER:
            m = self._market_of(info)
            index = w.in_range(info, "Index", 0, 2**56, w.CODE_INVALID_TX_INFO)
            amount = w.in_range(
                info, "BaseAmount", 1, w.MAX_BASE_AMOUNT, w.CODE_INVALID_BASE_AMOUNT
            )
            size = w.unscaled(amount, m.size_dp)
            if not m.inst.is_on_step(size):
                raise bad(
                    w.CODE_INVALID_BASE_AMOUNT,
                    f"invalid BaseAmount: not a multiple of {m.inst.step_size}",
                )
            price = self._check_price(m, info)
            if info["TriggerPrice"] != 0:
                raise bad(
                    w.CODE_INVALID_ORDER_TYPE,
                    "invalid TriggerPrice: trigger orders are not supported by the emulator",
                )
            return partial(self._apply_modify, acct, m, index, size, price), acct, key, 0
        # cancel all
        tif = w.in_range(info, "TimeInForce", 0, 2, w.CODE_INVALID_TIME_IN_FORCE)
        market = w.market_filter(info)
        if market is not None and market not in self._by_id:
            raise bad(w.CODE_INVALID_MARKET, f"invalid market index {market}")
        at = info["Time"]
        if tif == w.CANCEL_ALL_IMMEDIATE and at != 0:
            raise bad(w.CODE_INVALID_CANCEL_ALL_TIME, "invalid Time: must be 0 for immediate")
        if tif == w.CANCEL_ALL_SCHEDULED and not (
            now_ms + self.min_scheduled_cancel_ms <= at <= now_ms + _MAX_SCHEDULE_MS
        ):
            raise bad(
                w.CODE_INVALID_CANCEL_ALL_TIME,
                f"invalid Time: scheduled cancel-all must be {self.min_scheduled_cancel_ms} ms "
                "to 15 days ahead",
            )
        return partial(self._apply_cancel_all, acct, tif, at, market), acct, key, 0

    def _market_of(self, info: Mapping[str, Any]) -> _Market:
        m = self._by_id.get(info["MarketIndex"])
        if m is None:
            raise bad(w.CODE_INVALID_MARKET, f"invalid MarketIndex {info['MarketIndex']}")
        return m

    def _check_price(self, m: _Market, info: Mapping[str, Any]) -> Decimal:
        price_i = w.in_range(info, "Price", 1, w.MAX_PRICE, w.CODE_INVALID_PRICE)
        price = w.unscaled(price_i, m.price_dp)
        if not m.inst.is_on_tick(price):
            raise bad(w.CODE_INVALID_PRICE, f"invalid Price: not a multiple of {m.inst.tick_size}")
        return price

    def _check_create(
        self,
        acct: _Account,
        info: Mapping[str, Any],
        now_ms: int,
        planned: Mapping[tuple[int, int], int],
    ) -> int:
        m = self._market_of(info)
        coi = w.in_range(
            info, "ClientOrderIndex", 0, w.MAX_CLIENT_ORDER_INDEX, w.CODE_INVALID_CLIENT_ORDER_INDEX
        )
        for flag in ("IsAsk", "ReduceOnly"):
            w.in_range(info, flag, 0, 1, w.CODE_INVALID_TX_INFO)
        reduce_only = info["ReduceOnly"] == 1
        amount = w.in_range(
            info,
            "BaseAmount",
            0 if reduce_only else 1,
            w.MAX_BASE_AMOUNT,
            w.CODE_INVALID_BASE_AMOUNT,
        )
        size = w.unscaled(amount, m.size_dp)
        if not m.inst.is_on_step(size):
            raise bad(
                w.CODE_INVALID_BASE_AMOUNT,
                f"invalid BaseAmount: not a multiple of {m.inst.step_size}",
            )
        if not reduce_only and size < m.inst.min_size:
            raise bad(
                w.CODE_INVALID_BASE_AMOUNT,
                f"invalid BaseAmount: below the minimum {m.size(m.inst.min_size)}",
            )
        price = self._check_price(m, info)
        if m.inst.min_notional > 0 and not reduce_only and price * size < m.inst.min_notional:
            raise bad(
                w.CODE_INVALID_BASE_AMOUNT,
                f"invalid order: quote amount below {fmt(m.inst.min_notional, 6)}",
            )
        order_type = info["Type"]
        if order_type not in (w.ORDER_TYPE_LIMIT, w.ORDER_TYPE_MARKET):
            raise bad(
                w.CODE_INVALID_ORDER_TYPE,
                f"invalid Type {order_type}: only limit and market orders are emulated",
            )
        if info["TriggerPrice"] != 0:
            raise bad(
                w.CODE_INVALID_ORDER_TYPE,
                "invalid TriggerPrice: must be 0 for limit and market orders",
            )
        tif = w.in_range(info, "TimeInForce", 0, 2, w.CODE_INVALID_TIME_IN_FORCE)
        if order_type == w.ORDER_TYPE_MARKET and tif != w.TIF_IOC:
            raise bad(w.CODE_INVALID_TIME_IN_FORCE, "invalid TimeInForce: market orders are IOC")
        expiry = info["OrderExpiry"]
        earliest = now_ms + max(0, self.min_order_expiry_ms - _EXPIRY_SLACK_MS)
        if tif != w.TIF_IOC and not (
            earliest <= expiry <= now_ms + _MAX_ORDER_EXPIRY_MS + _EXPIRY_SLACK_MS
        ):
            raise bad(
                w.CODE_INVALID_ORDER_EXPIRY,
                "invalid OrderExpiry: must be 5 minutes to 30 days ahead",
            )
        if coi and (
            coi in acct.live_coi or acct.pending_coi.get(coi) or (acct.index, -coi) in planned
        ):
            raise bad(w.CODE_DUPLICATE_CLIENT_ORDER_INDEX, "client order index already exists")
        return coi

    # -- applying txs (on the loop, in arrival order) -----------------------------------

    def _enqueue(self, fn: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        self._apply_queue.append((loop.time() + self.apply_delay_ms / 1000, fn))
        if self._apply_handle is None:
            self._apply_handle = loop.call_at(self._apply_queue[0][0], self._drain_applies)

    def _drain_applies(self) -> None:
        loop = asyncio.get_running_loop()
        self._apply_handle = None
        while self._apply_queue and self._apply_queue[0][0] <= loop.time() + 1e-6:
            _, fn = self._apply_queue.popleft()
            try:
                fn()
                self.stats.txs_applied += 1
            except Exception:
                log.exception("lighter emulator: applying a tx failed")
            self._block += 1
        if self._apply_queue:
            self._apply_handle = loop.call_at(self._apply_queue[0][0], self._drain_applies)

    def _apply_create(self, acct: _Account, info: Mapping[str, Any], tx_hash: str) -> None:
        m = self._by_id[info["MarketIndex"]]
        coi = info["ClientOrderIndex"]
        if coi:
            left = acct.pending_coi.get(coi, 0) - 1
            if left > 0:
                acct.pending_coi[coi] = left
            else:
                acct.pending_coi.pop(coi, None)
        order_index = self._next_order_index
        self._next_order_index += 1
        is_ask = info["IsAsk"] == 1
        is_market = info["Type"] == w.ORDER_TYPE_MARKET
        tif = {
            w.TIF_IOC: "immediate-or-cancel",
            w.TIF_GTT: "good-till-time",
            w.TIF_POST_ONLY: "post-only",
        }[info["TimeInForce"]]
        reduce_only = info["ReduceOnly"] == 1
        size = w.unscaled(info["BaseAmount"], m.size_dp)
        if size == 0:  # reduce-only "close everything"
            pos = acct.pos_size.get(m.market_id, ZERO)
            size = abs(pos)
        now = self.venue.now_ms
        o = _Order(
            order_index=order_index,
            coi=coi,
            account=acct,
            market=m,
            is_ask=is_ask,
            type="market" if is_market else "limit",
            tif=tif,
            reduce_only=reduce_only,
            price=w.unscaled(info["Price"], m.price_dp),
            initial=size,
            nonce=info["Nonce"],
            order_expiry=info["OrderExpiry"],
            created_ms=now,
            updated_ms=now,
            sim_cid=f"L{order_index}",
        )
        acct.orders[order_index] = o
        acct.live[order_index] = o
        if coi:
            acct.live_coi[coi] = o
            acct.last_coi[coi] = o
        self._last_tx_hash[order_index] = tx_hash
        if size == 0:
            self._finish(o, "canceled-reduce-only")
            return
        self._submit(o, post_only=tif == "post-only", ioc=info["TimeInForce"] == w.TIF_IOC)

    def _submit(self, o: _Order, *, post_only: bool, ioc: bool) -> None:
        m = o.market
        self._orders_by_sim[(o.account.sim, o.sim_cid)] = o
        request = OrderRequest(
            client_id=o.sim_cid,
            symbol=m.inst.symbol,
            side=Side.SELL if o.is_ask else Side.BUY,
            size=o.initial - o.filled,
            type=OrderType.LIMIT,
            price=o.price,
            time_in_force=TimeInForce.IOC if ioc else TimeInForce.GTC,
            post_only=post_only,
            reduce_only=o.reduce_only,
        )
        ack = self.venue.submit(o.account.sim, request)
        if ack.status is OrderStatus.REJECTED:
            self._orders_by_sim.pop((o.account.sim, o.sim_cid), None)
            self._finish(o, _reject_status(ack.reason))
            log.info(
                "lighter emulator: order %d of %d ended at once: %s",
                o.order_index,
                o.account.index,
                ack.reason,
            )

    def _finish(self, o: _Order, status: str) -> None:
        if not o.live:
            return
        o.status = status
        o.updated_ms = self.venue.now_ms
        o.account.live.pop(o.order_index, None)
        if o.coi and o.account.live_coi.get(o.coi) is o:
            del o.account.live_coi[o.coi]
        self._orders_by_sim.pop((o.account.sim, o.sim_cid), None)
        self._mark_order(o)

    def _find_live(self, acct: _Account, m: _Market, index: int) -> _Order | None:
        if index < w.ORDER_INDEX_BASE:
            o = acct.live_coi.get(index) if index else None
        else:
            o = acct.orders.get(index)
        if o is None or not o.live or o.market is not m:
            return None
        return o

    def _apply_cancel(self, acct: _Account, m: _Market, index: int, tx_hash: str) -> None:
        o = self._find_live(acct, m, index)
        if o is None:
            log.info(
                "lighter emulator: cancel of unknown order %d (account %d): no-op",
                index,
                acct.index,
            )
            return
        self._cancel(o, None)

    def _cancel(self, o: _Order, status: str | None) -> None:
        o.cancel_status = status
        if not self.venue.cancel(o.account.sim, o.market.inst.symbol, o.sim_cid):
            self._finish(o, status or "canceled")

    def _apply_modify(
        self, acct: _Account, m: _Market, index: int, size: Decimal, price: Decimal, tx_hash: str
    ) -> None:
        o = self._find_live(acct, m, index)
        if o is None:
            log.info(
                "lighter emulator: modify of unknown order %d (account %d): no-op",
                index,
                acct.index,
            )
            return
        o.modifying = True
        try:
            gone = self.venue.cancel(acct.sim, m.inst.symbol, o.sim_cid)
        finally:
            o.modifying = False
        if not gone:
            return
        self._orders_by_sim.pop((acct.sim, o.sim_cid), None)
        o.version += 1
        o.sim_cid = f"L{o.order_index}.{o.version}"
        o.price = price
        o.initial = o.filled + size
        o.updated_ms = self.venue.now_ms
        self._last_tx_hash[o.order_index] = tx_hash
        self._mark_order(o)
        self._submit(o, post_only=o.tif == "post-only", ioc=False)

    def _apply_cancel_all(
        self, acct: _Account, tif: int, at: int, market: int | None, tx_hash: str
    ) -> None:
        if tif == w.CANCEL_ALL_IMMEDIATE:
            self._cancel_all(acct, market, None)
        elif tif == w.CANCEL_ALL_SCHEDULED:
            acct.schedule = (at, market)
        else:
            acct.schedule = None

    def _cancel_all(self, acct: _Account, market: int | None, status: str | None) -> int:
        targets = [o for o in acct.live.values() if market is None or o.market.market_id == market]
        for o in targets:
            self._cancel(o, status)
        return len(targets)

    # -- sim events (synchronous, on the loop) -----------------------------------------

    def _on_account(self, acct: _Account, event: Event) -> None:
        try:
            if isinstance(event, OrderUpdate):
                self._on_order_update(acct, event)
            elif isinstance(event, Fill):
                self._on_fill(acct, event)
            elif isinstance(event, Position):
                self._on_position(acct, event)
        except Exception:
            log.exception("lighter emulator: account event failed (%d: %r)", acct.index, event)

    def _on_order_update(self, acct: _Account, u: OrderUpdate) -> None:
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

    def _cancel_status(self, o: _Order, reason: str) -> str:
        if reason == "cancelled by user":
            return o.cancel_status or "canceled"
        if "self-trade" in reason:
            return "canceled-self-trade"
        if "reduce-only" in reason:
            return "canceled-reduce-only"
        return "canceled"  # IOC / market remainder, no liquidity

    def _on_fill(self, acct: _Account, f: Fill) -> None:
        o = self._orders_by_sim.get((acct.sim, f.client_id or ""))
        if o is None:
            log.warning("lighter emulator: fill for an unknown order %s", f)
            return
        m = o.market
        o.filled += f.size
        o.filled_quote += f.size * f.price
        o.updated_ms = f.ts_ms
        before = acct.pos_size.get(m.market_id, ZERO)
        acct.pos_size[m.market_id] = before + f.size * f.side.sign
        self._stash.append(_Stash(acct, o, f.side, f.liquidity, before))
        self._mark_order(o)

    def _on_position(self, acct: _Account, p: Position) -> None:
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
            self._new_trades.setdefault(s.account.index, []).append((m.market_id, tj))
        self._schedule_flush()

    def _trade_json(self, m: _Market, trade: Trade, stash: list[_Stash]) -> dict[str, Any]:
        taker_buys = trade.side is Side.BUY
        by_side: dict[Side, _Stash] = {s.side: s for s in stash}
        maker_side = Side.SELL if taker_buys else Side.BUY
        inst = m.inst
        ids: dict[Side, tuple[int, int, int]] = {}
        for side in (Side.BUY, Side.SELL):
            s = by_side.get(side)
            if s is not None:
                ids[side] = (s.order.order_index, s.order.coi, s.account.index)
            else:
                crowd = side is maker_side
                oid = _CROWD_IDS + (2 * self._trade_seq if crowd else 2 * self._trade_seq + 1)
                ids[side] = (oid, 0, CROWD_ACCOUNT if crowd else TAKER_ACCOUNT)
        taker = by_side.get(trade.side)
        maker = by_side.get(maker_side)
        tx_hash = (
            self._last_tx_hash.get(taker.order.order_index, "") if taker is not None else ""
        ) or hashlib.blake2b(f"trade-{self._trade_seq}".encode(), digest_size=40).hexdigest()
        us = trade.ts_ms * 1000

        def before(s: _Stash | None) -> tuple[str, str, bool]:
            if s is None:
                return m.size(ZERO), "0.000000", False
            after = s.size_before + trade.size * s.side.sign
            p = s.account.positions.get(m.market_id)
            entry = p.entry_price if p is not None else ZERO
            flipped = s.size_before != 0 and after != 0 and (s.size_before > 0) != (after > 0)
            return m.size(s.size_before), fmt(abs(s.size_before) * entry, 6), flipped

        t_size, t_quote, t_flip = before(taker)
        m_size, m_quote, m_flip = before(maker)
        buy, sell = ids[Side.BUY], ids[Side.SELL]
        return {
            "trade_id": self._trade_seq,
            "trade_id_str": str(self._trade_seq),
            "tx_hash": tx_hash,
            "type": "trade",
            "market_id": m.market_id,
            "size": m.size(trade.size),
            "price": m.price(trade.price),
            "usd_amount": fmt(trade.size * trade.price, 6),
            "ask_id": sell[0],
            "ask_id_str": str(sell[0]),
            "bid_id": buy[0],
            "bid_id_str": str(buy[0]),
            "ask_client_id": sell[1],
            "bid_client_id": buy[1],
            "ask_client_id_str": str(sell[1]),
            "bid_client_id_str": str(buy[1]),
            "ask_account_id": sell[2],
            "bid_account_id": buy[2],
            "is_maker_ask": taker_buys,
            "block_height": self._block,
            "timestamp": trade.ts_ms,
            "taker_fee": w.fee_rate_units(inst.taker_fee),
            "maker_fee": w.fee_rate_units(inst.maker_fee),
            "taker_position_size_before": t_size,
            "taker_entry_quote_before": t_quote,
            "taker_initial_margin_fraction_before": 500,
            "taker_position_sign_changed": t_flip,
            "maker_position_size_before": m_size,
            "maker_entry_quote_before": m_quote,
            "maker_initial_margin_fraction_before": 500,
            "maker_position_sign_changed": m_flip,
            "transaction_time": us,
            "bid_account_pnl": "0.000000",
            "ask_account_pnl": "0.000000",
            "integrator_maker_fee": 0,
            "integrator_maker_fee_collector_index": 0,
            "integrator_taker_fee": 0,
            "integrator_taker_fee_collector_index": 0,
            "taker_allocated_margin_usdc_before": 0,
            "taker_allocated_margin_usdc_after": 0,
            "maker_allocated_margin_usdc_before": 0,
            "maker_allocated_margin_usdc_after": 0,
            "bid_order_version": 0,
            "ask_order_version": 0,
            "market_symbol": m.wire,
            "market_kind": "perps",
        }

    def _on_heartbeat(self, now_ms: int) -> None:
        try:
            wall = int(time.time() * 1000)
            for acct in self._accounts.values():
                if acct.schedule is not None and acct.schedule[0] <= wall:
                    _, market = acct.schedule
                    acct.schedule = None
                    n = self._cancel_all(acct, market, None)
                    self.stats.schedules_fired += 1
                    log.info(
                        "lighter emulator: scheduled cancel-all of %d fired (%d orders)",
                        acct.index,
                        n,
                    )
                for o in [o for o in acct.live.values() if o.order_expiry > 0]:
                    if o.order_expiry <= wall:
                        self.stats.orders_expired += 1
                        self._cancel(o, "canceled-expired")
            self._push_market_stats()
        except Exception:
            log.exception("lighter emulator: heartbeat at %d ms failed", now_ms)

    # -- order-book feed -----------------------------------------------------------------

    def _on_book(self, symbol: str, changes: LevelChanges, seq: int, ts_ms: int) -> None:
        m = self._by_sim.get(symbol)
        if m is None or not changes:
            return
        channel = f"order_book:{m.market_id}"
        skip = self.faults.take_book_skip(m.wire) if self._subs.get(channel) else 0
        if skip:
            log.info("lighter emulator: breaking the nonce chain of %s by %d (fault)", m.wire, skip)
        begin = m.nonce + skip
        m.nonce = begin + 1
        m.offset += self._rng.randint(1, 3)
        if not self._subs.get(channel):
            return
        inst = m.inst
        asks = sorted((p, q) for side, p, q in changes if side is Side.SELL)
        bids = sorted(((p, q) for side, p, q in changes if side is Side.BUY), reverse=True)
        book = {
            "code": 0,
            "offset": m.offset,
            "nonce": m.nonce,
            "begin_nonce": begin,
            "asks": [self._level(inst, m, p, q) for p, q in asks],
            "bids": [self._level(inst, m, p, q) for p, q in bids],
        }
        self._publish(
            channel, "order_book", {"offset": m.offset, "timestamp": ts_ms, "order_book": book}
        )

    def _level(self, inst: Instrument, m: _Market, price: int, lots: int) -> dict[str, str]:
        return {
            "price": m.price(inst.ticks_to_price(price)),
            "size": m.size(inst.lots_to_size(lots)),
        }

    def _book_snapshot(self, m: _Market) -> dict[str, Any]:
        bids, asks, _ = self.venue.snapshot(m.inst.symbol, 10_000)
        m.offset += 1
        return {
            "offset": m.offset,
            "timestamp": self.venue.now_ms,
            "order_book": {
                "code": 0,
                "offset": m.offset,
                "nonce": m.nonce,
                "begin_nonce": max(0, m.nonce - 20),
                "asks": [self._level(m.inst, m, p, q) for p, q in asks],
                "bids": [self._level(m.inst, m, p, q) for p, q in bids],
            },
        }

    # -- JSON of orders, positions, stats -------------------------------------------------

    def _order_json(self, o: _Order) -> dict[str, Any]:
        m = o.market
        created_s = o.created_ms // 1000
        updated_s = o.updated_ms // 1000
        return {
            "order_index": o.order_index,
            "client_order_index": o.coi,
            "order_id": str(o.order_index),
            "client_order_id": str(o.coi),
            "market_index": m.market_id,
            "owner_account_index": o.account.index,
            "initial_base_amount": m.size(o.initial),
            "price": m.price(o.price),
            "nonce": o.nonce,
            "remaining_base_amount": m.size(o.remaining),
            "is_ask": o.is_ask,
            "base_size": w.scaled(o.initial, m.size_dp),
            "base_price": w.scaled(o.price, m.price_dp),
            "filled_base_amount": m.size(o.filled),
            "filled_quote_amount": fmt(o.filled_quote, 6),
            "side": "sell" if o.is_ask else "buy",
            "type": o.type,
            "time_in_force": o.tif,
            "reduce_only": o.reduce_only,
            "trigger_price": m.price(ZERO),
            "order_expiry": o.order_expiry,
            "status": o.status,
            "trigger_status": "na",
            "trigger_time": 0,
            "parent_order_index": 0,
            "parent_order_id": "0",
            "to_trigger_order_id_0": "0",
            "to_trigger_order_id_1": "0",
            "to_cancel_order_id_0": "0",
            "block_height": self._block,
            "timestamp": updated_s,
            "created_at": created_s,
            "updated_at": updated_s,
            "transaction_time": o.updated_ms * 1000,
            "integrator_fee_collector_index": "0",
            "integrator_maker_fee": "0",
            "integrator_taker_fee": "0",
            "order_flags": 0,
            "order_version": o.version,
            "market_symbol": m.wire,
            "market_kind": "perps",
        }

    def _position_json(self, acct: _Account, market_id: int) -> dict[str, Any]:
        m = self._by_id[market_id]
        p = acct.positions.get(market_id)
        if p is None:
            found = [q for q in self.venue.positions(acct.sim) if q.symbol == m.inst.symbol]
            p = found[0] if found else None
        size = p.size if p is not None else ZERO
        entry = p.entry_price if p is not None else ZERO
        mark = self._mid(m) or entry
        unrealized = (mark - entry) * size if size else ZERO
        live = sum(1 for o in acct.live.values() if o.market is m)
        return {
            "market_id": market_id,
            "symbol": m.wire,
            "initial_margin_fraction": "5.00",
            "open_order_count": live,
            "pending_order_count": 0,
            "position_tied_order_count": 0,
            "sign": 1 if size > 0 else (-1 if size < 0 else 0),
            "position": m.size(abs(size)),
            "avg_entry_price": m.price(entry),
            "position_value": fmt(abs(size) * mark, 6),
            "unrealized_pnl": fmt(unrealized, 6),
            "realized_pnl": fmt(p.realized_pnl if p is not None else ZERO, 6),
            "liquidation_price": "0",
            "margin_mode": 0,
            "allocated_margin": "0.000000",
            "total_discount": "0",
            "margin_set_flag": 0,
            "total_funding_paid_out": "0",
        }

    def _user_stats(self, acct: _Account) -> dict[str, Any]:
        collateral, total, available = self._money(acct)
        notional = ZERO
        for p in self.venue.positions(acct.sim):
            m = self._by_sim.get(p.symbol)
            if m is not None and p.size:
                notional += abs(p.size) * (self._mid(m) or p.entry_price)
        leverage = notional / total if total > 0 else ZERO
        usage = (total - available) / total * 100 if total > 0 else ZERO
        stats = {
            "collateral": fmt(collateral, 6),
            "portfolio_value": fmt(total, 6),
            "leverage": fmt(leverage, 4),
            "available_balance": fmt(available, 6),
            "margin_usage": fmt(usage, 2),
            "buying_power": fmt(available / _IMF, 6),
        }
        return stats | {"cross_stats": dict(stats), "total_stats": dict(stats)}

    def _market_stats(self, m: _Market) -> dict[str, Any]:
        mark = self._mid(m) or ZERO
        last = m.last_price if m.last_price is not None else mark
        first = m.first_price if m.first_price is not None else last
        hour = 3_600_000
        return {
            "symbol": m.wire,
            "market_id": m.market_id,
            "index_price": m.price(mark),
            "mark_price": m.price(mark),
            "open_interest": "0",
            "last_trade_price": m.price(last),
            "current_funding_rate": "0.0000",
            "funding_rate": "0.0000",
            "funding_timestamp": (self.venue.now_ms // hour + 1) * hour,
            "daily_base_token_volume": m.size(m.volume),
            "daily_quote_token_volume": fmt(m.quote_volume, 6),
            "daily_price_low": m.price(m.low if m.low is not None else last),
            "daily_price_high": m.price(m.high if m.high is not None else last),
            "daily_price_change": fmt((last - first) / first * 100 if first else ZERO, 4),
            "daily_trades_count": m.trade_count,
        }

    # -- pushing ---------------------------------------------------------------------------

    def _mark_order(self, o: _Order) -> None:
        self._dirty_orders.setdefault(o.account.index, {})[o.order_index] = o
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if self._flush_scheduled:
            return
        self._flush_scheduled = True
        try:
            asyncio.get_running_loop().call_soon(self._flush)
        except RuntimeError:  # no loop (direct use in a unit test): flush now
            self._flush()

    def _flush(self) -> None:
        self._flush_scheduled = False
        try:
            self._flush_public_trades()
            accounts = set(self._dirty_orders) | set(self._dirty_positions) | set(self._new_trades)
            for index in sorted(accounts):
                self._flush_account(self._accounts[index])
        except Exception:
            log.exception("lighter emulator: pushing account updates failed")
        finally:
            self._dirty_orders.clear()
            self._dirty_positions.clear()
            self._new_trades.clear()
            self._public_trades.clear()

    def _flush_public_trades(self) -> None:
        for market_id, trades in self._public_trades.items():
            self._publish(
                f"trade:{market_id}", "trade", {"trades": trades, "liquidation_trades": []}
            )

    def _flush_account(self, acct: _Account) -> None:
        a = acct.index
        acct.update_seq += 1
        orders = list(self._dirty_orders.get(a, {}).values())
        positions = sorted(self._dirty_positions.get(a, set()))
        trades = self._new_trades.get(a, [])
        if orders:
            by_market: dict[str, list[dict[str, Any]]] = {}
            for o in orders:
                by_market.setdefault(str(o.market.market_id), []).append(self._order_json(o))
            self._publish(f"account_all_orders:{a}", "account_all_orders", {"orders": by_market})
            for mk, lst in by_market.items():
                self._publish(
                    f"account_orders:{mk}:{a}",
                    "account_orders",
                    {"account": a, "nonce": acct.update_seq, "orders": {mk: lst}},
                )
        trades_by: dict[str, list[dict[str, Any]]] = {}
        for mk_id, tj in trades:
            trades_by.setdefault(str(mk_id), []).append(tj)
        if trades_by:
            self._publish(
                f"account_all_trades:{a}",
                "account_all_trades",
                self._trades_payload(acct, trades_by),
            )
        pos_json = {str(mk): self._position_json(acct, mk) for mk in positions}
        if pos_json:
            self._publish(
                f"account_all_positions:{a}",
                "account_all_positions",
                {"positions": pos_json, "shares": []},
            )
        if pos_json or trades_by:
            self._publish(
                f"account_all:{a}",
                "account_all",
                self._account_all_payload(acct, pos_json, trades_by),
            )
            self._publish(f"user_stats:{a}", "user_stats", {"stats": self._user_stats(acct)})

    def _trades_payload(
        self, acct: _Account, trades: dict[str, list[dict[str, Any]]]
    ) -> dict[str, Any]:
        volume = acct.volume
        return {
            "trades": trades,
            "total_volume": fmt(volume, 6),
            "monthly_volume": fmt(volume, 6),
            "weekly_volume": fmt(volume, 6),
            "daily_volume": fmt(volume, 6),
        }

    def _account_all_payload(
        self,
        acct: _Account,
        positions: dict[str, dict[str, Any]],
        trades: dict[str, list[dict[str, Any]]],
    ) -> dict[str, Any]:
        n = len(acct.trades)
        volume = acct.volume
        return {
            "account": acct.index,
            "positions": positions,
            "trades": trades,
            "funding_histories": {},
            "shares": [],
            "daily_trades_count": n,
            "daily_volume": fmt(volume, 6),
            "weekly_trades_count": n,
            "weekly_volume": fmt(volume, 6),
            "monthly_trades_count": n,
            "monthly_volume": fmt(volume, 6),
            "total_trades_count": n,
            "total_volume": fmt(volume, 6),
        }

    def _push_market_stats(self) -> None:
        if not any(subs for name, subs in self._subs.items() if name.startswith("market_stats")):
            return
        changed: dict[str, dict[str, Any]] = {}
        for m in self._by_id.values():
            stats = self._market_stats(m)
            sig = (stats["mark_price"], stats["last_trade_price"], m.trade_count)
            if sig == m.stats_sig:
                continue
            m.stats_sig = sig
            changed[str(m.market_id)] = stats
            self._publish(f"market_stats:{m.market_id}", "market_stats", {"market_stats": stats})
        if changed:
            self._publish("market_stats:all", "market_stats", {"market_stats": changed})

    def _publish(self, channel: str, kind: str, payload: dict[str, Any]) -> None:
        conns = self._subs.get(channel)
        if not conns:
            return
        text = _dumps({"type": f"update/{kind}", "channel": channel} | payload)
        for conn in list(conns):
            self._send(conn, text)

    def _send(self, conn: _Conn, text: str) -> None:
        self.sockets.send(conn, text)

    def _forget(self, conn: _Conn) -> None:
        for channel in conn.subs:
            subs = self._subs.get(channel)
            if subs is not None:
                subs.discard(conn)
        conn.subs.clear()

    # -- WebSocket ---------------------------------------------------------------------------

    async def _ws_handler(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=None, autoping=True, max_msg_size=1 << 20)
        if not ws.can_prepare(request).ok:
            return web.Response(status=404, text="WebSocket only")
        await ws.prepare(request)
        loop = asyncio.get_running_loop()
        self._session_seq += 1
        sid = hashlib.blake2b(
            f"session-{self._session_seq}-{time.time_ns()}".encode(), digest_size=8
        ).hexdigest()
        conn = _Conn(ws, request, sid, last_rx=loop.time())
        self.stats.ws_connections += 1
        self._send(conn, _dumps({"type": "connected", "session_id": sid}))
        keeper = asyncio.create_task(self._keeper(conn), name="lighter-ws-keeper")

        def on_text(conn: _Conn, text: str) -> None:
            conn.last_rx = loop.time()  # client traffic: not idle
            self._on_command(conn, text)

        try:
            await self.sockets.serve(conn, on_text)
        finally:
            keeper.cancel()
        return ws

    async def _keeper(self, conn: _Conn) -> None:
        """Server pings every ping_interval_s; close after idle_timeout_s without traffic."""
        loop = asyncio.get_running_loop()
        next_ping = loop.time() + self.ping_interval_s
        try:
            while not conn.ws.closed:
                now = loop.time()
                idle_at = conn.last_rx + self.idle_timeout_s
                if now >= idle_at:
                    self.stats.idle_disconnects += 1
                    log.info("lighter emulator: closing idle WebSocket %s", conn.session_id)
                    self.sockets.drop(conn)
                    await close_ws(conn.ws, 1000, b"idle timeout")
                    return
                if now >= next_ping:
                    self._send(conn, '{"type":"ping"}')
                    next_ping = now + self.ping_interval_s
                await asyncio.sleep(max(0.01, min(idle_at, next_ping) - loop.time()))
        except asyncio.CancelledError:
            raise

    def _ws_error(self, conn: _Conn, code: int, message: str) -> None:
        self._send(conn, _dumps({"error": {"code": code, "message": message}}))

    def _on_command(self, conn: _Conn, text: str) -> None:
        try:
            cmd = json.loads(text)
        except ValueError:
            self.stats.bad_frames += 1
            self._ws_error(conn, w.WS_INVALID_JSON, "invalid message: not JSON")
            return
        if not isinstance(cmd, dict) or not isinstance(cmd.get("type"), str):
            self.stats.bad_frames += 1
            self._ws_error(conn, w.WS_INVALID_MESSAGE, "invalid message: no type")
            return
        kind = cmd["type"]
        if kind == "ping":
            self._send(conn, '{"type":"pong"}')
            return
        if kind == "pong":
            return
        if kind in ("jsonapi/sendtx", "jsonapi/sendtxbatch"):
            self._ws_tx(conn, kind, cmd.get("data"))
            return
        if kind not in ("subscribe", "unsubscribe"):
            self.stats.bad_frames += 1
            self._ws_error(conn, w.WS_INVALID_MESSAGE, f"invalid message type: {kind}")
            return
        channel = cmd.get("channel")
        if not isinstance(channel, str):
            self.stats.bad_frames += 1
            self._ws_error(conn, w.WS_INVALID_CHANNEL, "invalid channel: missing")
            return
        parsed = self._parse_channel(channel)
        if parsed is None:
            self._ws_error(conn, w.WS_INVALID_CHANNEL, f"invalid channel: {channel}")
            return
        push_name, ch_kind, private, account = parsed
        if kind == "unsubscribe":
            if push_name not in conn.subs:
                self._ws_error(conn, w.WS_NOT_SUBSCRIBED, f"not subscribed: {channel}")
                return
            conn.subs.discard(push_name)
            self._subs.get(push_name, set()).discard(conn)
            return
        if push_name in conn.subs:
            self._ws_error(conn, w.WS_ALREADY_SUBSCRIBED, f"already subscribed: {channel}")
            return
        acct: _Account | None = None
        if account is not None:
            acct = self._accounts.get(account)
            if acct is None:
                self._ws_error(conn, w.CODE_ACCOUNT_NOT_FOUND, f"account not found: {channel}")
                return
        if private:
            auth = cmd.get("auth")
            try:
                self._check_token(auth if isinstance(auth, str) else None, account)
            except LighterError:
                self.stats.auth_refused += 1
                self._ws_error(
                    conn, w.CODE_INVALID_AUTH, f"invalid auth token for channel {channel}"
                )
                return
        snapshot = self._snapshot(ch_kind, push_name, acct)
        conn.subs.add(push_name)
        self._subs.setdefault(push_name, set()).add(conn)
        self._send(conn, _dumps({"type": f"subscribed/{ch_kind}", "channel": push_name} | snapshot))

    def _ws_tx(self, conn: _Conn, kind: str, data: Any) -> None:
        """``jsonapi/sendtx`` / ``jsonapi/sendtxbatch``: answered with a message of the same
        type whose ``data`` is the REST body (RespSendTx or the error) plus the caller's id."""
        if not isinstance(data, dict):
            self.stats.bad_frames += 1
            self._ws_error(conn, w.WS_INVALID_MESSAGE, f"invalid message: {kind} without data")
            return
        try:
            if kind == "jsonapi/sendtx":
                body = self._tx(data.get("tx_type"), data.get("tx_info"))
            else:
                body = self._tx_batch(data.get("tx_types"), data.get("tx_infos"))
        except LighterError as err:
            self.stats.txs_rejected += 1
            if err.code == w.CODE_INVALID_NONCE:
                self.stats.invalid_nonce += 1
            log.info("lighter emulator: WS tx refused: %s", err)
            body = err.body()
        self._send(conn, _dumps({"type": kind, "data": {"id": data.get("id")} | body}))

    def _parse_channel(self, channel: str) -> tuple[str, str, bool, int | None] | None:
        """(push name, kind, needs auth, account index) of a subscribe channel."""
        parts = channel.split("/")
        kind, args = parts[0], parts[1:]

        def num(text: str) -> int | None:
            return int(text) if text.isdigit() else None

        if kind in ("order_book", "trade") and len(args) == 1:
            mid = num(args[0])
            if mid is None or mid not in self._by_id:
                return None
            return f"{kind}:{mid}", kind, False, None
        if kind == "market_stats" and len(args) == 1:
            if args[0] == "all":
                return "market_stats:all", kind, False, None
            mid = num(args[0])
            if mid is None or mid not in self._by_id:
                return None
            return f"market_stats:{mid}", kind, False, None
        if (
            kind
            in (
                "account_all",
                "account_all_orders",
                "account_all_trades",
                "account_all_positions",
                "user_stats",
            )
            and len(args) == 1
        ):
            a = num(args[0])
            if a is None:
                return None
            return f"{kind}:{a}", kind, kind != "account_all", a
        if kind == "account_orders" and len(args) == 2:
            mid, a = num(args[0]), num(args[1])
            if mid is None or a is None or mid not in self._by_id:
                return None
            return f"{kind}:{mid}:{a}", kind, True, a
        return None

    def _snapshot(self, kind: str, name: str, acct: _Account | None) -> dict[str, Any]:
        if kind == "order_book":
            return self._book_snapshot(self._by_id[int(name.split(":")[1])])
        if kind == "trade":
            m = self._by_id[int(name.split(":")[1])]
            return {"trades": list(m.trades)[-50:], "liquidation_trades": []}
        if kind == "market_stats":
            arg = name.split(":")[1]
            if arg == "all":
                return {
                    "market_stats": {
                        str(m.market_id): self._market_stats(m) for m in self._by_id.values()
                    }
                }
            return {"market_stats": self._market_stats(self._by_id[int(arg)])}
        assert acct is not None
        positions = {
            str(m.market_id): self._position_json(acct, m.market_id)
            for m in self._position_markets(acct)
        }
        if kind == "account_all":
            return self._account_all_payload(acct, positions, {})
        if kind == "account_all_positions":
            return {"positions": positions, "shares": []}
        if kind == "account_all_trades":
            return self._trades_payload(acct, {})
        if kind == "user_stats":
            return {"stats": self._user_stats(acct)}
        live = list(acct.live.values())
        if kind == "account_all_orders":
            by_market: dict[str, list[dict[str, Any]]] = {}
            for o in live:
                by_market.setdefault(str(o.market.market_id), []).append(self._order_json(o))
            return {"orders": by_market}
        mid = int(name.split(":")[1])
        return {
            "account": acct.index,
            "nonce": acct.update_seq,
            "orders": {str(mid): [self._order_json(o) for o in live if o.market.market_id == mid]},
        }

    # -- helpers ---------------------------------------------------------------------------

    def _mid(self, m: _Market) -> Decimal | None:
        bids, asks, _ = self.venue.snapshot(m.inst.symbol, 1)
        if not bids or not asks:
            return None
        return m.inst.ticks_to_price(bids[0][0] + asks[0][0]) / 2


def _build_markets(venue: SimVenue) -> dict[str, _Market]:
    by_base: dict[str, Instrument] = {}
    for inst in venue.instruments.values():
        if inst.base in by_base:
            raise ValueError(f"lighter emulator: two instruments with base {inst.base}")
        by_base[inst.base] = inst
    ids: dict[str, int] = {b: i for b, i in _KNOWN_MARKET_IDS.items() if b in by_base}
    used = set(ids.values())
    for base in sorted(by_base):
        if base in ids:
            continue
        nxt = 0
        while nxt in used or nxt == w.NIL_MARKET:
            nxt += 1
        ids[base] = nxt
        used.add(nxt)
    out: dict[str, _Market] = {}
    for base, inst in by_base.items():
        out[base] = _Market(
            inst=inst,
            market_id=ids[base],
            wire=base,
            price_dp=w.decimals_of(inst.tick_size),
            size_dp=w.decimals_of(inst.step_size),
        )
    return out


def _reject_status(reason: str) -> str:
    if reason in _VALID_STATUSES:
        return reason
    if "post-only" in reason:
        return "canceled-post-only"
    if "reduce-only" in reason:
        return "canceled-reduce-only"
    if "self-trade" in reason:
        return "canceled-self-trade"
    return "canceled-margin-not-allowed"


def _json_list(value: Any, name: str) -> list[Any]:
    if isinstance(value, list):
        return value
    if not isinstance(value, str):
        raise bad(w.CODE_INVALID_PARAM, f"invalid param: {name} is required")
    try:
        parsed = json.loads(value)
    except ValueError:
        raise bad(w.CODE_INVALID_PARAM, f"invalid param: {name} is not a JSON array") from None
    if not isinstance(parsed, list):
        raise bad(w.CODE_INVALID_PARAM, f"invalid param: {name} is not a JSON array")
    return parsed


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def lighter_emulator(
    keys: Sequence[LighterKey],
    *,
    world: SimWorld | None = None,
    flow: FlowParams | None = None,
    port: int = 0,
    step_ms: int = 100,
    speed: float = 1.0,
    ping_interval_s: float = 60.0,
    idle_timeout_s: float = 120.0,
    min_scheduled_cancel_ms: int = 300_000,
    apply_delay_ms: int = 5,
    start_ms: int | None = None,
) -> EmulatorHarness:
    """An (unstarted) harness serving Lighter's dialect; use it as a context manager.

    ``harness.accounts`` maps ``"account_index:api_key_index"`` to the sim account, so
    ``harness.faults.reject_next_order("4242:3")`` works. The dialect
    (``harness.dialect``, a ``LighterDialect``) adds ``expire_tokens()``,
    ``set_nonce(a, k, v)``, ``stats`` and read helpers; call them through
    ``harness.call(lambda: ...)``."""
    if not keys:
        raise ValueError("lighter emulator: at least one key is needed")
    world = world or default_world("lighter", flow=flow)
    accounts = {f"{k.account_index}:{k.api_key_index}": k.account for k in keys}
    dialect = partial(
        LighterDialect,
        keys=tuple(keys),
        idle_timeout_s=idle_timeout_s,
        min_scheduled_cancel_ms=min_scheduled_cancel_ms,
        apply_delay_ms=apply_delay_ms,
        seed=world.seed,
    )
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
