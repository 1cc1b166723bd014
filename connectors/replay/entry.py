"""What decides an order's entry on a replay venue: a request's checks against the
market's grid, what refuses it at the book (reduce-only, post-only, fill-or-kill), whether
it meets the book."""

from __future__ import annotations

from decimal import Decimal

from connectors.base import (
    Instrument,
    OrderRequest,
    OrderType,
    Side,
    TimeInForce,
)
from connectors.replay.market import ReplayMarket


def invalid(req: OrderRequest, inst: Instrument) -> str:
    """Why the request is not an order on this market ("" when it is)."""
    if req.size <= 0 or not inst.is_on_step(req.size):
        return f"size {req.size} not a positive multiple of {inst.step_size}"
    if req.size < inst.min_size and not req.reduce_only:
        return f"size {req.size} below min size {inst.min_size}"
    if req.price is not None and (req.price <= 0 or not inst.is_on_tick(req.price)):
        return f"price {req.price} not a positive multiple of {inst.tick_size}"
    if req.type is OrderType.LIMIT and req.price is None:
        return "limit order without a price"
    return ""


def crosses(m: ReplayMarket, side: Side, price: int | None) -> bool:
    """Would a limit at ``price`` meet the book a listener sees (recorded + ours)?"""
    if price is None:
        return True
    if side is Side.BUY:
        best = m.best_ask()
        return (best is not None and price >= best) or price >= m.ask_floor
    best = m.best_bid()
    return (best is not None and price <= best) or price <= m.bid_ceiling


def refusal(position: Decimal, req: OrderRequest, m: ReplayMarket) -> str:
    """Why the order cannot enter the book as it is now ("" when it can); ``position``:
    the account's signed position on the market."""
    inst = m.instrument
    if req.reduce_only and (position == 0 or Side.closing(position) is not req.side):
        return "reduce-only order would not reduce the position"
    price = inst.price_to_ticks(req.price) if req.price is not None else None
    marketable = req.type is OrderType.MARKET or crosses(m, req.side, price)
    if req.post_only and req.type is OrderType.LIMIT and marketable:
        return "post-only order would cross the book"
    if req.time_in_force is TimeInForce.FOK:
        lots = inst.size_to_lots(req.size)
        if sum(q for _, q in m.takeable(req.side, price)) < lots:
            return "fill-or-kill could not fill in full"
    return ""


__all__ = ["crosses", "invalid", "refusal"]
