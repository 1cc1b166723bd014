"""Every strategy kind by name: config, the console's launcher and the CLI use this."""

from __future__ import annotations

from strategies.avellaneda_stoikov import AvellanedaStoikov
from strategies.base import Strategy
from strategies.cross_arbitrage import CrossArbitrage
from strategies.geometric_grid import GeometricGrid
from strategies.hedge_ladder import HedgeLadder
from strategies.hedged_cycle import HedgedCycle
from strategies.perp_market_maker import PerpMarketMaker
from strategies.trend_ladder import TrendLadder

STRATEGY_KINDS: dict[str, type[Strategy]] = {
    cls.kind: cls
    for cls in (
        AvellanedaStoikov,
        PerpMarketMaker,
        GeometricGrid,
        TrendLadder,
        CrossArbitrage,
        HedgeLadder,
        HedgedCycle,
    )
}


def strategy_class(kind: str) -> type[Strategy]:
    try:
        return STRATEGY_KINDS[kind]
    except KeyError:
        known = ", ".join(sorted(STRATEGY_KINDS))
        raise KeyError(f"unknown strategy kind {kind!r} (known: {known})") from None
