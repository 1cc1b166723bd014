"""The trading core: connectors in, strategies on top, every order through here.

Data flows one way: connector events -> order manager, positions, journal ->
strategies -> order intents -> risk -> rate-limited gateway -> connector.

``Engine`` runs the lifecycle, the strategy commands and the event intake, and
composes the parts that do the work: ``Markets`` (venues, instruments, status),
``OrderPath`` (intents out, order states and fills in), ``Flattener`` (cancel,
flatten, kill switch, shutdown's cancel step), ``Reconciler`` (our state against
the venues'), and the ``ReadModel`` the console reads (``engine.view``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from connectors.base import (
    ZERO,
    Balance,
    BookChanged,
    ConnectionChanged,
    ConnectionState,
    Connector,
    Event,
    Fill,
    FundingPayment,
    Instrument,
    OrderStatus,
    OrderUpdate,
    Position,
    Trade,
    VenueError,
    VenueOrder,
    WindsDown,
)
from connectors.book import OrderBook
from mmtui.core.alerts import EventLog
from mmtui.core.clock import Clock
from mmtui.core.flatten import Flattener
from mmtui.core.host import EngineHost
from mmtui.core.inflight import InflightChecker, InflightPolicy
from mmtui.core.insight import Insight
from mmtui.core.inventory import InventoryPolicy
from mmtui.core.journal import Journal, writable
from mmtui.core.markets import EngineError, Markets, VenueStatus
from mmtui.core.on_quit import dead_man_notes, exits_to_keep
from mmtui.core.order_path import OrderPath
from mmtui.core.orders import Order, OrderManager
from mmtui.core.position_guard import PositionGuard
from mmtui.core.positions import PositionBook
from mmtui.core.ratelimit import Priority, RateLimiter
from mmtui.core.readmodel import ReadModel, Snapshot
from mmtui.core.reconcile import Reconciler
from mmtui.core.record_switch import RecordSwitch
from mmtui.core.recovery import FillRecovery
from mmtui.core.risk import RiskEngine, RiskLimits, RiskState
from mmtui.core.risk_monitor import RiskMonitor
from mmtui.core.runner import StrategyRunner
from mmtui.core.summary import FlattenLine, FlattenReport, RunSummary, attention, run_summary
from mmtui.core.telemetry import TelemetryHub
from strategies.base import PlannedOrder, StrategyParams
from strategies.registry import strategy_class

__all__ = ["CLOSE_MARGIN_S", "Engine", "EngineError", "VenueStatus"]

log = logging.getLogger("mmtui.engine")

CLOSE_MARGIN_S = 1.0
"""How long the shutdown waits for the connections to close after its timeout's
cancel-and-verify step (a frozen venue's close is abandoned after this)."""


class Engine:
    """One trading session's core. Commands: the strategy commands, ``subscribe``,
    ``reset_risk``, ``shutdown``, and the parts' commands under the engine's name —
    ``submit_order``, ``request_cancel``, ``request_amend``, ``can_amend``
    (``OrderPath``); ``cancel_orders``, ``wait_terminal``, ``flatten``,
    ``kill_switch`` (``Flattener``); ``reconcile``, ``settle_earlier_orders``
    (``Reconciler``). The console reads ``view`` (``ReadModel``)."""

    def __init__(
        self,
        *,
        clock: Clock,
        connectors: dict[str, Connector],
        risk_limits: RiskLimits | None = None,
        journal: Journal | None = None,
        rate_limiters: dict[str, RateLimiter] | None = None,
        run_prefix: str | None = None,
        mode: str = "sim",
        reconcile_interval_s: float = 30.0,
        risk_interval_s: float = 0.25,
        inflight: InflightPolicy | None = None,
        inflight_interval_s: float = 1.0,
        inventory_policy: InventoryPolicy = InventoryPolicy.START_FLAT,
        telemetry_interval_s: float = 1.0,
    ) -> None:
        self.clock = clock
        self.mode = mode
        self.markets = Markets(connectors, clock.now_ms)
        self.connectors = self.markets.connectors
        self.instruments = self.markets.instruments
        self.venues = self.markets.status
        self.orders = OrderManager(run_prefix)
        self.positions = PositionBook()
        self.strategy_positions = PositionBook()
        self.risk = RiskEngine(risk_limits or RiskLimits())
        self.journal = journal
        self.strategies: dict[str, StrategyRunner] = {}
        self.events = EventLog()
        self.started_ms = 0
        self.stopped_ms = 0
        self.running = False
        self._reconcile_interval_s = reconcile_interval_s
        self._inflight_interval_s = inflight_interval_s
        self._telemetry_interval_s = telemetry_interval_s
        self.telemetry = TelemetryHub(clock.now_ms)
        """The one publisher of strategy telemetry: the console and exporters read it."""
        self._book_subscribers: dict[tuple[str, str], list[StrategyRunner]] = {}
        self._subscribed: set[tuple[str, str]] = set()
        self._background: set[asyncio.Task[Any]] = set()
        self.recovery = FillRecovery(
            list(connectors),
            history=self._fill_history,
            deliver=lambda fill: self.order_path.on_fill(fill),
            now_ms=clock.now_ms,
        )
        policy = inflight or InflightPolicy()
        self.order_path = OrderPath(
            clock=clock,
            markets=self.markets,
            orders=self.orders,
            positions=self.positions,
            strategy_positions=self.strategy_positions,
            risk=self.risk,
            journal=journal,
            strategies=self.strategies,
            rate_limiters=rate_limiters or {},
            accepting=lambda: self.running,
            note_event=self.note_event,
            first_sight=self.recovery.first_sight,
            amend_check_s=policy.amend_check_s,
        )
        self._gateways = self.order_path.gateways
        self.latency = self.order_path.latency  # tick-to-trade and loop lag (latency.py)
        self.inflight = InflightChecker(
            self.orders,
            lookup=self._lookup,
            settle=self._settle_lookup,
            lost=self.order_path.mark_lost,
            resend_cancel=self.order_path.resend_cancel,
            policy=policy,
        )
        self.flattener = Flattener(
            clock=clock,
            markets=self.markets,
            order_path=self.order_path,
            orders=self.orders,
            strategy_positions=self.strategy_positions,
            positions=self.positions,
            risk=self.risk,
            strategies=self.strategies,
            runner=self.runner,
            note_event=self.note_event,
        )
        self.guard = PositionGuard(
            positions=self.positions,
            strategies=self.strategies,
            now_ms=clock.now_ms,
            may_resume=lambda: self.risk.state is not RiskState.HALTED,
            note_event=self.note_event,
        )
        self.reconciler = Reconciler(
            clock=clock,
            connectors=self.connectors,
            gateways=self._gateways,
            venues=self.venues,
            orders=self.orders,
            positions=self.positions,
            strategy_positions=self.strategy_positions,
            strategies=self.strategies,
            journal=journal,
            order_changed=self.order_path.order_changed,
            note_event=self.note_event,
            inflight=self.inflight,
            recovery=self.recovery,
            guard=self.guard,
            inventory_policy=inventory_policy,
        )
        self.insight = Insight(
            clock=clock,
            markets=self.markets,
            gateways=self._gateways,
            risk=self.risk,
            strategies=self.strategies,
            strategy_positions=self.strategy_positions,
            session_pnl=self.session_pnl,
            subscribed=lambda: self._subscribed,
            note_event=self.note_event,
        )
        self.params = self.insight.params
        self.recording = RecordSwitch(
            self.markets, lambda: self._subscribed, lambda: clock.now_ms() * 1000
        )
        """The record toggle: the books and trades in use, to files, while on."""
        self.view = ReadModel(
            mode=mode,
            clock=clock,
            markets=self.markets,
            risk=self.risk,
            orders=self.orders,
            positions=self.positions,
            strategy_positions=self.strategy_positions,
            strategies=self.strategies,
            events=self.events,
            session_pnl=self.session_pnl,
            attention=self.attention,
            telemetry=self.telemetry,
            foreign_orders=lambda: self.reconciler.foreign_orders,
            insight=self.insight,
            journal=journal,
            started_ms=lambda: self.started_ms,
            latency=self.latency,
            recording=lambda: self.recording.out_dir,
        )
        # The parts' commands under the engine's name: callers keep one object.
        path, flattener, reconciler = self.order_path, self.flattener, self.reconciler
        self.submit_order = path.submit_order
        self.request_cancel = path.request_cancel
        self.can_amend = path.can_amend
        self.request_amend = path.request_amend
        self.wait_terminal = flattener.wait_terminal
        self.cancel_orders = flattener.cancel_orders
        self.flatten = flattener.flatten
        self.kill_switch = flattener.kill_switch
        self.reconcile = reconciler.reconcile
        self.settle_earlier_orders = reconciler.settle_earlier_orders
        self.monitor = RiskMonitor(
            clock=clock,
            risk=self.risk,
            session_pnl=self.session_pnl,
            strategies=self.strategies,
            orders=self.orders,
            request_cancel=path.request_cancel,
            note_event=self.note_event,
            interval_s=risk_interval_s,
        )
        self.check_risk = self.monitor.check
        self.halt_trading = self.monitor.halt
        self._host = EngineHost(
            clock=clock,
            markets=self.markets,
            orders=self.orders,
            positions=self.positions,
            strategy_positions=self.strategy_positions,
            order_path=self.order_path,
            note_event=self.note_event,
        )

    # -- read side ------------------------------------------------------------

    @property
    def run_prefix(self) -> str:
        return self.orders.run_prefix

    def instrument(self, venue: str, symbol: str) -> Instrument:
        return self.markets.instrument(venue, symbol)

    def book(self, venue: str, symbol: str) -> OrderBook | None:
        return self.markets.book(venue, symbol)

    def mark(self, venue: str, symbol: str) -> Decimal | None:
        return self.markets.mark(venue, symbol)

    def session_pnl(self) -> Decimal:
        total = ZERO
        for key, state in self.positions.items():
            venue, symbol = key  # type: ignore[misc]
            total += state.net_pnl(self.mark(venue, symbol))
        return total

    def attention(self, *, detailed: bool = False) -> tuple[str, ...]:
        """Notices of what the venues did that an operator should know (short for
        the header; ``detailed`` for the run summary): ``summary.attention``."""
        return attention(self, detailed=detailed)

    def snapshot(self) -> Snapshot:
        """Everything the console shows but the books, as immutable data."""
        return self.view.snapshot()

    def runner(self, name: str) -> StrategyRunner:
        try:
            return self.strategies[name]
        except KeyError:
            raise EngineError(f"no strategy named {name!r}") from None

    # -- lifecycle ------------------------------------------------------------

    async def start(self) -> None:
        """Connect every venue and load instruments; all or nothing."""
        if self.running:
            raise EngineError("engine already running")
        connected: list[Connector] = []
        try:
            for name, conn in self.connectors.items():
                self.venues[name].state = ConnectionState.CONNECTING
                await conn.connect(self._make_sink(name))
                connected.append(conn)
                for symbol, inst in (await conn.instruments()).items():
                    self.instruments[(name, symbol)] = inst
            held = await self.reconciler.read_start_positions()
        except Exception as exc:  # a venue's refusal is its own one line: no traceback
            log.error("engine start failed: %s", exc, exc_info=not isinstance(exc, VenueError))
            for conn in connected:
                try:
                    await conn.close()
                except Exception:
                    log.exception("closing %s after a failed start", conn.name)
            raise
        self.running = True
        self.started_ms = self.clock.now_ms()
        if self.journal is not None:
            self.journal.start()
        self.note_event("engine_started", f"run {self.run_prefix}, mode {self.mode}")
        self.reconciler.seed_positions(held)
        await self.reconciler.collect_earlier_orders()
        self._spawn_background(self.monitor.run(), "risk monitor", on_death=self.monitor.halt)
        self._spawn_background(
            self.reconciler.run_periodically(self._reconcile_interval_s), "reconcile"
        )
        self._spawn_background(
            self.reconciler.check_inflight(self._inflight_interval_s), "in-flight orders"
        )
        self._spawn_background(
            self.telemetry.run(self.clock.sleep, self._telemetry_interval_s), "telemetry"
        )
        self._spawn_background(
            self.orders.prune_every(10.0, self.clock.sleep, self.clock.now_ms), "order records"
        )
        self._spawn_background(self.latency.watch_loop(), "loop lag")
        for loop, what in self.insight.loops():
            self._spawn_background(loop, what)

    def add_strategy(
        self,
        name: str,
        kind: str,
        venue: str,
        symbol: str,
        params: StrategyParams | dict[str, Any] | None = None,
    ) -> StrategyRunner:
        if name in self.strategies:
            raise EngineError(f"a strategy named {name!r} already exists")
        cls = strategy_class(kind)
        self.instrument(venue, symbol)
        parsed = params if isinstance(params, StrategyParams) else cls.parse_params(params)
        try:
            tel = self.telemetry.store(name)
            runner = StrategyRunner(self._host, name, cls, venue, symbol, parsed, tel)
            for market in runner.markets:
                self.instrument(*market)
        except Exception:
            self.telemetry.discard(name)
            raise
        self.strategies[name] = runner
        return runner

    def preview_strategy(
        self,
        kind: str,
        venue: str,
        symbol: str,
        params: StrategyParams | dict[str, Any] | None = None,
    ) -> list[PlannedOrder]:
        """The orders a new strategy would place on the current books (nothing is sent)."""
        cls = strategy_class(kind)
        self.instrument(venue, symbol)
        parsed = params if isinstance(params, StrategyParams) else cls.parse_params(params)
        probe = StrategyRunner(self._host, f"preview-{kind}", cls, venue, symbol, parsed)
        return probe.strategy.preview()

    async def preview_with_books(
        self,
        kind: str,
        venue: str,
        symbol: str,
        params: StrategyParams | dict[str, Any] | None = None,
    ) -> list[PlannedOrder]:
        """``preview_strategy`` after subscribing every book the strategy reads."""
        cls = strategy_class(kind)
        parsed = params if isinstance(params, StrategyParams) else cls.parse_params(params)
        probe = StrategyRunner(self._host, f"preview-{kind}", cls, venue, symbol, parsed)
        await self.subscribe(probe.markets)
        return self.preview_strategy(kind, venue, symbol, parsed)

    async def start_strategy(self, name: str) -> None:
        runner = self.runner(name)
        if self.risk.state is RiskState.HALTED:
            raise EngineError(f"risk is HALTED ({self.risk.reason}); reset risk first")
        await self.subscribe(runner.markets)
        for market in runner.markets:
            self._book_subscribers.setdefault(market, [])
            if runner not in self._book_subscribers[market]:
                self._book_subscribers[market].append(runner)
        runner.start()
        self.note_event("strategy_started", name)

    def pause_strategy(self, name: str) -> None:
        self.runner(name).pause()
        self.guard.release(name, resumed=False)
        self.note_event("strategy_paused", name)

    def resume_strategy(self, name: str) -> None:
        if self.risk.state is RiskState.HALTED:
            raise EngineError(f"risk is HALTED ({self.risk.reason}); reset risk first")
        self.runner(name).resume()
        self.guard.release(name, resumed=True)
        self.note_event("strategy_resumed", name)

    def stop_strategy(self, name: str) -> None:
        self.runner(name).stop()
        self.guard.release(name, resumed=False)
        self.note_event("strategy_stopped", name)

    def reset_risk(self) -> None:
        if self.risk.set_state(RiskState.ACTIVE, "reset by operator"):
            self.note_event("risk", "reset to ACTIVE by operator")

    async def subscribe(self, markets: Iterable[tuple[str, str]]) -> None:
        """Make sure the connectors maintain these books (idempotent)."""
        by_venue: dict[str, list[str]] = {}
        for venue, symbol in markets:
            if (venue, symbol) not in self._subscribed:
                by_venue.setdefault(venue, []).append(symbol)
        for venue, symbols in by_venue.items():
            await self.connectors[venue].subscribe_books(symbols)
            self._subscribed.update((venue, s) for s in symbols)
            self.recording.follow((venue, s) for s in symbols)

    async def shutdown(self, timeout: float = 10.0) -> FlattenReport:
        """Stop strategies, cancel all our orders everywhere, report what is left.

        Bounded against a venue that never answers: cancelling and verifying (every
        venue at once) gets ``timeout`` seconds, closing the connections at most
        ``CLOSE_MARGIN_S`` more. Orders no venue confirmed in time are reported
        unverified, not gone. Then the journal is flushed — it waits as long as its
        writer makes progress — and rows it could not write fail the report."""
        report = FlattenReport(action="shutdown")
        if not self.running:
            return report
        self.stopped_ms = self.clock.now_ms()
        keep = exits_to_keep(self.strategies, self.orders)  # on_quit: keep_exits
        for name, runner in self.strategies.items():
            runner.stop("shutdown", keep=keep.get(name, ()))
        kept = frozenset().union(*keep.values())
        for conn in self.connectors.values():
            if isinstance(conn, WindsDown):
                conn.wind_down()  # nothing unsent leaves; the shutdown gets the venue's budget
        report = await self.flattener.cancel_everything("shutdown", timeout, keep=kept)
        self.telemetry.publish()  # the exporters' last frame
        for task in list(self._background):
            task.cancel()
        for key, _ in self.positions.items():
            self.markets.mark(*key)  # type: ignore[misc]  # the last mids, before the books go
        self.recording.stop()
        await self.markets.close_all(CLOSE_MARGIN_S)
        await self.order_path.late.settle_all()  # no fill comes any more
        self.running = False
        if report.kept:
            ids = ", ".join(o.client_id for o in report.kept)
            self.note_event("exits_kept", f"{len(report.kept)} left resting (on_quit): {ids}")
        report.notes.extend(dead_man_notes(self.connectors, report.kept))
        self.note_event("engine_stopped", report.headline())
        if self.journal is not None:
            ok, detail = await self.journal.close_report()
            report.lines.append(FlattenLine("journal", ok, detail))
        return report

    # -- events from connectors -----------------------------------------------

    def _make_sink(self, venue: str):
        def sink(event: Event) -> None:
            try:
                self._on_event(venue, event)
            except Exception:
                log.exception("%s: handling %r failed", venue, event)

        return sink

    def _on_event(self, venue: str, event: Event) -> None:
        self.recording.on_event(event)  # nothing while the record toggle is off
        if isinstance(event, BookChanged):
            self.latency.book_seen(event.venue, event.symbol)
            for runner in self._book_subscribers.get((event.venue, event.symbol), ()):
                runner.deliver_book(event.venue, event.symbol)
        elif isinstance(event, Fill):
            self.order_path.on_fill(event)
        elif isinstance(event, OrderUpdate):
            self.order_path.on_order_update(event)
        elif isinstance(event, Position):
            self.venues[venue].venue_positions[event.symbol] = event
            self.guard.recheck(venue, event.symbol, event.size)
        elif isinstance(event, Balance):
            self.venues[venue].balances[event.asset] = event
        elif isinstance(event, ConnectionChanged):
            status = self.venues[venue]
            was = status.state
            status.state, status.detail = event.state, event.detail
            self.note_event("connection", f"{venue}: {event.state.value} {event.detail}".strip())
            if was is ConnectionState.CONNECTED and event.state is not was:
                self.reconciler.stream_down(venue)  # fills from here on may be missed
            if (
                self.running
                and event.state is ConnectionState.CONNECTED
                and was in (ConnectionState.RECONNECTING, ConnectionState.DISCONNECTED)
            ):
                # Events may have been lost while away: make our books match the venue.
                self._spawn_background(self.reconciler.after_reconnect(venue), f"reconcile {venue}")
        elif isinstance(event, Trade):
            self.venues[venue].last_trade = event
            self.insight.watch.on_trade(event)
        elif isinstance(event, FundingPayment):
            self.insight.watch.on_funding(event)

    def note_event(self, kind: str, detail: str) -> None:
        now = self.clock.now_ms()
        self.events.record(now, kind, detail)
        log.info("%s: %s", kind, detail)
        if writable(self.journal):
            self.journal.record_event(ts_ms=now, kind=kind, detail=detail)

    # -- what the core asks the venues ------------------------------------------

    async def _fill_history(self, venue: str, since_ms: int) -> list[Fill]:
        conn = self.connectors[venue]
        return await self._gateways[venue].call(
            "fills", Priority.QUERY, lambda: conn.fills_since(since_ms)
        )

    async def _lookup(self, order: Order) -> VenueOrder | None:
        conn = self.connectors[order.venue]
        return await self._gateways[order.venue].call(
            "lookup_order",
            Priority.QUERY,
            lambda: conn.lookup_order(order.symbol, order.client_id),
        )

    def _settle_lookup(self, order: Order, found: VenueOrder) -> None:
        """What the venue says of one of our orders, asked by client id."""
        if found.filled_size > order.filled:
            self._spawn_background(
                self.recovery.recover(
                    order.venue,
                    f"{order.client_id} filled {found.filled_size}, we saw {order.filled}",
                    since_ms=order.created_ms,
                ),
                f"recover fills of {order.client_id}",
            )
        if found.status is OrderStatus.PENDING:
            return  # the venue has it and has not booked it yet
        reason = f"venue lookup{': ' + found.reason if found.reason else ''}"
        self.order_path.on_order_update(
            OrderUpdate(
                order.venue,
                order.symbol,
                order.client_id,
                found.venue_order_id,
                found.status,
                filled_size=found.filled_size,
                remaining_size=max(ZERO, found.size - found.filled_size),
                reason=reason,
            )
        )

    # -- background loops -----------------------------------------------------

    def _spawn_background(
        self, coro: Any, what: str, on_death: Callable[[str], None] | None = None
    ) -> None:
        """Run ``coro`` as a task the engine owns; ``on_death`` is told why when it
        ends by itself (an exception, or returning) rather than being cancelled."""
        task = asyncio.get_running_loop().create_task(coro, name=what)
        self._background.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._background.discard(t)
            if t.cancelled():
                return
            exc = t.exception()
            if exc is not None:
                log.error("background task %s died: %r", what, exc, exc_info=exc)
            if on_death is not None and self.running:
                on_death(f"{what} stopped: {exc!r}" if exc is not None else f"{what} ended")

        task.add_done_callback(done)

    # -- summary --------------------------------------------------------------

    def summary(self, *, open_orders_left: int | None = None) -> RunSummary:
        return run_summary(self, open_orders_left=open_orders_left)
