"""Session PnL over time, total and per strategy: a bounded series the console
charts, sampled on the engine clock. It covers the whole session: when it is full,
every other sample is dropped and the interval doubles."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from mmtui.core.clock import Clock

SAMPLES_KEPT = 600
"""Enough for the chart (a braille plot: two points a column of a 160-column
terminal, and then some); was 2,000: ~1.1 MB in the core and as much again in an
attached console, filling for the first 33 minutes."""


@dataclass(frozen=True, slots=True)
class PnlPoint:
    ts_ms: int
    total: Decimal
    strategies: tuple[tuple[str, Decimal], ...]


def thinned(points: list[PnlPoint]) -> list[PnlPoint]:
    """Half the points, the session still covered: the first sample, the newest,
    and every other one between. (The core's history when full; an attached
    console's copy of it, thinned when it is as long.)"""
    return points[:1] + points[1::2]


class PnlHistory:
    def __init__(
        self,
        *,
        clock: Clock,
        total: Callable[[], Decimal],
        strategies: Callable[[], Mapping[str, Decimal]],
        interval_s: float = 1.0,
        kept: int = SAMPLES_KEPT,
    ) -> None:
        self._clock = clock
        self._total = total
        self._strategies = strategies
        self.interval_s = interval_s
        self.kept = kept
        self.points: list[PnlPoint] = []

    def sample(self) -> None:
        self.points.append(
            PnlPoint(self._clock.now_ms(), self._total(), tuple(self._strategies().items()))
        )
        if len(self.points) >= self.kept:
            self.points = thinned(self.points)
            self.interval_s *= 2

    async def run(self) -> None:
        while True:
            self.sample()
            await self._clock.sleep(self.interval_s)


__all__ = ["SAMPLES_KEPT", "PnlHistory", "PnlPoint", "thinned"]
