"""The sim's funding: a rate settled on every open position at fixed times.

Settlements fall on multiples of the interval since the epoch (as the venues settle
on the hour, or every 8 hours), so two runs of a seeded sim settle at the same
instants. A position of ``size`` at ``mark`` pays ``size * mark * rate`` (longs pay
shorts when the rate is positive), taken from the account's collateral.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class FundingSpec:
    interval_s: int = 3600
    """Seconds between settlements (hourly, as Lighter and Hyperliquid settle)."""
    rate: Decimal = Decimal("0.0000125")
    """The rate of every interval (0.00125 %/h, about 11 %/yr: a typical perp rate)."""


class FundingSchedule:
    """When the next settlement falls, and whether a step reached it."""

    def __init__(self, spec: FundingSpec) -> None:
        if spec.interval_s <= 0:
            raise ValueError(f"funding interval must be positive, got {spec.interval_s}")
        self.spec = spec
        self.interval_ms = spec.interval_s * 1000
        self.next_ms: int | None = None

    @property
    def rate(self) -> Decimal:
        return self.spec.rate

    def due(self, now_ms: int) -> bool:
        """True once per settlement time reached (the first call only sets the time)."""
        if self.next_ms is None:
            self.next_ms = (now_ms // self.interval_ms + 1) * self.interval_ms
            return False
        if now_ms < self.next_ms:
            return False
        self.next_ms = (now_ms // self.interval_ms + 1) * self.interval_ms
        return True


def funding_amount(size: Decimal, mark: Decimal, rate: Decimal) -> Decimal:
    """What a position of signed ``size`` gets at one settlement (negative: it pays)."""
    return -size * mark * rate


__all__ = ["FundingSchedule", "FundingSpec", "funding_amount"]
