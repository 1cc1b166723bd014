"""The geometric grid's ladder (pure functions): its prices, order sizes, working levels,
and the tags its orders carry (``geometric_grid``).

Grid: ``levels`` = n geometric steps between ``range_low`` and ``range_high``, so n + 1
prices p_k = low * (high / low) ** (k / n), k = 0..n, each rounded to the nearest tick;
prices that round onto the same tick are kept once. A level is an index into that
deduplicated list. An entry at level i is tagged ``E<b|s><i>``, its take-profit
``T<b|s><i>`` (the entry's side and level).
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, Decimal, localcontext
from typing import Literal

from connectors.base import Instrument, Side

Mode = Literal["neutral", "long", "short"]
SlotKey = tuple[Side, int]
"""A round trip's home: the entry side and the entry level."""

STOP_CLOSE_TAG = "stop-close"
"""The tag of the market order that closes the position at an out-of-range stop."""

_TAG_RE = re.compile(r"^([ET])([bs])(\d+)$")
_SIDE_CHAR = {Side.BUY: "b", Side.SELL: "s"}
_CHAR_SIDE = {"b": Side.BUY, "s": Side.SELL}


def grid_prices(low: Decimal, high: Decimal, levels: int, inst: Instrument) -> list[Decimal]:
    """n + 1 geometric prices from low to high, rounded to the tick, strictly increasing."""
    with localcontext() as ctx:
        ctx.prec = 40
        ratio = high / low
        raw = [low * ratio ** (Decimal(k) / levels) for k in range(levels + 1)]
    out: list[Decimal] = []
    for price in raw:
        rounded = inst.round_price(price)
        if rounded > 0 and (not out or rounded > out[-1]):
            out.append(rounded)
    return out


def quote_per_order(allocation: Decimal, orders_per_side: int, mode: Mode) -> Decimal:
    """Neutral splits the budget over both sides; long or short uses all of it on one."""
    return allocation / (orders_per_side * (2 if mode == "neutral" else 1))


def order_size(
    price: Decimal, inst: Instrument, allocation: Decimal | None, orders_per_side: int, mode: Mode
) -> Decimal:
    """Base size for an entry at ``price``: the budget share, at least min size and notional."""
    size = inst.min_size
    if allocation is not None:
        size = max(
            size, inst.round_size(quote_per_order(allocation, orders_per_side, mode) / price)
        )
    if inst.min_notional > 0 and size * price < inst.min_notional:
        steps = (inst.min_notional / price / inst.step_size).to_integral_value(ROUND_CEILING)
        size = steps * inst.step_size
    return size


def select_levels(
    prices: list[Decimal], centre: Decimal, orders_per_side: int, mode: Mode
) -> tuple[list[int], list[int]]:
    """(buy levels, sell levels), nearest to ``centre`` first.

    Buys are the highest prices strictly below the centre, sells the lowest
    strictly above. The top level is never a buy and level 0 never a sell:
    their take-profit would be off the grid.
    """
    top = len(prices) - 1
    buys = [i for i in range(top - 1, -1, -1) if prices[i] < centre][:orders_per_side]
    sells = [i for i in range(1, top + 1) if prices[i] > centre][:orders_per_side]
    if mode == "long":
        sells = []
    elif mode == "short":
        buys = []
    return buys, sells


def entry_tag(side: Side, level: int) -> str:
    return f"E{_SIDE_CHAR[side]}{level}"


def tp_tag(entry_side: Side, level: int) -> str:
    return f"T{_SIDE_CHAR[entry_side]}{level}"


def parse_tag(tag: str) -> tuple[str, Side, int] | None:
    """("E" or "T", the entry side, the entry level), or None for a foreign tag."""
    m = _TAG_RE.match(tag)
    if m is None:
        return None
    return m.group(1), _CHAR_SIDE[m.group(2)], int(m.group(3))


__all__ = [
    "STOP_CLOSE_TAG",
    "Mode",
    "SlotKey",
    "entry_tag",
    "grid_prices",
    "order_size",
    "parse_tag",
    "quote_per_order",
    "select_levels",
    "tp_tag",
]
