"""The trading core: connectors in, strategies on top, every order through here.

Data flows one way: connector events -> order manager, positions, journal ->
strategies -> order intents -> risk -> rate-limited gateway -> connector.
The UI only reads ``snapshot()`` and calls the command methods.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
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
    Instrument,
    Modifiable,
    OpenOrder,
    OrderAck,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Position,
    Side,
    TimeInForce,
    Trade,
    VenueError,
)
from connectors.book import OrderBook
from mmtui.core.clock import Clock
from mmtui.core.gateway import VenueGateway
from mmtui.core.journal import Journal
from mmtui.core.orders import CLIENT_ID_MARK, Order, OrderManager
from mmtui.core.positions import PositionBook
from mmtui.core.ratelimit import Priority, RateLimiter
from mmtui.core.risk import RiskEngine, RiskInput, RiskLimits, RiskState
from mmtui.core.runner import StrategyRunner, StrategyState
from mmtui.core.summary import FlattenLine, FlattenReport, RunSummary, VenuePosition
from strategies.base import PlannedOrder, StrategyParams
from strategies.registry import strategy_class

log = logging.getLogger("mmtui.engine")
fills_log = logging.getLogger("mmtui.fills")


class EngineError(Exception):
    """The engine cannot do what was asked (bad name, not started, ...)."""


@dataclass(slots=True)
class VenueStatus:
    state: ConnectionState = ConnectionState.DISCONNECTED
    detail: str = ""
    venue_positions: dict[str, Position] = field(default_factory=dict)
    balances: dict[str, Balance] = field(default_factory=dict)
    last_trade: Trade | None = None


class Engine:
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
    ) -> None:
        self.clock = clock
        self.mode = mode
        self.connectors = dict(connectors)
        self.orders = OrderManager(run_prefix)
        self.positions = PositionBook()
        self.strategy_positions = PositionBook()
        self.risk = RiskEngine(risk_limits or RiskLimits())
        self.journal = journal
        self.strategies: dict[str, StrategyRunner] = {}
        self.venues: dict[str, VenueStatus] = {name: VenueStatus() for name in connectors}
        self.instruments: dict[tuple[str, str], Instrument] = {}
        self.events: list[tuple[int, str, str]] = []
        self.started_ms = 0
        self.stopped_ms = 0
        self.running = False
        self._reconcile_interval_s = reconcile_interval_s
        self._risk_interval_s = risk_interval_s
        self._book_subscribers: dict[tuple[str, str], list[StrategyRunner]] = {}
        self._subscribed: set[tuple[str, str]] = set()
        self._gateways = {
            name: VenueGateway(
                conn,
                (rate_limiters or {}).get(name),
                on_ack=self._on_ack,
                on_cancel_result=self._on_cancel_result,
            )
            for name, conn in connectors.items()
        }
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._earlier_orders: dict[str, list[OpenOrder]] = {}
        self._background: set[asyncio.Task[Any]] = set()

    # -- read side ------------------------------------------------------------

    @property
    def run_prefix(self) -> str:
        return self.orders.run_prefix

    def instrument(self, venue: str, symbol: str) -> Instrument:
        try:
            return self.instruments[(venue, symbol)]
        except KeyError:
            raise EngineError(f"unknown market {venue}/{symbol}") from None

    def book(self, venue: str, symbol: str) -> OrderBook | None:
        conn = self.connectors.get(venue)
        return conn.book(symbol) if conn is not None else None

    def mark(self, venue: str, symbol: str) -> Decimal | None:
        book = self.book(venue, symbol)
        return book.mid() if book is not None and book.is_valid() else None

    def session_pnl(self) -> Decimal:
        total = ZERO
        for key, state in self.positions.items():
            venue, symbol = key  # type: ignore[misc]
            total += state.net_pnl(self.mark(venue, symbol))
        return total

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
        except Exception:
            log.exception("engine start failed; closing %d connected venues", len(connected))
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
        await self._seed_positions()
        await self._collect_earlier_orders()
        self._spawn_background(self._risk_loop(), "risk monitor")
        self._spawn_background(self._reconcile_loop(), "reconcile")

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
        runner = StrategyRunner(self, name, cls, venue, symbol, parsed)
        for market in runner.markets:
            self.instrument(*market)
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
        probe = StrategyRunner(self, f"preview-{kind}", cls, venue, symbol, parsed)
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
        probe = StrategyRunner(self, f"preview-{kind}", cls, venue, symbol, parsed)
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
        self.note_event("strategy_paused", name)

    def resume_strategy(self, name: str) -> None:
        if self.risk.state is RiskState.HALTED:
            raise EngineError(f"risk is HALTED ({self.risk.reason}); reset risk first")
        self.runner(name).resume()
        self.note_event("strategy_resumed", name)

    def stop_strategy(self, name: str) -> None:
        self.runner(name).stop()
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

    async def shutdown(self, timeout: float = 10.0) -> FlattenReport:
        """Stop strategies, cancel all our orders everywhere, report what is left."""
        report = FlattenReport(action="shutdown")
        if not self.running:
            return report
        self.stopped_ms = self.clock.now_ms()
        for runner in self.strategies.values():
            runner.stop("shutdown")
        try:
            report = await asyncio.wait_for(self._cancel_everything("shutdown"), timeout)
        except TimeoutError:
            report.lines.append(FlattenLine("*", False, f"shutdown timed out after {timeout}s"))
        for task in list(self._background):
            task.cancel()
        for name, conn in self.connectors.items():
            try:
                await asyncio.wait_for(conn.close(), 5.0)
            except Exception:
                log.exception("closing %s", name)
            self.venues[name].state = ConnectionState.CLOSED
        self.running = False
        self.note_event("engine_stopped", report.headline())
        if self.journal is not None:
            await self.journal.aclose()
        return report

    # -- orders ---------------------------------------------------------------

    def submit_order(
        self,
        *,
        venue: str,
        symbol: str,
        side: Side,
        size: Decimal,
        price: Decimal | None,
        order_type: OrderType = OrderType.LIMIT,
        time_in_force: TimeInForce = TimeInForce.GTC,
        post_only: bool = False,
        reduce_only: bool = False,
        strategy: str | None = None,
        tag: str = "",
        bypass_risk: bool = False,
    ) -> Order:
        """Create, risk-check and send an order. Never blocks: returns the order at once."""
        now = self.clock.now_ms()
        inst = self.instrument(venue, symbol)
        order = self.orders.create(
            venue=venue,
            symbol=symbol,
            side=side,
            size=size,
            price=price,
            now_ms=now,
            order_type=order_type,
            time_in_force=time_in_force,
            post_only=post_only,
            reduce_only=reduce_only,
            strategy=strategy,
            tag=tag,
        )
        reason: str | None
        if not self.running:
            reason = "engine not running"
        elif bypass_risk:
            reason = None
        else:
            reason = self.risk.check(
                RiskInput(
                    instrument=inst,
                    side=side,
                    size=size,
                    price=price,
                    order_type=order_type,
                    reduce_only=reduce_only,
                    position=self.positions.get((venue, symbol)).size,
                    open_same_side=self.orders.open_size(venue, symbol, side, exclude=order),
                    open_orders=self.orders.live_count() - 1,
                    book=self.book(venue, symbol),
                ),
                now,
            )
        if reason is not None:
            self.orders.reject(order, f"risk: {reason}", now)
            self._journal_order(order)
            # Never call back into the strategy from inside its own place() call.
            asyncio.get_running_loop().call_soon(self._notify_order, order)
            return order
        self.orders.mark_sent(order)
        self._journal_order(order)
        self._gateways[venue].place(order)
        return order

    def request_cancel(self, order: Order) -> bool:
        """Ask the venue to cancel; False if the order is not live."""
        if not order.is_live:
            return False
        first = not order.cancel_requested
        self.orders.mark_cancel_requested(order)
        if order.status is OrderStatus.PENDING and order.venue_order_id is None:
            return True  # the cancel goes out when the place is acknowledged
        if first:
            self._gateways[order.venue].cancel(order)
        return True

    def can_amend(self, venue: str) -> bool:
        """The venue changes a resting order's price/size in one request."""
        return isinstance(self.connectors[venue], Modifiable)

    def request_amend(self, order: Order, price: Decimal, size: Decimal | None = None) -> bool:
        """Move a resting limit order to ``price`` (and ``size``: the new total; default
        unchanged) in one venue request instead of a cancel and a new order.

        False, and nothing sent, when the venue cannot modify orders, the order is not
        resting (pending, cancelling, already amending) or the risk check refuses the
        new terms: the caller then cancels and places as usual. The order keeps its
        client id; its price and size change once the venue accepted the request.
        """
        if (
            not self.running
            or not self.can_amend(order.venue)
            or order.type is not OrderType.LIMIT
            or order.status not in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)
            or order.cancel_requested
            or order.amending
        ):
            return False
        new_size = order.size if size is None else size
        remaining = new_size - order.filled
        if remaining <= 0:
            return False
        now = self.clock.now_ms()
        reason = self.risk.check(
            RiskInput(
                instrument=self.instrument(order.venue, order.symbol),
                side=order.side,
                size=remaining,
                price=price,
                order_type=order.type,
                reduce_only=order.reduce_only,
                position=self.positions.get((order.venue, order.symbol)).size,
                open_same_side=self.orders.open_size(
                    order.venue, order.symbol, order.side, exclude=order
                ),
                open_orders=self.orders.live_count() - 1,
                book=self.book(order.venue, order.symbol),
            ),
            now,
        )
        if reason is not None:
            log.info("%s: amend of %s refused by risk: %s", order.venue, order.client_id, reason)
            return False
        order.amending = True
        gateway = self._gateways[order.venue]
        gateway.spawn(self._amend(gateway, order, price, new_size, remaining), "amend")
        return True

    async def _amend(
        self, gateway: VenueGateway, order: Order, price: Decimal, size: Decimal, remaining: Decimal
    ) -> None:
        connector = self.connectors[order.venue]
        assert isinstance(connector, Modifiable)
        try:
            await gateway.call(
                "modify",
                Priority.PLACE,
                lambda: connector.modify(order.symbol, order.client_id, remaining, price),
            )
        except VenueError as exc:
            log.info("%s: amend of %s failed: %s", order.venue, order.client_id, exc)
            return
        finally:
            order.amending = False
        if not order.is_live:
            return  # filled or cancelled meanwhile: the venue ignored the modify
        order.price, order.size = price, size
        order.amends += 1
        self.orders.counters.amended += 1
        order.updated_ms = self.clock.now_ms()
        self._journal_order(order)

    def _on_ack(self, order: Order, ack: OrderAck) -> None:
        now = self.clock.now_ms()
        before = order.status
        self.orders.apply_ack(ack, now)
        if order.status is not before:
            self._journal_order(order)
            self._notify_order(order)
        if order.status is OrderStatus.REJECTED:
            log.info(
                "%s %s %s %s @ %s rejected: %s",
                order.venue,
                order.symbol,
                order.side.value,
                order.size,
                order.price,
                order.reason,
            )
        if order.cancel_requested and order.is_live:
            self._gateways[order.venue].cancel(order)

    def _on_cancel_result(self, order: Order, ok: bool, reason: str) -> None:
        if not ok and order.is_live:
            log.info("%s: cancel %s not confirmed (%s)", order.venue, order.client_id, reason)

    # -- events from connectors -----------------------------------------------

    def _make_sink(self, venue: str):
        def sink(event: Event) -> None:
            try:
                self._on_event(venue, event)
            except Exception:
                log.exception("%s: handling %r failed", venue, event)

        return sink

    def _on_event(self, venue: str, event: Event) -> None:
        if isinstance(event, BookChanged):
            for runner in self._book_subscribers.get((event.venue, event.symbol), ()):
                runner.deliver_book(event.venue, event.symbol)
        elif isinstance(event, Fill):
            self._on_fill(event)
        elif isinstance(event, OrderUpdate):
            self._on_order_update(event)
        elif isinstance(event, Position):
            self.venues[venue].venue_positions[event.symbol] = event
        elif isinstance(event, Balance):
            self.venues[venue].balances[event.asset] = event
        elif isinstance(event, ConnectionChanged):
            status = self.venues[venue]
            was = status.state
            status.state, status.detail = event.state, event.detail
            self.note_event("connection", f"{venue}: {event.state.value} {event.detail}".strip())
            if (
                self.running
                and event.state is ConnectionState.CONNECTED
                and was in (ConnectionState.RECONNECTING, ConnectionState.DISCONNECTED)
            ):
                # Events may have been lost while away: make our books match the venue.
                self._spawn_background(self._reconcile_after_reconnect(venue), f"reconcile {venue}")
        elif isinstance(event, Trade):
            self.venues[venue].last_trade = event

    def _on_order_update(self, update: OrderUpdate) -> None:
        now = self.clock.now_ms()
        order = self.orders.get(update.client_id) if update.client_id else None
        before = order.status if order is not None else None
        order = self.orders.apply_update(update, now)
        if order is None:
            return
        if order.status is not before:
            self._journal_order(order)
            self._notify_order(order)

    def _on_fill(self, fill: Fill) -> None:
        now = self.clock.now_ms()
        order = self.orders.get(fill.client_id) if fill.client_id else None
        before = order.status if order is not None else None
        order = self.orders.apply_fill(fill, now)
        if order is None:
            if fill.client_id is None or not self.orders.is_ours(fill.client_id):
                log.debug("%s: fill for an order that is not ours: %s", fill.venue, fill.client_id)
            return
        fills_log.info(
            "%s %s %s %s %s @ %s (%s%s)",
            order.strategy or "-",
            fill.venue,
            fill.symbol,
            fill.side.value,
            fill.size,
            fill.price,
            fill.liquidity.value,
            ", partial" if order.remaining > 0 else "",
        )
        self.positions.get((fill.venue, fill.symbol)).apply_fill(
            fill.side, fill.price, fill.size, fill.fee
        )
        if order.strategy is not None:
            self.strategy_positions.get((order.strategy, fill.venue, fill.symbol)).apply_fill(
                fill.side, fill.price, fill.size, fill.fee
            )
        if self._journal_open():
            self.journal.record_fill(  # type: ignore[union-attr]
                ts_ms=fill.ts_ms or now,
                client_id=order.client_id,
                venue=fill.venue,
                symbol=fill.symbol,
                side=fill.side.value,
                price=fill.price,
                size=fill.size,
                fee=fill.fee,
                liquidity=fill.liquidity.value,
                trade_id=fill.trade_id,
                strategy=order.strategy,
            )
        runner = self.strategies.get(order.strategy) if order.strategy else None
        if runner is not None:
            runner.deliver_fill(fill, order)
        if order.status is not before:
            self._journal_order(order)
            self._notify_order(order)

    def _notify_order(self, order: Order) -> None:
        if order.status.is_terminal:
            for future in self._waiters.pop(order.client_id, ()):
                if not future.done():
                    future.set_result(None)
        runner = self.strategies.get(order.strategy) if order.strategy else None
        if runner is not None:
            runner.deliver_order(order)

    def _journal_order(self, order: Order) -> None:
        if not self._journal_open():
            return
        self.journal.record_order(  # type: ignore[union-attr]
            ts_ms=order.updated_ms,
            client_id=order.client_id,
            venue=order.venue,
            symbol=order.symbol,
            side=order.side.value,
            order_type=order.type.value,
            price=order.price,
            size=order.size,
            filled=order.filled,
            status=order.status.value,
            reason=order.reason,
            strategy=order.strategy,
            venue_order_id=order.venue_order_id,
            post_only=order.post_only,
            reduce_only=order.reduce_only,
            tag=order.tag,
        )

    def note_event(self, kind: str, detail: str) -> None:
        now = self.clock.now_ms()
        self.events.append((now, kind, detail))
        del self.events[:-500]
        log.info("%s: %s", kind, detail)
        if self._journal_open():
            self.journal.record_event(ts_ms=now, kind=kind, detail=detail)  # type: ignore[union-attr]

    def _journal_open(self) -> bool:
        """Late events after shutdown are logged, not journaled (the journal is closed)."""
        return self.journal is not None and self.journal.running

    async def wait_terminal(self, orders: Iterable[Order], timeout: float) -> list[Order]:
        """Wait until every order is terminal; returns those still live at the timeout."""
        loop = asyncio.get_running_loop()
        futures = []
        live = [o for o in orders if o.is_live]
        for order in live:
            future: asyncio.Future[None] = loop.create_future()
            self._waiters.setdefault(order.client_id, []).append(future)
            futures.append(future)
        if futures:
            await asyncio.wait(futures, timeout=timeout)
        return [o for o in live if o.is_live]

    # -- cancel, flatten, kill switch -----------------------------------------

    async def cancel_orders(
        self,
        *,
        venue: str | None = None,
        symbol: str | None = None,
        strategy: str | None = None,
        timeout: float = 5.0,
    ) -> list[Order]:
        """Cancel our live orders in scope and wait; returns the ones still live."""
        targets = list(self.orders.live(venue=venue, symbol=symbol, strategy=strategy))
        for order in targets:
            self.request_cancel(order)
        return await self.wait_terminal(targets, timeout)

    async def flatten(
        self,
        *,
        venue: str | None = None,
        strategy: str | None = None,
        attempts: int = 3,
        timeout: float = 5.0,
    ) -> FlattenReport:
        """Cancel, close with reduce-only market orders, re-read the venue, report."""
        scope = f"strategy {strategy}" if strategy else f"venue {venue}" if venue else "all"
        report = FlattenReport(action=f"flatten {scope}")
        self.note_event("flatten", f"{scope}: started")
        for runner in self._runners_in_scope(venue, strategy):
            if runner.state is StrategyState.RUNNING:
                runner.pause(f"paused for flatten ({scope})")
        if venue is not None:
            venues = [venue]
        elif strategy is not None:
            venues = sorted({v for v, _ in self.runner(strategy).markets})
        else:
            venues = sorted(self.connectors)
        for name in venues:
            report.lines.append(await self._flatten_venue(name, strategy, attempts, timeout))
        self.note_event("flatten", f"{scope}: {report.headline()}")
        return report

    async def kill_switch(self) -> FlattenReport:
        """Halt risk, pause every strategy, cancel everything, flatten every venue."""
        self.risk.set_state(RiskState.HALTED, "kill switch")
        self.note_event("kill_switch", "engaged")
        for runner in self.strategies.values():
            if runner.state is StrategyState.RUNNING:
                runner.pause("kill switch")
        report = await self.flatten()
        report.action = "kill switch"
        return report

    def _runners_in_scope(self, venue: str | None, strategy: str | None) -> list[StrategyRunner]:
        if strategy is not None:
            return [self.runner(strategy)]
        return [
            r
            for r in self.strategies.values()
            if venue is None or any(v == venue for v, _ in r.markets)
        ]

    async def _flatten_venue(
        self, venue: str, strategy: str | None, attempts: int, timeout: float
    ) -> FlattenLine:
        if venue not in self.connectors:
            return FlattenLine(venue, False, "unknown venue")
        gateway = self._gateways[venue]
        leftover = await self.cancel_orders(venue=venue, strategy=strategy, timeout=timeout)
        if leftover:
            return FlattenLine(venue, False, f"{len(leftover)} orders could not be cancelled")
        residual: list[VenuePosition] = []
        all_closing: list[Order] = []
        for _attempt in range(attempts):
            targets = await self._flatten_targets(venue, strategy, gateway)
            if targets is None:
                return FlattenLine(venue, False, "could not read positions from the venue")
            if not targets:
                break
            closing = []
            for symbol, size in targets:
                inst = self.instrument(venue, symbol)
                qty = inst.round_size(abs(size))
                if qty <= 0:
                    continue
                closing.append(
                    self.submit_order(
                        venue=venue,
                        symbol=symbol,
                        side=Side.closing(size),
                        size=qty,
                        price=None,
                        order_type=OrderType.MARKET,
                        time_in_force=TimeInForce.IOC,
                        reduce_only=True,
                        strategy=strategy,
                        tag="flatten",
                        bypass_risk=True,
                    )
                )
            all_closing.extend(closing)
            await self.wait_terminal(closing, timeout)
        targets = await self._flatten_targets(venue, strategy, gateway)
        if targets is None:
            return FlattenLine(venue, False, "could not read positions from the venue")
        residual = [VenuePosition(venue, s, size) for s, size in targets]
        if not residual:
            if strategy is None:
                self._close_strategy_books(venue, all_closing)
            return FlattenLine(venue, True, "flat")
        detail = ", ".join(f"{p.symbol} {p.size}" for p in residual)
        log.error("FLATTEN FAILED on %s: still open %s", venue, detail)
        return FlattenLine(venue, False, f"NOT FLAT after {attempts} attempts: {detail}")

    def _close_strategy_books(self, venue: str, closing: list[Order]) -> None:
        """The venue is flat, so every strategy's inventory there is too: close each
        strategy's book at the flatten's average price (the mark when nothing traded)."""
        for key, state in self.strategy_positions.items():
            name, v, symbol = key  # type: ignore[misc]
            if v != venue or state.size == 0:
                continue
            filled = [o for o in closing if o.symbol == symbol and o.filled > 0]
            qty = sum((o.filled for o in filled), ZERO)
            price = (
                sum((o.notional_filled for o in filled), ZERO) / qty
                if qty
                else self.mark(venue, symbol) or state.entry_price
            )
            size = abs(state.size)
            state.apply_fill(Side.closing(state.size), price, size, ZERO)
            log.info(
                "%s: %s %s inventory %s closed by the venue flatten @ %s",
                venue,
                name,
                symbol,
                size,
                price,
            )

    async def _flatten_targets(
        self, venue: str, strategy: str | None, gateway: VenueGateway
    ) -> list[tuple[str, Decimal]] | None:
        """What is left to close: the venue's positions (or the strategy's own)."""
        try:
            positions = await gateway.call(
                "positions", Priority.CANCEL, self.connectors[venue].positions
            )
        except Exception:
            log.exception("%s: reading positions for flatten failed", venue)
            return None
        venue_sizes = {p.symbol: p.size for p in positions if p.size != 0}
        self.venues[venue].venue_positions.update({p.symbol: p for p in positions})
        if strategy is None:
            return sorted(venue_sizes.items())
        out = []
        for key, state in self.strategy_positions.items():
            name, v, symbol = key  # type: ignore[misc]
            if name == strategy and v == venue and state.size != 0:
                account = venue_sizes.get(symbol, ZERO)
                # Never close more than the account holds on that side.
                if account == 0 or (account > 0) != (state.size > 0):
                    continue
                size = state.size if abs(state.size) <= abs(account) else account
                out.append((symbol, size))
        return out

    async def _cancel_everything(self, why: str) -> FlattenReport:
        report = FlattenReport(action=why)
        for name, conn in self.connectors.items():
            leftover = await self.cancel_orders(venue=name, timeout=5.0)
            gateway = self._gateways[name]
            await gateway.drain(5.0)
            try:
                # Belt and braces: anything of this run the venue still lists.
                await gateway.call(
                    "cancel_all",
                    Priority.CANCEL,
                    lambda conn=conn: conn.cancel_all(None, self.run_prefix + "-"),
                )
                remaining = [
                    o
                    for o in await gateway.call("open_orders", Priority.CANCEL, conn.open_orders)
                    if o.client_id
                    and (
                        o.client_id.startswith(self.run_prefix + "-")
                        or self.orders.is_ours(o.client_id)
                    )
                ]
            except Exception as exc:
                log.exception("%s: final cancel check failed", name)
                report.lines.append(FlattenLine(name, False, f"could not verify: {exc!r}"))
                continue
            for order in leftover:
                if not any(o.client_id == order.client_id for o in remaining):
                    self.orders.apply_update(
                        OrderUpdate(
                            name,
                            order.symbol,
                            order.client_id,
                            None,
                            OrderStatus.CANCELLED,
                            reason="cancelled at shutdown",
                        ),
                        self.clock.now_ms(),
                    )
            ok = not remaining
            report.open_orders_left += len(remaining)
            report.lines.append(
                FlattenLine(
                    name, ok, "0 open orders" if ok else f"{len(remaining)} orders still open"
                )
            )
        return report

    async def _seed_positions(self) -> None:
        """Start from the positions the venues hold (a restart must not read them as 0)."""
        for name, conn in self.connectors.items():
            try:
                held = await self._gateways[name].call("positions", Priority.QUERY, conn.positions)
            except Exception:
                log.exception("%s: reading positions at start failed", name)
                continue
            for p in held:
                self.venues[name].venue_positions[p.symbol] = p
                if p.size != 0:
                    state = self.positions.get((name, p.symbol))
                    state.size, state.entry_price = p.size, p.entry_price
                    self.note_event(
                        "startup", f"{name}: holding {p.symbol} {p.size} @ {p.entry_price}"
                    )

    async def _collect_earlier_orders(self) -> None:
        """Find resting orders an earlier mmtui run left (our mark, another prefix)."""
        for name, conn in self.connectors.items():
            try:
                listed = await self._gateways[name].call(
                    "open_orders", Priority.QUERY, conn.open_orders
                )
            except Exception:
                log.exception("%s: listing open orders at start failed", name)
                continue
            earlier = [
                o
                for o in listed
                if o.client_id
                and o.client_id.startswith(CLIENT_ID_MARK)
                and not o.client_id.startswith(self.run_prefix + "-")
            ]
            if earlier:
                self._earlier_orders[name] = earlier

    async def settle_earlier_orders(self) -> tuple[int, int]:
        """Hand earlier-run orders back to the strategy that placed them, if it is
        configured again on the same market; cancel the rest. Returns (adopted, cancelled).

        Call after adding strategies and before starting them, so ``on_start``
        sees its orders and rebuilds from them.
        """
        pending, self._earlier_orders = self._earlier_orders, {}
        for name, runner in self.strategies.items():
            await self._seed_strategy_position(name, runner)
        if not pending:
            return 0, 0
        ids = [o.client_id or "" for orders in pending.values() for o in orders]
        owners = await asyncio.to_thread(self.journal.owners, ids) if self.journal else {}
        adopted = cancelled = 0
        now = self.clock.now_ms()
        for venue, orders in pending.items():
            for o in orders:
                strategy, tag = owners.get(o.client_id or "", (None, ""))
                runner = self.strategies.get(strategy) if strategy else None
                if runner is not None and (venue, o.symbol) in runner.markets:
                    self.orders.adopt(
                        venue=venue,
                        symbol=o.symbol,
                        client_id=o.client_id or "",
                        venue_order_id=o.venue_order_id,
                        side=o.side,
                        price=o.price,
                        size=o.size,
                        remaining=o.remaining_size,
                        post_only=o.post_only,
                        reduce_only=o.reduce_only,
                        strategy=runner.name,
                        tag=tag,
                        now_ms=now,
                    )
                    adopted += 1
                    continue
                conn = self.connectors[venue]
                try:
                    await self._gateways[venue].call(
                        "cancel",
                        Priority.CANCEL,
                        lambda o=o, c=conn: c.cancel(o.symbol, o.client_id or ""),
                    )
                    cancelled += 1
                except Exception:
                    log.exception("%s: cancelling earlier-run order %s failed", venue, o.client_id)
        self.note_event(
            "startup",
            f"earlier-run orders: {adopted} handed back to their strategies, {cancelled} cancelled",
        )
        return adopted, cancelled

    async def _seed_strategy_position(self, name: str, runner: StrategyRunner) -> None:
        """Rebuild a strategy's inventory from its journaled fills (size and entry only:
        the session's PnL starts at zero)."""
        if self.journal is None:
            return
        fills = await asyncio.to_thread(self.journal.strategy_fills, name)
        for venue, symbol in runner.markets:
            state = self.strategy_positions.get((name, venue, symbol))
            if state.fills:
                continue  # already trading in this run
            for f in fills:
                if f["venue"] == venue and f["symbol"] == symbol:
                    state.apply_fill(Side(f["side"]), f["price"], f["size"], f["fee"])  # type: ignore[arg-type]
            state.realized_pnl = state.fees = state.volume = ZERO
            state.fills = 0

    # -- background loops -----------------------------------------------------

    def _spawn_background(self, coro: Any, what: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=what)
        self._background.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._background.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error(
                    "background task %s died: %r", what, t.exception(), exc_info=t.exception()
                )

        task.add_done_callback(done)

    async def _risk_loop(self) -> None:
        while True:
            await self.clock.sleep(self._risk_interval_s)
            self.check_risk()

    def check_risk(self) -> None:
        before = self.risk.state
        if self.risk.update_pnl(self.session_pnl()):
            self.note_event(
                "risk", f"{before.value} -> {self.risk.state.value}: {self.risk.reason}"
            )
            if self.risk.state is RiskState.HALTED:
                for runner in self.strategies.values():
                    if runner.state is StrategyState.RUNNING:
                        runner.pause(f"risk halted: {self.risk.reason}")
                for order in list(self.orders.live()):
                    self.request_cancel(order)

    async def _reconcile_loop(self) -> None:
        while True:
            await self.clock.sleep(self._reconcile_interval_s)
            for name in self.connectors:
                try:
                    await self.reconcile(name)
                except Exception:
                    log.exception("%s: reconcile failed", name)

    async def _reconcile_after_reconnect(self, venue: str) -> None:
        try:
            await self.reconcile(venue)
            positions = await self._gateways[venue].call(
                "positions", Priority.QUERY, self.connectors[venue].positions
            )
        except Exception:
            log.exception("%s: reconcile after reconnect failed", venue)
            return
        for p in positions:
            self.venues[venue].venue_positions[p.symbol] = p
            ours = self.positions.get((venue, p.symbol)).size
            if ours != p.size:
                log.warning(
                    "%s %s: position %s on the venue, %s from our fills (fills missed while "
                    "disconnected?)",
                    venue,
                    p.symbol,
                    p.size,
                    ours,
                )

    async def reconcile(self, venue: str) -> int:
        """Make our order states match the venue's open orders; returns corrections."""
        conn = self.connectors[venue]
        gateway = self._gateways[venue]
        listed = await gateway.call("open_orders", Priority.QUERY, conn.open_orders)
        on_venue = {o.client_id for o in listed if o.client_id}
        now = self.clock.now_ms()
        fixes = 0
        for order in list(self.orders.live(venue=venue)):
            if order.client_id in on_venue or order.status is OrderStatus.PENDING:
                continue
            if now - order.updated_ms < 5_000:
                continue  # an update may still be on its way
            self.orders.apply_update(
                OrderUpdate(
                    venue,
                    order.symbol,
                    order.client_id,
                    order.venue_order_id,
                    OrderStatus.CANCELLED,
                    reason="reconcile: not open on venue",
                ),
                now,
            )
            self._journal_order(order)
            self._notify_order(order)
            fixes += 1
        prefix = self.run_prefix + "-"
        for listed_order in listed:
            cid = listed_order.client_id
            if cid and cid.startswith(prefix) and not self.orders.is_ours(cid):
                await gateway.call(
                    "cancel",
                    Priority.CANCEL,
                    lambda o=listed_order: conn.cancel(o.symbol, o.client_id or ""),
                )
                fixes += 1
        if fixes:
            self.note_event("reconcile", f"{venue}: {fixes} corrections")
        return fixes

    # -- summary --------------------------------------------------------------

    def summary(self, *, open_orders_left: int | None = None) -> RunSummary:
        c = self.orders.counters
        positions = []
        realized = unrealized = fees = volume = ZERO
        fills = 0
        fills_by_venue: dict[str, int] = {}
        volume_by_venue: dict[str, Decimal] = {}
        net_exposure: dict[str, Decimal] = {}
        for key, state in self.positions.items():
            venue, symbol = key  # type: ignore[misc]
            fills_by_venue[venue] = fills_by_venue.get(venue, 0) + state.fills
            volume_by_venue[venue] = volume_by_venue.get(venue, ZERO) + state.volume
            base = self.instrument(venue, symbol).base
            net_exposure[base] = net_exposure.get(base, ZERO) + state.size
            mark = self.mark(venue, symbol)
            realized += state.realized_pnl
            fees += state.fees
            volume += state.volume
            fills += state.fills
            upnl = state.unrealized_pnl(mark)
            unrealized += upnl
            positions.append(VenuePosition(venue, symbol, state.size, state.entry_price, upnl))
        return RunSummary(
            run_id=self.run_prefix,
            mode=self.mode,
            duration_s=(
                ((self.stopped_ms or self.clock.now_ms()) - self.started_ms) / 1000
                if self.started_ms
                else 0.0
            ),
            orders_placed=c.placed,
            orders_cancelled=c.cancelled,
            orders_amended=c.amended,
            orders_rejected=c.rejected,
            fills=fills,
            volume=volume,
            realized_pnl=realized,
            unrealized_pnl=unrealized,
            fees=fees,
            positions=positions,
            open_orders_left=(
                open_orders_left if open_orders_left is not None else self.orders.live_count()
            ),
            risk_state=self.risk.state.value,
            risk_rejections=dict(self.risk.rejections),
            strategies={n: r.state.value for n, r in self.strategies.items()},
            fills_by_venue=fills_by_venue,
            volume_by_venue=volume_by_venue,
            net_exposure=net_exposure,
        )
