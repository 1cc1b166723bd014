"""The connector protocol and the types every venue speaks to the core.

Prices and sizes are exact ``Decimal`` values at this boundary, checked against
the instrument's tick and step size. Venue-specific forms (integer scalings,
decimal strings, signing integers) never leave a connector.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from connectors.common.errors import (  # noqa: F401 - re-exported: every connector's errors
    DUPLICATE_CLIENT_ID,
    ErrorCode,
    RateLimited,
    VenueError,
)

if TYPE_CHECKING:
    from connectors.book import OrderBook

ZERO = Decimal(0)


class Side(enum.Enum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY

    @staticmethod
    def closing(position_size: Decimal) -> Side:
        """The side that reduces a signed position."""
        return Side.SELL if position_size > 0 else Side.BUY


class OrderType(enum.Enum):
    LIMIT = "limit"
    MARKET = "market"


class TimeInForce(enum.Enum):
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"


class OrderStatus(enum.Enum):
    """The core's order state machine; see ``mmtui.core.orders``."""

    PENDING = "pending"
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    LOST = "lost"
    """The venue never reported the order and, asked by client id, does not know it
    (dropped without a report, or a request whose answer was lost and that never
    landed). Terminal: never a phantom live order."""

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    @property
    def is_live(self) -> bool:
        return not self.is_terminal


_TERMINAL = frozenset(
    {
        OrderStatus.FILLED,
        OrderStatus.CANCELLED,
        OrderStatus.REJECTED,
        OrderStatus.EXPIRED,
        OrderStatus.LOST,
    }
)


class Liquidity(enum.Enum):
    MAKER = "maker"
    TAKER = "taker"


