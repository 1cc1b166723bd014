"""The Lighter emulator's state: keys, markets, accounts, orders, and the stash that pairs
the sim's fills with the trade they belong to. Plain data, no I/O."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import web

from connectors.base import ZERO, Instrument, Liquidity, Position, Side
from connectors.common.units import decimals_of
from connectors.lighter.emulator import wire as w
from connectors.sim.venue import SimVenue

CROWD_ACCOUNT = 1
"""The resting background liquidity's account (its orders are synthetic, >= 2**49)."""
TAKER_ACCOUNT = 2
"""The background takers' account."""
INSURANCE_FUND = 281474976710655
"""The counterparty of a liquidation (``market_config.insurance_fund_account_index`` of the
recorded ``orderBookDetails``)."""
CROWD_IDS = 2**49
KNOWN_MARKET_IDS = {"ETH": 0, "BTC": 1, "SOL": 2}
"""Lighter's own market ids (recorded: ETH 0, BTC 1)."""
DAY_MS = 86_400_000
MIN_ORDER_EXPIRY_MS = 5 * 60_000
MAX_ORDER_EXPIRY_MS = 30 * DAY_MS
EXPIRY_SLACK_MS = 60_000
MAX_SCHEDULE_MS = 15 * DAY_MS
TOKEN_MAX_S = 8 * 3600
MAX_BATCH = 50
RECENT_TRADES = 200
IMF = Decimal("0.05")
LIVE_STATUSES = ("in-progress", "pending", "open")
VALID_STATUSES = frozenset(
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
    txs_dropped: int = 0
    invalid_nonce: int = 0
    auth_refused: int = 0
    bad_frames: int = 0
    ws_connections: int = 0
    idle_disconnects: int = 0
    schedules_fired: int = 0
    schedules_armed: int = 0
    schedules_aborted: int = 0
    schedules_refused: int = 0
    """Scheduled cancel-alls answered 21712 (one was queued already)."""
    batches_accepted: int = 0
    rate_limited: int = 0
    """Requests refused by the tier's rate limit (429, 23000)."""
    quota_refused: int = 0
    orders_expired: int = 0
    liquidations: int = 0


@dataclass(slots=True)
class Market:
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
    trades: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=RECENT_TRADES))
    stats_sig: tuple[Any, ...] | None = None

    def price(self, value: Decimal) -> str:
        return w.fmt(value, self.price_dp)

    def size(self, value: Decimal) -> str:
        return w.fmt(value, self.size_dp)


@dataclass(eq=False, slots=True)
class Order:
    order_index: int
    coi: int
    account: Account
    market: Market
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
        return self.status in LIVE_STATUSES

    @property
    def remaining(self) -> Decimal:
        return self.initial - self.filled if self.live else ZERO


@dataclass(eq=False, slots=True)
class Account:
    index: int
    sim: str
    l1_address: str
    keys: dict[int, str] = field(default_factory=dict)
    nonces: dict[int, int] = field(default_factory=dict)
    """api key -> the nonce the API server expects next (executed + queued txs)."""
    executed: dict[int, int] = field(default_factory=dict)
    """api key -> one past the last nonce the sequencer executed (what ``nextNonce`` says)."""
    orders: dict[int, Order] = field(default_factory=dict)
    live: dict[int, Order] = field(default_factory=dict)
    """order index -> live order (a subset of ``orders``)."""
    by_coi: dict[int, list[Order]] = field(default_factory=dict)
    """client order index -> every order that carried it, oldest first (two live ones
    only under the ``book_duplicate_client_ids`` fault)."""
    pending_coi: dict[int, int] = field(default_factory=dict)
    """client index -> number of accepted, not yet applied creates."""
    trades: list[dict[str, Any]] = field(default_factory=list)
    volume: Decimal = ZERO
    schedule: tuple[int, int | None] | None = None
    """(wall-clock ms, market or None) of the scheduled cancel-all."""
    api_schedule: bool = False
    """Whether the API server sees a scheduled cancel-all queued (accepted txs counted)."""
    schedule_txs: int = 0
    """Scheduled cancel-alls accepted and not executed yet."""
    quota: Decimal | None = None
    """Premium volume quota (None until first used)."""
    last_free_tx: float = float("-inf")
    pos_size: dict[int, Decimal] = field(default_factory=dict)
    positions: dict[int, Position] = field(default_factory=dict)
    update_seq: int = 0

    def live_coi(self, coi: int) -> list[Order]:
        return [o for o in self.by_coi.get(coi, ()) if o.live]

    def last_coi(self, coi: int) -> Order | None:
        found = self.by_coi.get(coi)
        return found[-1] if found else None

    def forget(self, o: Order) -> None:
        """An order the venue keeps no record of (dropped without a report)."""
        self.orders.pop(o.order_index, None)
        self.live.pop(o.order_index, None)
        same = self.by_coi.get(o.coi)
        if same is not None:
            same[:] = [x for x in same if x is not o]
            if not same:
                del self.by_coi[o.coi]


@dataclass(eq=False, slots=True)
class Conn:
    ws: web.WebSocketResponse
    request: web.Request
    session_id: str
    queue: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    last_rx: float = 0.0


@dataclass(slots=True)
class Stash:
    """One side of a match, recorded from the sim's Fill until its Trade arrives."""

    account: Account
    order: Order
    side: Side
    liquidity: Liquidity
    size_before: Decimal


def build_markets(venue: SimVenue) -> dict[str, Market]:
    """Lighter names a perp by its base asset; ids as on the real venue where known, else
    the smallest free one in sorted order."""
    by_base: dict[str, Instrument] = {}
    for inst in venue.instruments.values():
        if inst.base in by_base:
            raise ValueError(f"lighter emulator: two instruments with base {inst.base}")
        by_base[inst.base] = inst
    ids: dict[str, int] = {b: i for b, i in KNOWN_MARKET_IDS.items() if b in by_base}
    used = set(ids.values())
    for base in sorted(by_base):
        if base in ids:
            continue
        nxt = 0
        while nxt in used or nxt == w.NIL_MARKET:
            nxt += 1
        ids[base] = nxt
        used.add(nxt)
    return {
        base: Market(
            inst=inst,
            market_id=ids[base],
            wire=base,
            price_dp=decimals_of(inst.tick_size),
            size_dp=decimals_of(inst.step_size),
        )
        for base, inst in by_base.items()
    }


def reject_status(reason: str) -> str:
    """The Lighter status of an order the sim refused with ``reason``."""
    if reason in VALID_STATUSES:
        return reason
    if "post-only" in reason:
        return "canceled-post-only"
    if "reduce-only" in reason:
        return "canceled-reduce-only"
    if "self-trade" in reason:
        return "canceled-self-trade"
    return "canceled-margin-not-allowed"


def json_list(value: Any, name: str) -> list[Any]:
    if isinstance(value, list):
        return value
    if not isinstance(value, str):
        raise w.bad(w.CODE_INVALID_PARAM, f"invalid param: {name} is required")
    try:
        parsed = json.loads(value)
    except ValueError:
        raise w.bad(w.CODE_INVALID_PARAM, f"invalid param: {name} is not a JSON array") from None
    if not isinstance(parsed, list):
        raise w.bad(w.CODE_INVALID_PARAM, f"invalid param: {name} is not a JSON array")
    return parsed


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))
