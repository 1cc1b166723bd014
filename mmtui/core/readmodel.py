"""What the console reads: plain, immutable views of the engine's state.

Every view is built on request from the live state and shares nothing mutable
with it (frozen dataclasses, tuples, Decimals), so a widget can keep one
between frames and never change the engine by accident. Commands (start,
pause, flatten, ...) stay method calls on the ``Engine``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from connectors.base import ConnectionState, OpenOrder, OrderStatus, OrderType, Side, Trade
from connectors.position_math import PositionState
from mmtui.core.alerts import Alert, EventLog, alerts_since
from mmtui.core.clock import Clock
from mmtui.core.fill_history import FILLS_SHOWN, FillRecord, read_fills
from mmtui.core.insight import Insight
from mmtui.core.journal import Journal
from mmtui.core.latency import Latency, LatencyView
from mmtui.core.markets import Markets
from mmtui.core.orders import Order, OrderManager
from mmtui.core.params import ParamRow
from mmtui.core.pnl_history import PnlPoint
from mmtui.core.positions import PositionBook
from mmtui.core.risk import RiskEngine, RiskState
from mmtui.core.telemetry import TelemetryHub, TelemetryView
from mmtui.core.venue_views import (
    AccountView,
    HealthView,
    SessionInfo,
    account_views,
    health_views,
    tape,
)
from strategies.telemetry import Value

if TYPE_CHECKING:
    from mmtui.core.runner import StrategyRunner, StrategyState

Market = tuple[str, str]
BookStamp = tuple[int, bool, str]
"""(seq, synced, resync_reason): changes whenever the book does."""


@dataclass(frozen=True, slots=True)
class VenueView:
    name: str
    state: ConnectionState
    detail: str
    latency_ms: float | None
    frames: int
    bad_frames: int
    resyncs: int
    reconnects: int
    extra: tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True)
class HeaderView:
    mode: str
    run_id: str
    venues: tuple[VenueView, ...]
    risk_state: RiskState
    risk_reason: str
    session_pnl: Decimal
    now_ms: int
    attention: tuple[str, ...] = ()
    """What an operator should look at: inventory that disagrees with the account,
    other tools' orders, lost orders, fills of no order of ours."""
    recording: Path | None = None
    """Where the record toggle writes, while it is on (the status bar shows REC)."""


@dataclass(frozen=True, slots=True)
class PositionRow:
    """One position: the account's on a venue/symbol, or a strategy's own."""

    venue: str
    symbol: str
    base: str
    size: Decimal
    entry_price: Decimal
    mark: Decimal | None
    unrealized_pnl: Decimal
    realized_pnl: Decimal
    fees: Decimal
    notional: Decimal
    fills: int
    strategy: str | None = None


@dataclass(frozen=True, slots=True)
class OrderRow:
    client_id: str
    strategy: str | None
    venue: str
    symbol: str
    side: Side
    type: OrderType
    price: Decimal | None
    size: Decimal
    filled: Decimal
    remaining: Decimal
    status: OrderStatus
    post_only: bool
    reduce_only: bool
    cancel_requested: bool
    tag: str
    reason: str


@dataclass(frozen=True, slots=True)
class StrategyView:
    name: str
    kind: str
    venue: str
    symbol: str
    markets: tuple[Market, ...]
    state: StrategyState
    reason: str
    position: Decimal
    """Its own signed size on its main market (``venue``/``symbol``)."""
    pnl: Decimal
    """Realized + unrealized - fees of its own fills, over all its markets (the
    header's session PnL is the account's: every fill on every venue)."""
    fills: int
    live_orders: int
    telemetry: tuple[tuple[str, Value], ...]
    """Its latest telemetry values."""
    legs: tuple[tuple[str, str, Decimal], ...] = ()
    """(venue, symbol, its own signed size) on each of its markets, main first."""

    @property
    def note(self) -> str:
        """Why it is not running, else what it says it is doing."""
        return self.reason or str(dict(self.telemetry).get("state", ""))


@dataclass(frozen=True, slots=True)
class OurLevel:
    """The remaining size of our live orders at one price."""

    side: Side
    price: Decimal
    size: Decimal


