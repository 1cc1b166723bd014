"""Position arithmetic shared by the core and the sim venue: signed size,
average entry, realized PnL, fees and volume, exact in Decimal."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from connectors.base import ZERO, Side


@dataclass(slots=True)
class PositionState:
    size: Decimal = ZERO
    entry_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    fees: Decimal = ZERO
    volume: Decimal = ZERO
    fills: int = 0

    def apply_fill(self, side: Side, price: Decimal, size: Decimal, fee: Decimal) -> Decimal:
        """Apply one fill; returns the realized PnL it produced (before fees)."""
        signed = size if side is Side.BUY else -size
        realized = ZERO
        old = self.size
        if old == 0 or (old > 0) == (signed > 0):
            new = old + signed
            self.entry_price = (self.entry_price * abs(old) + price * size) / abs(new)
            self.size = new
        else:
            closed = min(abs(old), size)
            direction = 1 if old > 0 else -1
            realized = (price - self.entry_price) * closed * direction
            new = old + signed
            if new == 0:
                self.entry_price = ZERO
            elif (new > 0) != (old > 0):
                self.entry_price = price  # flipped through zero: the rest opens at this price
            self.size = new
        self.realized_pnl += realized
        self.fees += fee
        self.volume += price * size
        self.fills += 1
        return realized

    def unrealized_pnl(self, mark: Decimal | None) -> Decimal:
        if mark is None or self.size == 0:
            return ZERO
        return (mark - self.entry_price) * self.size

    def net_pnl(self, mark: Decimal | None) -> Decimal:
        """Realized + unrealized - fees."""
        return self.realized_pnl + self.unrealized_pnl(mark) - self.fees

    def notional(self, mark: Decimal | None) -> Decimal:
        price = mark if mark is not None else self.entry_price
        return abs(self.size) * price
