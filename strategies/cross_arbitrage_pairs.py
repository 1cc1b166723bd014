"""A pair: one arbitrage position, bought on one market and sold on the other, and
the tracking legs that opened and close it (only confirmed fills count)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from connectors.base import ZERO, Instrument
from strategies.cross_arbitrage_edge import gross_edge
from strategies.leg_execution import TrackingLeg

Role = Literal["open", "hedge", "close", "fix"]


@dataclass(slots=True)
class LegRef:
    role: Role
    long_side: bool  # on the market we bought (True) or the one we sold (False)
    leg: TrackingLeg

    @property
    def opening(self) -> bool:
        return self.role in ("open", "hedge")


@dataclass(slots=True)
class Pair:
    id: int
    buy: Instrument
    sell: Instrument
    size: Decimal
    entry_gross: Decimal
    opened_ms: int
    state: str = "entering"  # entering | open | closing | closed
    exit_reason: str = ""
    legs: list[LegRef] = field(default_factory=list)
    close_retry_ms: int = 0
    close_failures: int = 0

    def held(self, long_side: bool) -> Decimal:
        """Base held on one side (positive): opened minus closed, confirmed fills only."""
        total = ZERO
        for ref in self.legs:
            if ref.long_side is long_side:
                total += ref.leg.filled if ref.opening else -ref.leg.filled
        return total

    def working(self) -> list[TrackingLeg]:
        return [r.leg for r in self.legs if not r.leg.finished]

    def signed(self, venue: str, symbol: str) -> Decimal:
        """This pair's signed position on one market."""
        out = ZERO
        if (self.buy.venue, self.buy.symbol) == (venue, symbol):
            out += self.held(True)
        if (self.sell.venue, self.sell.symbol) == (venue, symbol):
            out -= self.held(False)
        return out

    def entry_edge(self) -> Decimal | None:
        """The edge actually captured by the opening fills."""
        buys = [r.leg for r in self.legs if r.opening and r.long_side and r.leg.filled]
        sells = [r.leg for r in self.legs if r.opening and not r.long_side and r.leg.filled]
        if not buys or not sells:
            return None
        bq = sum((x.filled for x in buys), ZERO)
        sq = sum((x.filled for x in sells), ZERO)
        bp = sum((x.cost for x in buys), ZERO) / bq
        sp = sum((x.cost for x in sells), ZERO) / sq
        return gross_edge(bp, sp)
