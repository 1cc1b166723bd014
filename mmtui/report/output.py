"""The report written out: ``report.json`` (exact Decimals as strings; nothing that
differs between two runs of the same data and config, so the file is byte-identical),
``run.json`` (what does differ: the run id, wall-clock times, paths), and the short
text summary printed at the end of a backtest."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

REPORT_FILE = "report.json"
RUN_FILE = "run.json"
CHART_FILE = "report.png"
JOURNAL_FILE = "journal.sqlite"
OUTPUTS = (REPORT_FILE, RUN_FILE, CHART_FILE)

_EXP = Decimal("1e-8")


def jsonable(value: Any) -> Any:
    """Decimals as plain strings (no exponent), cut to 8 decimals where an average
    carries 28 digits; tuples as lists; keys as strings."""
    if isinstance(value, Decimal):
        if value.as_tuple().exponent < -8:  # type: ignore[operator]
            value = value.quantize(_EXP)
        if value == 0:
            value = abs(value)  # "-0" and "0" are the same number: one spelling
        return format(value.normalize() if value == value.to_integral() else value, "f")
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def report_json(report: dict[str, Any]) -> str:
    return json.dumps(jsonable(report), indent=2, ensure_ascii=False) + "\n"


def write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(report_json(data), encoding="utf-8")
    tmp.replace(path)


def _d(value: Decimal, places: int = 4) -> str:
    return f"{value:,.{places}f}"


def render_text(report: dict[str, Any]) -> str:
    """A few lines per strategy, then the total."""
    lines = [f"{report['mode']} run over {report['duration_s']:.1f}s of data"]
    rows = [(name, s) for name, s in report["strategies"].items()]
    rows.append(("TOTAL", report["total"]))
    for name, s in rows:
        pnl, fills, orders = s["pnl"], s["fills"], s["orders"]
        head = name if name == "TOTAL" else f"{name} ({s['kind']} on {s['venue']} {s['symbol']})"
        lines.append(f"  {head}")
        lines.append(
            f"    PnL net {_d(pnl['net'])} = realized {_d(pnl['realized'])} "
            f"+ unrealized {_d(pnl['unrealized'])} - fees {_d(pnl['fees'])}; "
            f"max drawdown {_d(s['max_drawdown'])}"
        )
        lines.append(
            f"    fills {fills['count']} (maker {fills['maker']['count']}, taker "
            f"{fills['taker']['count']}), volume {fills['volume']}, notional "
            f"{_d(fills['notional'], 2)}"
        )
        lines.append(
            f"    orders placed {orders['placed']}, cancelled {orders['cancelled']}, rejected "
            f"{orders['rejected']}, fill ratio {orders['fill_ratio']:.2%}"
            + (f", quote uptime {s['quote_uptime']:.2%}" if "quote_uptime" in s else "")
        )
        for inv in s["inventory"]:
            lines.append(
                f"    inventory {inv['venue']} {inv['symbol']}: final {inv['final']}, "
                f"max |pos| {inv['max_abs']}, time-weighted {inv['time_weighted']:.6f}"
            )
    return "\n".join(lines)


__all__ = [
    "CHART_FILE",
    "JOURNAL_FILE",
    "OUTPUTS",
    "REPORT_FILE",
    "RUN_FILE",
    "jsonable",
    "render_text",
    "report_json",
    "write_json",
]
