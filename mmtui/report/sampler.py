"""What a run's report needs that the journal does not hold: the mid price of every
market a strategy trades and the mark-to-market PnL, sampled on the session clock
(sim time in replay, wall time in paper). The journal gives fills and orders exactly;
these samples give the equity curve (and so the drawdown) and the price line of the
chart. Bounded like ``PnlHistory``: when full, every other sample goes and the interval
doubles, so a run of any length keeps its shape."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from connectors.base import ZERO

if TYPE_CHECKING:
    from mmtui.core.engine import Engine

SAMPLES_KEPT = 20_000


@dataclass(frozen=True, slots=True)
class Sample:
    ts_ms: int
    mids: tuple[Decimal | None, ...]
    """Per market, in ``Sampler.markets`` order (None: no book yet)."""
    pnl: tuple[Decimal, ...]
    """Each strategy's net PnL (realized + unrealized - fees, over its markets), in
    ``Sampler.strategies`` order."""
    total: Decimal
    """The account's net PnL over every market (fills of no strategy too)."""


class Sampler:
    """Samples one engine every ``interval_s`` of its clock (``run``), or when told
    (``sample``: the backtest takes one at the end of the data)."""

    def __init__(self, engine: Engine, interval_s: float = 1.0, kept: int = SAMPLES_KEPT) -> None:
        self._engine = engine
        self.interval_s = interval_s
        self.kept = kept
        self.samples: list[Sample] = []
        self.strategies: tuple[str, ...] = ()
        self.markets: tuple[tuple[str, str], ...] = ()

    def _bind(self) -> None:
        """The strategies and markets: fixed at the first sample (they are added at start)."""
        engine = self._engine
        self.strategies = tuple(sorted(engine.strategies))
        markets = {m for runner in engine.strategies.values() for m in runner.markets}
        self.markets = tuple(sorted(markets))

    def sample(self) -> None:
        engine = self._engine
        if not self.samples:
            self._bind()
        now = engine.clock.now_ms()
        if self.samples and self.samples[-1].ts_ms == now:
            self.samples.pop()  # one sample per instant: the latest
        mids = tuple(_mid(engine, v, s) for v, s in self.markets)
        pnl = {name: ZERO for name in self.strategies}
        for key, state in engine.strategy_positions.items():
            name, venue, symbol = key  # type: ignore[misc]
            if name in pnl:
                pnl[name] += state.net_pnl(engine.mark(venue, symbol))
        total = engine.session_pnl()
        self.samples.append(Sample(now, mids, tuple(pnl[n] for n in self.strategies), total))
        if len(self.samples) >= self.kept:
            self.samples = self.samples[:1] + self.samples[1::2]
            self.interval_s *= 2

    async def run(self) -> None:
        while True:
            self.sample()
            await self._engine.clock.sleep(self.interval_s)


def _mid(engine: Engine, venue: str, symbol: str) -> Decimal | None:
    book = engine.book(venue, symbol)
    if book is None or not book.is_valid():
        return None
    return book.mid()


__all__ = ["SAMPLES_KEPT", "Sample", "Sampler"]
