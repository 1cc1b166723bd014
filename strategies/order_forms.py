"""The order forms strategies send the same way, one owner each: the resting
exit (post-only, reduce-only limit) and the immediate-or-cancel market order."""

from __future__ import annotations

from decimal import Decimal

from connectors.base import OrderType, Side, TimeInForce
from strategies.base import OrderView, StrategyContext


def place_exit(
    ctx: StrategyContext,
    venue: str,
    symbol: str,
    side: Side,
    size: Decimal,
    price: Decimal,
    tag: str,
) -> OrderView:
    """A resting exit (a take-profit, a coverage or passive flush exit): post-only,
    so it waits as a maker, and reduce-only, so it can never open a position."""
    return ctx.place(venue, symbol, side, size, price, post_only=True, reduce_only=True, tag=tag)


def place_market_ioc(
    ctx: StrategyContext,
    venue: str,
    symbol: str,
    side: Side,
    size: Decimal,
    tag: str,
    *,
    reduce_only: bool,
) -> OrderView:
    """A market order, immediate-or-cancel: fills what the book has now, the rest
    is cancelled (reduce-only: it closes, never opens)."""
    return ctx.place(
        venue,
        symbol,
        side,
        size,
        None,
        order_type=OrderType.MARKET,
        time_in_force=TimeInForce.IOC,
        reduce_only=reduce_only,
        tag=tag,
    )


__all__ = ["place_exit", "place_market_ioc"]