@dataclass(frozen=True, slots=True)
class BookView:
    venue: str
    symbol: str
    valid: bool
    resync_reason: str
    asks: tuple[tuple[Decimal, Decimal], ...]
    """Best first (empty when the book is not valid)."""
    bids: tuple[tuple[Decimal, Decimal], ...]
    mid: Decimal | None
    spread: Decimal | None


@dataclass(frozen=True, slots=True)
class EventRow:
    ts_ms: int
    kind: str
    detail: str


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything but the books (``ReadModel.book`` reads those per ladder)."""

    header: HeaderView
    positions: tuple[PositionRow, ...]
    strategy_positions: tuple[PositionRow, ...]
    orders: tuple[OrderRow, ...]
    strategies: tuple[StrategyView, ...]
    events: tuple[EventRow, ...]


class ReadModel:
    """Views over the engine's state; nothing here changes it."""

    def __init__(
        self,
        *,
        mode: str,
        clock: Clock,
        markets: Markets,
        risk: RiskEngine,
        orders: OrderManager,
        positions: PositionBook,
        strategy_positions: PositionBook,
        strategies: Mapping[str, StrategyRunner],
        events: EventLog,
        session_pnl: Callable[[], Decimal],
        attention: Callable[[], tuple[str, ...]] = tuple,
        telemetry: TelemetryHub,
        foreign_orders: Callable[[], Mapping[str, Sequence[OpenOrder]]] = dict,
        insight: Insight | None = None,
        journal: Journal | None = None,
        started_ms: Callable[[], int] = int,
        latency: Latency | None = None,
        recording: Callable[[], Path | None] = lambda: None,
    ) -> None:
        self._mode = mode
        self._clock = clock
        self._markets = markets
        self._risk = risk
        self._orders = orders
        self._positions = positions
        self._strategy_positions = strategy_positions
        self._strategies = strategies
        self._events = events
        self._session_pnl = session_pnl
        self._attention = attention
        self._foreign_orders = foreign_orders
        self._telemetry = telemetry
        self._insight = insight
        self._journal = journal
        self._started_ms = started_ms
        self._latency = latency or Latency()
        self._recording = recording

    def snapshot(self) -> Snapshot:
        return Snapshot(
            header=self.header(),
            positions=self.positions(),
            strategy_positions=self.strategy_positions(),
            orders=self.orders(),
            strategies=self.strategies(),
            events=self.events(),
        )

    # -- header ---------------------------------------------------------------

    def header(self) -> HeaderView:
        return HeaderView(
            mode=self._mode,
            run_id=self._orders.run_prefix,
            venues=tuple(self._venue(name) for name in self._markets.status),
            risk_state=self._risk.state,
            risk_reason=self._risk.reason,
            session_pnl=self._session_pnl(),
            now_ms=self._clock.now_ms(),
            attention=self._attention(),
            recording=self._recording(),
        )

    def _venue(self, name: str) -> VenueView:
        status = self._markets.status[name]
        stats = self._markets.connectors[name].stats
        return VenueView(
            name=name,
            state=status.state,
            detail=status.detail,
            latency_ms=stats.latency_ms,
            frames=stats.frames,
            bad_frames=stats.bad_frames,
            resyncs=stats.resyncs,
            reconnects=stats.reconnects,
            extra=tuple(stats.extra.items()),
        )

    def venue_names(self) -> tuple[str, ...]:
        return tuple(self._markets.connectors)

    def markets(self) -> tuple[Market, ...]:
        """Every market the venues list, sorted."""
        return tuple(sorted(self._markets.instruments))

    # -- positions and orders -------------------------------------------------

    def positions(self) -> tuple[PositionRow, ...]:
        """The account's positions per venue/symbol (as our fills made them)."""
        rows = []
        for key, state in self._positions.items():
            venue, symbol = key  # type: ignore[misc]
            rows.append(self._position(venue, symbol, state, None))
        return tuple(rows)

    def strategy_positions(self, strategy: str | None = None) -> tuple[PositionRow, ...]:
        """Each strategy's own positions (all strategies, or ``strategy``'s)."""
        rows = []
        for key, state in self._strategy_positions.items():
            name, venue, symbol = key  # type: ignore[misc]
            if strategy is None or name == strategy:
                rows.append(self._position(venue, symbol, state, name))
        return tuple(rows)

    def _position(
        self, venue: str, symbol: str, state: PositionState, strategy: str | None
    ) -> PositionRow:
        mark = self._markets.mark(venue, symbol)
        inst = self._markets.instruments.get((venue, symbol))
        return PositionRow(
            venue=venue,
            symbol=symbol,
            base=inst.base if inst is not None else symbol,
            size=state.size,
            entry_price=state.entry_price,
            mark=mark,
            unrealized_pnl=state.unrealized_pnl(mark),
            realized_pnl=state.realized_pnl,
            fees=state.fees,
            notional=state.notional(mark),
            fills=state.fills,
            strategy=strategy,
        )

    def orders(
        self, *, venue: str | None = None, symbol: str | None = None, strategy: str | None = None
    ) -> tuple[OrderRow, ...]:
        """Our live orders, then (unless a strategy is asked for) the resting orders of
        other tools on the account, which we show and never touch."""
        ours = tuple(
            _order_row(o) for o in self._orders.live(venue=venue, symbol=symbol, strategy=strategy)
        )
        if strategy is not None:
            return ours
        theirs = tuple(
            _foreign_row(v, o)
            for v, listed in self._foreign_orders().items()
            if venue is None or v == venue
            for o in listed
            if symbol is None or o.symbol == symbol
        )
        return ours + theirs

    def our_levels(self, venue: str, symbol: str) -> tuple[OurLevel, ...]:
        """Our live priced orders on one book, summed per side and price."""
        sizes: dict[tuple[Side, Decimal], Decimal] = {}
        for order in self._orders.live(venue=venue, symbol=symbol):
            if order.price is not None:
                key = (order.side, order.price)
                sizes[key] = sizes.get(key, Decimal(0)) + order.remaining
        return tuple(OurLevel(side, price, size) for (side, price), size in sizes.items())

    # -- strategies -----------------------------------------------------------

    def strategy_names(self) -> tuple[str, ...]:
        return tuple(self._strategies)

    def strategies(self) -> tuple[StrategyView, ...]:
        return tuple(self._strategy(runner) for runner in self._strategies.values())

    def strategy(self, name: str) -> StrategyView | None:
        runner = self._strategies.get(name)
        return self._strategy(runner) if runner is not None else None

    def _strategy(self, runner: StrategyRunner) -> StrategyView:
        venue, symbol = runner.venue, runner.symbol
        state = self._strategy_positions.peek((runner.name, venue, symbol))
        if state is None:
            state = PositionState()
        legs, pnl, fills = [], Decimal(0), 0
        for v, sym in runner.markets:
            leg = self._strategy_positions.peek((runner.name, v, sym)) or PositionState()
            legs.append((v, sym, leg.size))
            pnl += leg.net_pnl(self._markets.mark(v, sym))
            fills += leg.fills
        return StrategyView(
            name=runner.name,
            kind=runner.kind,
            venue=venue,
            symbol=symbol,
            markets=tuple(runner.markets),
            state=runner.state,
            reason=runner.reason,
            position=state.size,
            pnl=pnl,
            fills=fills,
            live_orders=sum(1 for _ in self._orders.live(strategy=runner.name)),
            telemetry=view.values if (view := self._telemetry.view(runner.name)) else (),
            legs=tuple(legs),
        )

    def telemetry(self, name: str) -> TelemetryView | None:
        """What the core publishes for the strategy (``mmtui.core.telemetry``): the
        same view every exporter gets."""
        return self._telemetry.view(name) if name in self._strategies else None

    # -- books ----------------------------------------------------------------

    def book_stamp(self, venue: str, symbol: str) -> BookStamp | None:
        """Cheap: tells whether the book changed since a view was drawn (None: no book)."""
        book = self._markets.book(venue, symbol)
        return None if book is None else (book.seq, book.synced, book.resync_reason)

    def book(self, venue: str, symbol: str, levels: int) -> BookView | None:
        """``levels`` per side; None when the book is not subscribed."""
        book = self._markets.book(venue, symbol)
        if book is None:
            return None
        if not book.is_valid():
            return BookView(venue, symbol, False, book.resync_reason, (), (), None, None)
        return BookView(
            venue,
            symbol,
            True,
            book.resync_reason,
            tuple(book.asks(levels)),
            tuple(book.bids(levels)),
            book.mid(),
            book.spread(),
        )

    def tape(self, venue: str, symbol: str, limit: int) -> tuple[Trade, ...]:
        """The latest public trades on one market, newest first."""
        return tape(self._insight.watch, venue, symbol, limit) if self._insight else ()

    # -- venues: accounts, health ---------------------------------------------

    def accounts(self) -> tuple[AccountView, ...]:
        if self._insight is None:
            return ()
        return account_views(self._markets, self._insight.watch)

    def health(self) -> tuple[HealthView, ...]:
        if self._insight is None:
            return ()
        insight = self._insight
        return health_views(self._markets, insight.watch, insight.subscribed, self._clock.now_ms())

    def latency(self) -> LatencyView:
        """Tick-to-trade per market and the event loop's lag (``mmtui.core.latency``):
        the figures the metrics histograms hold, as quantiles of the latest samples."""
        return self._latency.view()

    def session_info(self, config_path: str = "") -> SessionInfo:
        return SessionInfo(
            run_id=self._orders.run_prefix,
            mode=self._mode,
            started_ms=self._started_ms(),
            now_ms=self._clock.now_ms(),
            config_path=config_path or "(none)",
            journal_path=str(self._journal.path) if self._journal is not None else "(off)",
        )

    # -- history and parameters -----------------------------------------------

    def pnl_history(self) -> tuple[PnlPoint, ...]:
        """Session PnL samples, total and per strategy, oldest first."""
        return tuple(self._insight.pnl.points) if self._insight is not None else ()

    @property
    def has_journal(self) -> bool:
        return self._journal is not None

    def journal_fills(self, limit: int = FILLS_SHOWN) -> tuple[FillRecord, ...]:
        """The journal's latest fills of every run, oldest first. Blocking (SQLite):
        call it from a thread, never the event loop."""
        return read_fills(self._journal, limit) if self._journal is not None else ()

    def params(self, strategy: str) -> tuple[ParamRow, ...]:
        """A strategy's parameters, each marked whether it may change while running."""
        return self._insight.params.rows(strategy) if self._insight is not None else ()

    # -- events ---------------------------------------------------------------

    def events(self, limit: int = 50) -> tuple[EventRow, ...]:
        """The latest engine events, oldest first."""
        return tuple(EventRow(*e) for e in self._events[-limit:])

    def alerts(self, after: int = 0) -> tuple[Alert, ...]:
        """Events an operator must acknowledge (a halt, a venue disconnect, a position
        mismatch, a failed flatten) numbered above ``after``, oldest first."""
        return alerts_since(self._events, after)


OTHER_TOOL = "(other tool)"


def _foreign_row(venue: str, o: OpenOrder) -> OrderRow:
    return OrderRow(
        client_id=f"{venue}:{o.venue_client_id or '-'}:{o.venue_order_id}",
        strategy=OTHER_TOOL,
        venue=venue,
        symbol=o.symbol,
        side=o.side,
        type=OrderType.LIMIT,
        price=o.price,
        size=o.size,
        filled=o.size - o.remaining_size,
        remaining=o.remaining_size,
        status=OrderStatus.OPEN,
        post_only=o.post_only,
        reduce_only=o.reduce_only,
        cancel_requested=False,
        tag="",
        reason="not ours: never touched",
    )


def _order_row(order: Order) -> OrderRow:
    return OrderRow(
        client_id=order.client_id,
        strategy=order.strategy,
        venue=order.venue,
        symbol=order.symbol,
        side=order.side,
        type=order.type,
        price=order.price,
        size=order.size,
        filled=order.filled,
        remaining=order.remaining,
        status=order.status,
        post_only=order.post_only,
        reduce_only=order.reduce_only,
        cancel_requested=order.cancel_requested,
        tag=order.tag,
        reason=order.reason,
    )