class ConnectionState(enum.Enum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Instrument:
    """A tradable market as the core sees it: exact increments, venue-neutral names."""

    venue: str
    symbol: str
    base: str
    quote: str
    tick_size: Decimal
    step_size: Decimal
    min_size: Decimal
    min_notional: Decimal = ZERO
    max_leverage: Decimal | None = None
    maker_fee: Decimal = ZERO
    taker_fee: Decimal = ZERO
    contract_type: str = "perp"

    def round_price(self, price: Decimal, side: Side | None = None) -> Decimal:
        """Round to the tick grid; with a side, round passively (bids down, asks up)."""
        if side is Side.BUY:
            rounding = ROUND_FLOOR
        elif side is Side.SELL:
            rounding = ROUND_CEILING
        else:
            return (price / self.tick_size).quantize(Decimal(1)) * self.tick_size
        return (price / self.tick_size).to_integral_value(rounding) * self.tick_size

    def round_size(self, size: Decimal) -> Decimal:
        """Round a size down to the step grid (never sends more than asked)."""
        return (size / self.step_size).to_integral_value(ROUND_DOWN) * self.step_size

    def price_to_ticks(self, price: Decimal) -> int:
        return int((price / self.tick_size).to_integral_value())

    def ticks_to_price(self, ticks: int) -> Decimal:
        return ticks * self.tick_size

    def size_to_lots(self, size: Decimal) -> int:
        return int((size / self.step_size).to_integral_value())

    def lots_to_size(self, lots: int) -> Decimal:
        return lots * self.step_size

    def is_on_tick(self, price: Decimal) -> bool:
        return price % self.tick_size == 0

    def is_on_step(self, size: Decimal) -> bool:
        return size % self.step_size == 0


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What the core asks a venue to do. ``client_id`` is unique per run and venue."""

    client_id: str
    symbol: str
    side: Side
    size: Decimal
    type: OrderType = OrderType.LIMIT
    price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    reduce_only: bool = False


@dataclass(frozen=True, slots=True)
class OrderAck:
    """A venue's synchronous answer to a place request."""

    client_id: str
    venue_order_id: str | None
    status: OrderStatus
    reason: str = ""


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """A venue-reported change of one order's state (fills come as ``Fill``)."""

    venue: str
    symbol: str
    client_id: str | None
    venue_order_id: str | None
    status: OrderStatus
    filled_size: Decimal | None = None
    remaining_size: Decimal | None = None
    reason: str = ""
    ts_ms: int = 0


@dataclass(frozen=True, slots=True)
class Fill:
    venue: str
    symbol: str
    client_id: str | None
    venue_order_id: str | None
    side: Side
    price: Decimal
    size: Decimal
    fee: Decimal
    liquidity: Liquidity
    trade_id: str
    ts_ms: int


@dataclass(frozen=True, slots=True)
class OpenOrder:
    """A resting order as the venue lists it (for reconcile and restart rebuild)."""

    venue: str
    symbol: str
    client_id: str | None
    venue_order_id: str
    side: Side
    price: Decimal
    size: Decimal
    remaining_size: Decimal
    post_only: bool = False
    reduce_only: bool = False
    venue_client_id: str | None = None
    """The client id exactly as the venue listed it (its wire form, as a string),
    so the core can prove an order is its own against what it sent."""


@dataclass(frozen=True, slots=True)
class VenueOrder:
    """One order as the venue reports it when asked by client id, in any state."""

    venue: str
    symbol: str
    client_id: str | None
    venue_order_id: str | None
    status: OrderStatus
    """OPEN / PARTIALLY_FILLED while resting (PENDING: the venue has it but has not
    booked it yet); FILLED / CANCELLED / EXPIRED / REJECTED once done."""
    side: Side
    price: Decimal | None
    size: Decimal
    filled_size: Decimal
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Position:
    """A venue-reported position: ``size`` is signed (short < 0)."""

    venue: str
    symbol: str
    size: Decimal
    entry_price: Decimal
    unrealized_pnl: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    ts_ms: int = 0


@dataclass(frozen=True, slots=True)
class Balance:
    venue: str
    asset: str
    total: Decimal
    available: Decimal


@dataclass(frozen=True, slots=True)
class Trade:
    """A public trade print: ``side`` is the taker's, ``ts_ms`` the venue's time."""

    venue: str
    symbol: str
    side: Side
    price: Decimal
    size: Decimal
    ts_ms: int
    trade_id: str = ""
    """The venue's id of the trade ("" when it gives none)."""


@dataclass(frozen=True, slots=True)
class BookChanged:
    """The connector's book for ``symbol`` changed (read it through ``Connector.book``)."""

    venue: str
    symbol: str
    ts_ms: int


@dataclass(frozen=True, slots=True)
class ConnectionChanged:
    venue: str
    state: ConnectionState
    detail: str = ""


@dataclass(frozen=True, slots=True)
class FundingPayment:
    """Funding the venue settled on our position in one market: ``amount`` is what
    the account got, in the collateral asset (negative: we paid)."""

    venue: str
    symbol: str
    amount: Decimal
    rate: Decimal
    """The funding rate of the interval settled (positive: longs pay shorts)."""
    position_size: Decimal
    ts_ms: int


@dataclass(frozen=True, slots=True)
class MarketAccount:
    """One market of an account as the venue states it (None: the venue does not say)."""

    symbol: str
    position_size: Decimal = ZERO
    leverage: Decimal | None = None
    liquidation_price: Decimal | None = None
    funding_rate: Decimal | None = None
    """The rate of the funding interval now running (positive: longs pay shorts)."""
    next_funding_ms: int | None = None
    funding: Decimal = ZERO
    """Funding the account got on this market so far (negative: it paid)."""


@dataclass(frozen=True, slots=True)
class AccountState:
    """A venue account: collateral, margin and its markets' funding, as one reading."""

    venue: str
    balances: tuple[Balance, ...]
    equity: Decimal | None = None
    margin_used: Decimal | None = None
    available: Decimal | None = None
    leverage: Decimal | None = None
    """Open notional / equity."""
    markets: tuple[MarketAccount, ...] = ()
    ts_ms: int = 0


Event = (
    OrderUpdate
    | Fill
    | Position
    | Balance
    | Trade
    | BookChanged
    | ConnectionChanged
    | FundingPayment
)

EventSink = Callable[[Event], None]
"""Connectors call the sink from the event loop, never from another thread, and
never re-entrantly from inside a core call into the connector."""


@dataclass(slots=True)
class ConnectorStats:
    """Counters a connector keeps for the console."""

    latency_ms: float | None = None
    frames: int = 0
    bad_frames: int = 0
    resyncs: int = 0
    reconnects: int = 0
    extra: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class Connector(Protocol):
    """One venue, as the core uses it. Everything venue-specific stays behind this."""

    name: str
    stats: ConnectorStats

    async def connect(self, sink: EventSink) -> None:
        """Open sessions and streams; events start flowing to ``sink``."""

    async def close(self) -> None: ...

    @property
    def state(self) -> ConnectionState: ...

    async def instruments(self) -> dict[str, Instrument]: ...

    async def subscribe_books(self, symbols: list[str]) -> None: ...

    def book(self, symbol: str) -> OrderBook | None:
        """The live L2 book the connector maintains, or None if not subscribed."""

    async def place(self, request: OrderRequest) -> OrderAck: ...

    async def cancel(self, symbol: str, client_id: str) -> bool:
        """Cancel one of our orders by client id; False if the venue no longer has it."""

    async def cancel_all(
        self, symbol: str | None = None, client_id_prefix: str | None = None
    ) -> int:
        """Cancel our orders (those whose client id starts with the prefix, when
        given), on one symbol when given. Returns how many were cancelled."""

    async def open_orders(self, symbol: str | None = None) -> list[OpenOrder]: ...

    async def lookup_order(self, symbol: str, client_id: str) -> VenueOrder | None:
        """Our order with this client id as the venue knows it now, resting or done.

        None only when the venue positively does not know the id (never placed,
        dropped without a report); raises ``VenueError`` when it cannot tell."""

    async def fills_since(self, since_ms: int, symbol: str | None = None) -> list[Fill]:
        """The account's fills at or after ``since_ms`` (venue time), oldest first,
        every page read; the same ``Fill`` form as the stream's (trade ids equal),
        so the core can recover fills missed while the private stream was down."""

    def venue_client_id(self, client_id: str) -> str:
        """Our client id in the venue's wire form, as ``OpenOrder.venue_client_id``
        would list it (what the journal keeps as proof the order is ours)."""

    async def positions(self) -> list[Position]: ...

    async def balances(self) -> list[Balance]: ...


@runtime_checkable
class DeadManSwitched(Protocol):
    """A connector whose venue cancels our orders by a dead-man's switch (optional)."""

    @property
    def dead_man_armed(self) -> bool | None:
        """None: no switch configured. True: the venue may still cancel our orders by
        it (armed, or its disarming at close was not confirmed). False: disarmed."""


@runtime_checkable
class Withdrawable(Protocol):
    """A connector that holds our order requests before they leave (a venue budget paced
    inside it) and can take one back or change it while it waits (optional).

    A place taken back was never sent: the venue provably never had it, and its ``place``
    call answers ``OrderStatus.CANCELLED`` (a terminal state the core needs no venue to
    confirm)."""

    def withdraw(self, symbol: str, client_id: str) -> bool:
        """Take back our place of ``client_id`` if it has not left; False when it has (or
        is not held): cancel it the usual way."""

    def restate(self, symbol: str, client_id: str, size: Decimal, price: Decimal) -> bool:
        """Our place of ``client_id`` that has not left leaves with this ``size`` (its
        whole size: nothing of it filled) and ``price`` instead; False when it has left or
        the terms do not fit the market (cancel and place instead)."""


@runtime_checkable
class WindsDown(Protocol):
    """A connector told when a shutdown begins (optional)."""

    def wind_down(self) -> None:
        """A shutdown begins: drop what has not left and keep the venue's budget for the
        shutdown's cancels and the checks that verify them."""


@runtime_checkable
class AccountReader(Protocol):
    """A connector that reads the account's margin and funding (optional). It may set
    ``account_poll_s``: the least seconds between two readings its venue's request
    budget affords (the core's default otherwise)."""

    async def read_account(self, symbols: list[str]) -> AccountState:
        """Balances, margin, leverage, and per market in ``symbols`` (plus any with a
        position): liquidation price, the funding rate and its next settlement, the
        funding the account got. Raises ``VenueError`` when the venue cannot say."""


@runtime_checkable
class Modifiable(Protocol):
    """A connector whose venue changes a resting order in one request (optional)."""

    async def modify(self, symbol: str, client_id: str, size: Decimal, price: Decimal) -> None:
        """Move our order to ``price`` with ``size`` remaining; it keeps its client id.
        Raises ``VenueError`` when the venue refuses."""
