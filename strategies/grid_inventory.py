"""The geometric grid's round trips: the inventory each holds (``Slot``), kept equal to
what the strategy and the account hold, and rebuilt at a restart from the orders an
earlier run left. A mixin of ``GeometricGrid`` (``geometric_grid``).

A long and a short round trip open at once (a race between a cancel and a fill) are
netted against each other, inventory closed outside the grid (flatten, kill switch)
leaves them, inventory they do not explain (a restart) becomes a round trip at its entry
price.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from connectors.base import ZERO, Instrument, Side
from strategies.grid_ladder import SlotKey, parse_tag

if TYPE_CHECKING:
    from strategies.base import StrategyContext


@dataclass(slots=True)
class Slot:
    """Inventory one round trip holds: entry fills not yet closed by its take-profit."""

    held: Decimal = ZERO
    cost: Decimal = ZERO  # quote paid (buy) or received (sell) for ``held``

    def take(self, qty: Decimal) -> Decimal:
        """Remove ``qty`` (at most ``held``); returns its cost."""
        qty = min(qty, self.held)
        if qty <= 0:
            return ZERO
        part = self.cost * qty / self.held
        self.held -= qty
        self.cost -= part
        return part


class GridInventory:
    """The round trips of ``GeometricGrid``: ``slots`` by entry side and level."""

    ctx: StrategyContext
    venue: str
    symbol: str
    inst: Instrument
    prices: list[Decimal]
    slots: dict[SlotKey, Slot]
    centre: Decimal | None
    round_trips: int
    realized: Decimal

    def _sync_inventory(self) -> None:
        """Keep the round trips' inventory equal to what the strategy and the account hold.

        - A long and a short round trip open at once (an entry filled while the
          take-profit in front of it was being re-placed) are flat together on a
          netting venue: they close against each other.
        - Inventory closed outside the grid (a flatten, the kill switch, another
          strategy's fill on the same account) leaves the round trips.
        - Inventory the round trips do not explain (after a restart, or a
          take-profit that filled after its round trip was netted) becomes a
          round trip at the level of the position's entry price.
        """
        self._net_opposite()
        pos = self.ctx.position(self.venue, self.symbol)
        account = self.ctx.account_position(self.venue, self.symbol)
        caps = {
            Side.BUY: max(ZERO, min(pos.size, account)),
            Side.SELL: max(ZERO, min(-pos.size, -account)),
        }
        for side, cap in caps.items():
            # release the round trips farthest from their take-profit first
            keys = sorted(
                (k for k in self.slots if k[0] is side),
                key=lambda k: k[1],
                reverse=side is Side.BUY,
            )
            held = sum((self.slots[k].held for k in keys), ZERO)
            excess = held - cap
            for k in keys:
                if excess <= 0:
                    break
                qty = min(excess, self.slots[k].held)
                self.slots[k].take(qty)
                excess -= qty
                if self.slots[k].held == 0:
                    del self.slots[k]
                self.ctx.telemetry.count("inventory_released")
            unexplained = self.inst.round_size(cap - held)
            if unexplained >= self.inst.min_size and pos.entry_price > 0:
                key = self._level_for(side, pos.entry_price)
                slot = self.slots.setdefault(key, Slot())
                slot.held += unexplained
                slot.cost += unexplained * pos.entry_price
                self.ctx.telemetry.count("inventory_assigned")

    def _net_opposite(self) -> None:
        while True:
            longs = [k for k in self.slots if k[0] is Side.BUY]
            shorts = [k for k in self.slots if k[0] is Side.SELL]
            if not longs or not shorts:
                return
            # the pair closest to each other: the highest buy against the lowest sell
            b, s = max(longs, key=lambda k: k[1]), min(shorts, key=lambda k: k[1])
            qty = min(self.slots[b].held, self.slots[s].held)
            self.realized += self.slots[s].take(qty) - self.slots[b].take(qty)
            for k in (b, s):
                if self.slots[k].held == 0:
                    del self.slots[k]
            self.round_trips += 1
            self.ctx.telemetry.count("netted")

    def _level_for(self, side: Side, price: Decimal) -> SlotKey:
        """The entry level a position at ``price`` most likely came from."""
        top = len(self.prices) - 1
        if side is Side.BUY:
            below = [i for i, p in enumerate(self.prices) if p <= price]
            return side, min(max(below, default=0), top - 1)
        above = [i for i, p in enumerate(self.prices) if p >= price]
        return side, max(min(above, default=top), 1)

    def _rebuild_from_orders(self) -> int:
        """Rebuild the round trips from the orders an earlier run left (by their tags)."""
        adopted = 0
        orders = [
            (parsed, o)
            for o in self.ctx.orders(self.venue, self.symbol)
            if (parsed := parse_tag(o.tag)) is not None
        ]
        top = len(self.prices) - 1
        for (kind, side, level), o in orders:
            adopted += 1
            if kind == "T" and o.remaining > 0:
                slot = self.slots.setdefault((side, level), Slot())
                entry_price = self.prices[level] if 0 <= level <= top else o.price or ZERO
                slot.held += o.remaining
                slot.cost += o.remaining * entry_price
        buys: list[int] = []
        sells: list[int] = []
        for (kind, side, level), o in orders:
            if kind != "E":
                continue
            if 0 <= level <= top and o.price == self.prices[level]:
                (buys if side is Side.BUY else sells).append(level)
            # a partly filled entry without a take-profit: cover what it filled
            if o.filled > 0 and (side, level) not in self.slots:
                slot = self.slots.setdefault((side, level), Slot())
                slot.held += o.filled
                slot.cost += o.filled * (o.price or ZERO)
        # Keep the earlier run's centre, so its entries stay selected: between the
        # highest buy entry and the lowest sell entry.
        lo = max(buys) if buys else None
        hi = min(sells) if sells else None
        if lo is not None and (hi is None or hi <= lo):
            hi = lo + 1
        elif hi is not None and lo is None:
            lo = hi - 1
        if lo is not None and hi is not None and 0 <= lo < hi <= top:
            self.centre = (self.prices[lo] + self.prices[hi]) / 2
        return adopted


__all__ = ["GridInventory", "Slot"]
