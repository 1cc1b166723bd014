"""One running strategy: its lifecycle state, its tick loop, and the context
(``strategies.base.StrategyContext``) the core offers it.

A runner sees the core only through ``StrategyHost``: the few reads and order
intents a strategy needs, nothing of the engine's internals.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable, Collection
from decimal import Decimal
from typing import Protocol

from connectors.base import Fill, Instrument, OrderType, Side, TimeInForce
from connectors.book import OrderBook
from mmtui.core.orders import Order
from mmtui.core.positions import PositionState
from strategies.base import OrderView, Strategy, StrategyParams
from strategies.telemetry import Telemetry


class StrategyHost(Protocol):
    """What the core offers a strategy runner (the engine gives each runner one)."""

    def now_ms(self) -> int: ...

    async def sleep(self, seconds: float) -> None: ...

    def instrument(self, venue: str, symbol: str) -> Instrument:
        """Raises ``EngineError`` for a market the engine does not know."""

    def instruments(self, venue: str) -> list[Instrument]:
        """Every instrument the venue lists, by symbol."""

    def book(self, venue: str, symbol: str) -> OrderBook | None: ...

    def strategy_position(self, strategy: str, venue: str, symbol: str) -> PositionState:
        """The strategy's own position (from its own fills)."""

    def account_position(self, venue: str, symbol: str) -> Decimal:
        """The account's signed size on the venue (every strategy's fills)."""

    def order(self, client_id: str) -> Order | None: ...

    def live_orders(
        self, strategy: str, venue: str | None = None, symbol: str | None = None
    ) -> list[Order]: ...

    def submit(
        self,
        *,
        venue: str,
        symbol: str,
        side: Side,
        size: Decimal,
        price: Decimal | None,
        order_type: OrderType,
        time_in_force: TimeInForce,
        post_only: bool,
        reduce_only: bool,
        strategy: str,
        tag: str,
    ) -> Order:
        """Risk-check and send; returns at once (PENDING, or REJECTED with the reason)."""

    def cancel(self, order: Order) -> bool:
        """Ask the venue to cancel; False if the order is not live."""

    def amend(self, order: Order, price: Decimal, size: Decimal | None) -> bool:
        """Move a resting order in one venue request; False (nothing sent) if it cannot."""

    def note_event(self, kind: str, detail: str) -> None: ...


class StrategyState(enum.Enum):
    STOPPED = "stopped"
    RUNNING = "running"
    PAUSED = "paused"
    HALTED = "halted"


