"""``write_report``: a finished session's report, into a directory."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmtui.report.chart import write_chart
from mmtui.report.collect import gather_inputs, price_series
from mmtui.report.metrics import compute
from mmtui.report.output import CHART_FILE, REPORT_FILE, RUN_FILE, render_text, write_json
from mmtui.report.sampler import Sampler

if TYPE_CHECKING:
    from mmtui.session import Session

log = logging.getLogger("mmtui.report")


@dataclass(slots=True)
class WrittenReport:
    report: dict[str, Any]
    text: str
    paths: list[Path]


async def write_report(
    session: Session,
    sampler: Sampler | None,
    out_dir: Path,
    *,
    run_info: dict[str, Any] | None = None,
    chart: bool = True,
) -> WrittenReport:
    """``report.json`` (the same bytes for the same data and config), ``run.json``
    (the run id and whatever else differs between runs) and ``report.png``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    inputs = await gather_inputs(session, sampler)
    report = compute(inputs)
    paths = [out_dir / REPORT_FILE, out_dir / RUN_FILE]
    write_json(paths[0], report)
    write_json(paths[1], {"run_id": session.engine.run_prefix, **(run_info or {})})
    if chart:
        title = f"mmtui {inputs.mode}: " + ", ".join(
            f"{s.name} ({s.kind}, {s.symbol} @ {s.venue})" for s in inputs.strategies
        )
        path = out_dir / CHART_FILE
        await asyncio.to_thread(
            write_chart,
            path,
            title=title,
            equity=inputs.equity,
            fills=inputs.fills,
            prices=price_series(sampler, inputs.end_ms),
            start_ms=inputs.start_ms,
            end_ms=inputs.end_ms,
        )
        paths.append(path)
    log.info("report written to %s", out_dir)
    return WrittenReport(report, render_text(report), paths)


__all__ = ["WrittenReport", "write_report"]
