"""The background market of a sim venue: the crowd's liquidity and the takers' flow.

Per symbol, per step:
- a crowd of makers keeps ``levels`` post-only orders each side, starting
  ``half_spread_bps`` from the venue mid, ``level_gap_bps`` apart; levels that
  get eaten come back with probability ``refill_prob`` each step;
- takers arrive as a Poisson process at ``taker_rate`` per second per side.
  Each one sweeps up to a price ``delta`` away from mid with ``delta`` drawn
  exponentially (rate ``taker_k`` per bps), so a quote at distance delta is
  reached with probability exp(-k * delta): the A * exp(-k * delta) fill
  intensity of the Avellaneda–Stoikov model.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from connectors.base import Instrument, Side
from connectors.sim.matching import Kind, MatchingEngine, SubmitResult

CROWD = "~crowd"
TAKER = "~taker"
BACKGROUND = frozenset({CROWD, TAKER})
"""The owners of the background's orders: not accounts (no fills, no positions)."""


@dataclass(frozen=True, slots=True)
class FlowParams:
    """The background market of one venue (same for all its symbols)."""

    half_spread_bps: float = 1.5
    level_gap_bps: float = 1.0
    levels: int = 10
    level_notional: float = 20_000.0
    refill_prob: float = 0.5
    taker_rate: float = 2.0
    taker_k: float = 0.35
    taker_notional: float = 5_000.0


class BackgroundMarket:
    def __init__(
        self, flow: FlowParams, rng: random.Random, new_order_id: Callable[[], int]
    ) -> None:
        self.flow = flow
        self._rng = rng
        self._new_order_id = new_order_id
        """The venue's order ids: the background's orders share them with the accounts'."""

    def refresh_crowd(self, engine: MatchingEngine, inst: Instrument, mid: float) -> None:
        """The crowd's levels follow the mid: off-grid ones leave, missing ones come back
        (an eaten level with probability ``refill_prob``)."""
        flow = self.flow
        tick = float(inst.tick_size)
        wanted: dict[Side, set[int]] = {Side.BUY: set(), Side.SELL: set()}
        for i in range(flow.levels):
            offset = mid * (flow.half_spread_bps + i * flow.level_gap_bps) / 10_000
            wanted[Side.BUY].add(math.floor((mid - offset) / tick))
            wanted[Side.SELL].add(math.ceil((mid + offset) / tick))
        have: dict[Side, set[int]] = {Side.BUY: set(), Side.SELL: set()}
        for resting in engine.orders_of(CROWD):
            if resting.price in wanted[resting.side]:
                have[resting.side].add(resting.price)
            else:
                engine.cancel(resting.order_id)
        lot_value = mid * float(inst.step_size)
        mean_lots = max(1.0, flow.level_notional / lot_value)
        min_lots = inst.size_to_lots(inst.min_size)
        for side, prices in wanted.items():
            for price in prices - have[side]:
                if price <= 0 or (have[side] and self._rng.random() > flow.refill_prob):
                    continue
                lots = max(min_lots, round(self._rng.expovariate(1.0 / mean_lots)))
                engine.submit(self._new_order_id(), CROWD, side, lots, price, Kind.LIMIT, True)

    def taker_flow(
        self,
        engine: MatchingEngine,
        inst: Instrument,
        mid: float,
        dt_ms: int,
        settle: Callable[[SubmitResult], None],
    ) -> None:
        """The takers of ``dt_ms``, each settled (``settle``) before the next arrives."""
        flow = self.flow
        if flow.taker_rate <= 0:
            return
        tick = float(inst.tick_size)
        lot_value = mid * float(inst.step_size)
        mean_lots = max(1.0, flow.taker_notional / lot_value)
        min_lots = inst.size_to_lots(inst.min_size)
        for side in (Side.BUY, Side.SELL):
            for _ in range(_poisson(self._rng, flow.taker_rate * dt_ms / 1000)):
                reach_bps = self._rng.expovariate(flow.taker_k)
                reach = mid * reach_bps / 10_000
                if side is Side.BUY:
                    price = math.floor((mid + reach) / tick)
                else:
                    price = math.ceil((mid - reach) / tick)
                if price <= 0:
                    continue
                lots = max(min_lots, round(self._rng.expovariate(1.0 / mean_lots)))
                settle(engine.submit(self._new_order_id(), TAKER, side, lots, price, Kind.IOC))


def _poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method; fine for the small rates of one step."""
    if lam <= 0:
        return 0
    limit = math.exp(-lam)
    k, p = 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


__all__ = ["BACKGROUND", "CROWD", "TAKER", "BackgroundMarket", "FlowParams"]
