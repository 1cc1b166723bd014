"""Telemetry of the selected strategy: key figures and sparklines."""

from __future__ import annotations

from decimal import Decimal

from rich.table import Table
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Label, Sparkline, Static

from mmtui.core.telemetry import TelemetryView

SERIES = (
    ("mid", "mid"),
    ("reservation", "reservation"),
    ("inventory", "inventory"),
    ("pnl", "PnL"),
    ("net_exposure", "net expo"),
)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.4f}" if abs(value) < 1000 else f"{value:,.2f}"
    if isinstance(value, Decimal):
        return f"{value:,.4f}" if abs(value) < 1000 else f"{value:,.2f}"
    return "-" if value is None else str(value)


class TelemetryPane(VerticalScroll):
    def compose(self) -> ComposeResult:
        yield Static(id="telemetry-values")
        for key, label in SERIES:
            with Horizontal(classes="spark-row"):
                yield Label(label, classes="spark-label")
                yield Label("-", id=f"spark-value-{key}", classes="spark-value")
                yield Sparkline([], id=f"spark-{key}", summary_function=max)

    def render_telemetry(self, tel: TelemetryView | None) -> None:
        values = self.query_one("#telemetry-values", Static)
        if tel is None:
            values.update("no strategy selected")
            return
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="dim")
        grid.add_column(justify="right")
        grid.add_column(style="dim")
        grid.add_column(justify="right")
        items = [(k, v) for k, v in tel.items() if k not in dict(SERIES)]
        items.insert(0, ("strategy", tel.strategy))
        for i in range(0, len(items), 2):
            row = [items[i][0], _fmt(items[i][1])]
            row += [items[i + 1][0], _fmt(items[i + 1][1])] if i + 1 < len(items) else ["", ""]
            grid.add_row(*row)
        values.update(grid)
        for key, _ in SERIES:
            spark = self.query_one(f"#spark-{key}", Sparkline)
            spark.data = list(tel.points(key))
            self.query_one(f"#spark-value-{key}", Label).update(_fmt(tel.value(key)))
