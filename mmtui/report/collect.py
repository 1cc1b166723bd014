"""A finished session's data, gathered for its report: the journal's fills and order
rows of this run, the final marks, the sampler's equity curves. Any session
(sim, replay, paper) that kept a journal: nothing here is replay-specific."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import TYPE_CHECKING

from mmtui.report.metrics import ReportInputs, StrategyInfo
from mmtui.report.sampler import Sampler

if TYPE_CHECKING:
    from mmtui.session import Session


class ReportError(Exception):
    """A report that cannot be made (no journal, say): one line."""


async def gather_inputs(session: Session, sampler: Sampler | None) -> ReportInputs:
    """After ``session.stop()``: its journal is closed, every row on disk."""
    engine = session.engine
    journal = engine.journal
    if journal is None:
        raise ReportError("the report needs the journal (journal.enabled: false)")
    fills = await asyncio.to_thread(journal.fills)
    orders = await asyncio.to_thread(journal.orders)
    start = engine.started_ms
    end = engine.stopped_ms or engine.clock.now_ms()
    markets = {(str(f["venue"]), str(f["symbol"])) for f in fills}
    for runner in engine.strategies.values():
        markets.update(runner.markets)
    marks: dict[tuple[str, str], Decimal | None] = {m: engine.mark(*m) for m in sorted(markets)}
    equity: dict[str, list[tuple[int, Decimal]]] = {}
    if sampler is not None:
        for s in sampler.samples:
            if s.ts_ms > end:
                break
            for name, value in zip(sampler.strategies, s.pnl, strict=True):
                equity.setdefault(name, []).append((s.ts_ms, value))
            equity.setdefault("total", []).append((s.ts_ms, s.total))
    return ReportInputs(
        mode=engine.mode,
        start_ms=start,
        end_ms=end,
        strategies=[
            StrategyInfo(name, runner.kind, runner.venue, runner.symbol)
            for name, runner in sorted(engine.strategies.items())
        ],
        fills=fills,
        orders=orders,
        marks=marks,
        equity=equity,
    )


def price_series(
    sampler: Sampler | None, end_ms: int
) -> dict[tuple[str, str], list[tuple[int, Decimal]]]:
    """Each sampled market's mid over time (the chart's price line)."""
    out: dict[tuple[str, str], list[tuple[int, Decimal]]] = {}
    if sampler is None:
        return out
    for s in sampler.samples:
        if s.ts_ms > end_ms:
            break
        for market, mid in zip(sampler.markets, s.mids, strict=True):
            if mid is not None:
                out.setdefault(market, []).append((s.ts_ms, mid))
    return out


__all__ = ["ReportError", "gather_inputs", "price_series"]
