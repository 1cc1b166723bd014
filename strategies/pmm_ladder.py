"""The perp market maker's ladder, as pure functions (unit-tested by hand): the
inventory measure, the ladder's prices, which live quote keeps which level, and
the plan a cycle works from (``strategies.perp_market_maker``)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from connectors.base import Instrument, Side
from strategies.base import OrderView


def normalized_inventory(position: Decimal, target: Decimal, max_position: Decimal) -> Decimal:
    """(position - target) / max_position, clamped to [-1, 1]."""
    s = (position - target) / max_position
    return max(Decimal(-1), min(Decimal(1), s))


def ladder_prices(
    centre: Decimal,
    levels: int,
    half_spread: Decimal,
    spacing: Decimal,
    inst: Instrument,
    best_bid: Decimal | None,
    best_ask: Decimal | None,
) -> tuple[list[Decimal], list[Decimal]]:
    """Bid and ask prices, inner level first (``half_spread`` and ``spacing`` are
    fractions of ``centre``). Passive rounding; every bid at least a tick under
    the best ask and every ask a tick over the best bid; levels a tick apart."""
    tick = inst.tick_size
    bids: list[Decimal] = []
    asks: list[Decimal] = []
    for j in range(levels):
        off = half_spread + j * spacing
        bid = inst.round_price(centre * (1 - off), Side.BUY)
        ask = inst.round_price(centre * (1 + off), Side.SELL)
        if best_ask is not None:
            bid = min(bid, best_ask - tick)
        if best_bid is not None:
            ask = max(ask, best_bid + tick)
        if bids:
            bid = min(bid, bids[-1] - tick)
            ask = max(ask, asks[-1] + tick)
        if bid > 0:
            bids.append(bid)
        asks.append(ask)
    return bids, asks


def match_levels(
    wanted: list[Decimal], live: list[OrderView], tolerance: Decimal
) -> tuple[dict[int, OrderView], list[OrderView]]:
    """Give each wanted level (inner first) the closest unclaimed live order within
    ``tolerance`` (the older one on a tie). Returns (level -> kept order, leftovers)."""
    free = sorted(live, key=lambda o: o.created_ms)
    kept: dict[int, OrderView] = {}
    for j, price in enumerate(wanted):
        best: OrderView | None = None
        best_gap = tolerance
        for order in free:
            if order.price is None:
                continue
            gap = abs(order.price - price)
            if gap < best_gap or (gap == best_gap and best is None):
                best, best_gap = order, gap
        if best is not None:
            kept[j] = best
            free.remove(best)
    return kept, free


@dataclass(frozen=True, slots=True)
class Control:
    """The one order that works the position back to target."""

    side: Side
    price: Decimal
    size: Decimal
    reduce_only: bool

    @property
    def tag(self) -> str:
        return "reduce" if self.reduce_only else "target"


@dataclass(frozen=True, slots=True)
class Plan:
    mid: Decimal
    centre: Decimal
    skew_bps: Decimal
    deviation: Decimal
    bids: list[Decimal]
    asks: list[Decimal]
    control: Control | None
    mode: str
    full_bids: list[Decimal]
    full_asks: list[Decimal]


__all__ = ["Control", "Plan", "ladder_prices", "match_levels", "normalized_inventory"]
