"""The two markets of a cross-venue arbitrage: leg A (the strategy's own market) and
leg B (found by pairing), the size both accept, the round-trip cost, the strategy's
state; its positions, and the edge on the books now (``CrossArbitrage`` builds on it)."""

from __future__ import annotations

from decimal import Decimal

from connectors.base import ZERO, Instrument
from strategies.base import OrderView, Strategy, StrategyContext, StrategyParams
from strategies.cross_arbitrage_edge import (
    HUNDRED,
    Opportunity,
    best_opportunity,
    crossing_prices,
    gross_edge,
    round_trip_fees,
)
from strategies.cross_arbitrage_pairs import Pair
from strategies.cross_arbitrage_params import CrossArbitrageParams
from strategies.pairing import common_size, counterpart


class ArbMarkets(Strategy):
    """The state of a cross-venue arbitrage and its two markets (``CrossArbitrage``
    builds on it)."""

    def __init__(
        self, ctx: StrategyContext, venue: str, symbol: str, params: StrategyParams
    ) -> None:
        super().__init__(ctx, venue, symbol, params)
        p = self.p
        if p.other_venue is None:
            raise ValueError("cross_arbitrage: params.other_venue is required (the venue of leg B)")
        self.other_inst = self._find_other(p.other_venue, p.other_symbol)
        self.other_venue = self.other_inst.venue
        self.other_symbol = self.other_inst.symbol
        if (self.other_venue, self.other_symbol) == (venue, symbol):
            raise ValueError("cross_arbitrage: leg B is the same market as leg A")
        self.unit = common_size(self.inst, self.other_inst, p.size)
        if p.size is not None and self.unit != p.size:
            ctx.log.info("size %s raised to %s (on both venues' grids)", p.size, self.unit)
        self.cost = round_trip_fees(self.inst, self.other_inst) + p.expected_funding_pct / HUNDRED
        self.threshold = p.entry_threshold_pct / HUNDRED
        self.pairs: list[Pair] = []
        self._next_id = 1
        self._last_entry_ms: int | None = None
        self.delta_failures = 0
        self.suspended = False
        self.round_trips = 0
        self._rebuild_pending = False
        self._recovering: list[OrderView] = []
        self._drift_ticks = 0

    @property
    def p(self) -> CrossArbitrageParams:
        return self.params  # type: ignore[return-value]

    def _find_other(self, venue: str, symbol: str | None) -> Instrument:
        return counterpart(self.ctx, self.inst, venue, symbol, "other_symbol")

    def markets(self) -> list[tuple[str, str]]:
        return [(self.venue, self.symbol), (self.other_venue, self.other_symbol)]

    # -- positions and the edge now ---------------------------------------------

    def _position(self, venue: str, symbol: str) -> Decimal:
        return self.ctx.position(venue, symbol).size

    def _net_exposure(self) -> Decimal:
        """Net base-asset delta across both venues (this strategy's own fills)."""
        return sum((self._position(v, s) for v, s in self.markets()), ZERO)

    def _current_edge(self, pair: Pair) -> Decimal | None:
        """The gross edge in the entry direction now: rich bid over cheap ask."""
        buy_book = self.ctx.book(pair.buy.venue, pair.buy.symbol)
        sell_book = self.ctx.book(pair.sell.venue, pair.sell.symbol)
        if buy_book is None or sell_book is None:
            return None
        if not buy_book.is_valid() or not sell_book.is_valid():
            return None
        prices = crossing_prices(buy_book, sell_book, pair.size)
        if prices is None:
            return None
        return gross_edge(*prices)

    def _opportunity(self) -> Opportunity | None:
        a = self.ctx.book(self.venue, self.symbol)
        b = self.ctx.book(self.other_venue, self.other_symbol)
        if a is None or b is None or not a.is_valid() or not b.is_valid():
            return None
        return best_opportunity(self.inst, a, self.other_inst, b, self.unit, self.cost)