class StrategyRunner:
    """Implements ``StrategyContext`` for one strategy instance."""

    def __init__(
        self,
        host: StrategyHost,
        name: str,
        strategy_cls: type[Strategy],
        venue: str,
        symbol: str,
        params: StrategyParams,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.host = host
        self.name = name
        self.kind = strategy_cls.kind
        self.venue = venue
        self.symbol = symbol
        self.params = params
        self.telemetry = telemetry if telemetry is not None else Telemetry()
        """Where the strategy writes its figures: the core's store for it
        (``mmtui.core.telemetry``); a private one for a preview."""
        self.log = logging.getLogger(f"mmtui.strategy.{name}")
        self.state = StrategyState.STOPPED
        self.reason = ""
        self.tick_errors = 0
        self.consecutive_errors = 0
        self.ticks = 0
        self._started_once = False
        self._tick_task: asyncio.Task[None] | None = None
        self._timers: set[asyncio.Task[None]] = set()
        """``call_later`` callbacks still waiting (cancelled when the strategy stops)."""
        self.strategy = strategy_cls(self, venue, symbol, params)

    # -- StrategyContext ------------------------------------------------------

    @property
    def running(self) -> bool:
        """True while the strategy may place orders (not paused, stopped or halted)."""
        return self.state is StrategyState.RUNNING

    def now_ms(self) -> int:
        return self.host.now_ms()

    def instrument(self, venue: str, symbol: str) -> Instrument:
        return self.host.instrument(venue, symbol)

    def instruments(self, venue: str) -> list[Instrument]:
        return self.host.instruments(venue)

    def book(self, venue: str, symbol: str) -> OrderBook | None:
        return self.host.book(venue, symbol)

    def position(self, venue: str, symbol: str) -> PositionState:
        return self.host.strategy_position(self.name, venue, symbol)

    def account_position(self, venue: str, symbol: str) -> Decimal:
        return self.host.account_position(venue, symbol)

    def orders(self, venue: str | None = None, symbol: str | None = None) -> list[OrderView]:
        return list(self.host.live_orders(self.name, venue, symbol))

    def place(
        self,
        venue: str,
        symbol: str,
        side: Side,
        size: Decimal,
        price: Decimal | None = None,
        *,
        order_type: OrderType = OrderType.LIMIT,
        time_in_force: TimeInForce = TimeInForce.GTC,
        post_only: bool = False,
        reduce_only: bool = False,
        tag: str = "",
    ) -> Order:
        if self.state is not StrategyState.RUNNING:
            raise RuntimeError(
                f"strategy {self.name} is {self.state.value}: it may not place orders"
            )
        return self.host.submit(
            venue=venue,
            symbol=symbol,
            side=side,
            size=size,
            price=price,
            order_type=order_type,
            time_in_force=time_in_force,
            post_only=post_only,
            reduce_only=reduce_only,
            strategy=self.name,
            tag=tag,
        )

    def cancel(self, client_id: str) -> bool:
        order = self.host.order(client_id)
        if order is None or order.strategy != self.name:
            return False
        return self.host.cancel(order)

    def amend(self, client_id: str, price: Decimal, size: Decimal | None = None) -> bool:
        order = self.host.order(client_id)
        if order is None or order.strategy != self.name or self.state is not StrategyState.RUNNING:
            return False
        return self.host.amend(order, price, size)

    def cancel_all(self, venue: str | None = None, symbol: str | None = None) -> int:
        count = 0
        for order in self.host.live_orders(self.name, venue, symbol):
            count += self.host.cancel(order)
        return count

    def call_later(self, delay_ms: int, callback: Callable[[], None]) -> None:
        """Run ``callback`` in ``delay_ms`` (on the core's clock) if still running."""
        task = asyncio.get_running_loop().create_task(
            self._later(max(0, delay_ms) / 1000, callback), name=f"strategy {self.name} timer"
        )
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)

    async def _later(self, seconds: float, callback: Callable[[], None]) -> None:
        await self.host.sleep(seconds)
        if self.state is StrategyState.RUNNING:
            self._guard("call_later", callback)

    # -- lifecycle ------------------------------------------------------------

    @property
    def markets(self) -> list[tuple[str, str]]:
        return self.strategy.markets()

    def start(self) -> None:
        if self.state is StrategyState.RUNNING:
            return
        self.state = StrategyState.RUNNING
        self.reason = ""
        self.consecutive_errors = 0
        if not self._started_once:
            self._started_once = True
            self._guard("on_start", self.strategy.on_start)
        else:
            self._guard("on_resume", self.strategy.on_resume)
        if self._tick_task is None or self._tick_task.done():
            self._tick_task = asyncio.get_running_loop().create_task(
                self._tick_loop(), name=f"strategy {self.name} ticks"
            )

    def pause(self, reason: str = "paused by operator") -> int:
        """Stop placing and cancel this strategy's orders; returns cancels requested."""
        if self.state is not StrategyState.RUNNING:
            if self.state is StrategyState.PAUSED:
                self.reason = reason  # the latest pause says why (the operator's, say)
            return self.cancel_all()
        self.state = StrategyState.PAUSED
        self.reason = reason
        cancelled = self.cancel_all()
        self._guard("on_pause", self.strategy.on_pause)
        return cancelled

    def resume(self) -> None:
        if self.state in (StrategyState.PAUSED, StrategyState.HALTED):
            self.start()

    def stop(self, reason: str = "stopped", keep: Collection[str] = ()) -> int:
        """Stop ticking and cancel this strategy's orders but those in ``keep`` (client
        ids: exits it leaves resting at quit, ``on_quit: keep_exits``)."""
        previous = self.state
        self.state = StrategyState.STOPPED
        self.reason = reason
        if self._tick_task is not None:
            self._tick_task.cancel()
            self._tick_task = None
        for timer in list(self._timers):
            timer.cancel()
        cancelled = sum(
            self.host.cancel(o) for o in self.host.live_orders(self.name) if o.client_id not in keep
        )
        if previous is not StrategyState.STOPPED and self._started_once:
            self._guard("on_stop", self.strategy.on_stop)
        return cancelled

    def halt(self, reason: str) -> None:
        self.log.error("strategy %s halted: %s", self.name, reason)
        self.state = StrategyState.HALTED
        self.reason = reason
        self.cancel_all()
        self._guard("on_pause", self.strategy.on_pause)  # a halt is a pause it did not ask for
        self.host.note_event("strategy_halted", f"{self.name}: {reason}")

    # -- event delivery (called by the engine) --------------------------------

    def deliver_book(self, venue: str, symbol: str) -> None:
        if self.state is StrategyState.RUNNING:
            self._guard("on_book", self.strategy.on_book, venue, symbol)

    def deliver_order(self, order: Order) -> None:
        if self.state is not StrategyState.STOPPED:
            self._guard("on_order", self.strategy.on_order, order)

    def deliver_fill(self, fill: Fill, order: Order) -> None:
        # Fills matter in every state: the strategy's inventory must stay right.
        self._guard("on_fill", self.strategy.on_fill, fill, order)

    async def _tick_loop(self) -> None:
        interval = self.params.tick_interval_ms / 1000
        host = self.host
        while True:
            await host.sleep(interval)
            if self.state is not StrategyState.RUNNING:
                continue
            self.ticks += 1
            self._guard("on_tick", self.strategy.on_tick, host.now_ms())

    def _guard(self, what: str, fn: object, *args: object) -> None:
        """Run a strategy callback; count, log and surface every error."""
        try:
            fn(*args)  # type: ignore[operator]
        except Exception as exc:
            self.tick_errors += 1
            self.consecutive_errors += 1
            self.telemetry.count("errors")
            self.telemetry.set("last_error", f"{what}: {exc!r}")
            self.log.exception("strategy %s: %s failed", self.name, what)
            if (
                self.consecutive_errors >= self.params.max_tick_errors
                and self.state is StrategyState.RUNNING
            ):
                self.halt(f"{self.consecutive_errors} consecutive errors; last in {what}: {exc!r}")
        else:
            if what == "on_tick":
                self.consecutive_errors = 0
