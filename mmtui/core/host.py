"""The ``StrategyHost`` the engine hands every strategy runner: reads from the
markets, orders and positions, intents into the order path."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from connectors.base import Instrument
from connectors.book import OrderBook
from mmtui.core.clock import Clock
from mmtui.core.markets import Markets
from mmtui.core.order_path import OrderPath
from mmtui.core.orders import Order, OrderManager
from mmtui.core.positions import PositionBook, PositionState


class EngineHost:
    """Implements ``mmtui.core.runner.StrategyHost`` over the engine's parts."""

    def __init__(
        self,
        *,
        clock: Clock,
        markets: Markets,
        orders: OrderManager,
        positions: PositionBook,
        strategy_positions: PositionBook,
        order_path: OrderPath,
        note_event: Callable[[str, str], None],
    ) -> None:
        self._clock = clock
        self._markets = markets
        self._orders = orders
        self._positions = positions
        self._strategy_positions = strategy_positions
        self.submit = order_path.submit_order
        self.cancel = order_path.request_cancel
        self.amend = order_path.request_amend
        self.note_event = note_event

    def now_ms(self) -> int:
        return self._clock.now_ms()

    async def sleep(self, seconds: float) -> None:
        await self._clock.sleep(seconds)

    def instrument(self, venue: str, symbol: str) -> Instrument:
        return self._markets.instrument(venue, symbol)

    def instruments(self, venue: str) -> list[Instrument]:
        return [inst for (v, _), inst in sorted(self._markets.instruments.items()) if v == venue]

    def book(self, venue: str, symbol: str) -> OrderBook | None:
        return self._markets.book(venue, symbol)

    def strategy_position(self, strategy: str, venue: str, symbol: str) -> PositionState:
        return self._strategy_positions.get((strategy, venue, symbol))

    def account_position(self, venue: str, symbol: str) -> Decimal:
        return self._positions.get((venue, symbol)).size

    def order(self, client_id: str) -> Order | None:
        return self._orders.get(client_id)

    def live_orders(
        self, strategy: str, venue: str | None = None, symbol: str | None = None
    ) -> list[Order]:
        return list(self._orders.live(venue=venue, symbol=symbol, strategy=strategy))
