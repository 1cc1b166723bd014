"""Telemetry of the selected strategy: key figures and sparklines.

Drawn as plain aligned text (a Rich table has no height the screen can know
without a relayout), repainted only when a figure changed."""

from __future__ import annotations

from decimal import Decimal

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Label, Sparkline

from mmtui.core.telemetry import TelemetryView
from mmtui.widgets.pane import Pane

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


def values_text(items: list[tuple[str, str]]) -> Text:
    """(name, value) pairs two to a row: name (dim), value (right-aligned), two
    spaces between columns."""
    text = Text(no_wrap=True, overflow="ellipsis")
    columns: list[list[tuple[str, str]]] = [items[0::2], items[1::2]]
    name_w = [max((len(k) for k, _ in col), default=0) for col in columns]
    value_w = [max((len(v) for _, v in col), default=0) for col in columns]
    for row in range(len(columns[0])):
        if row:
            text.append("\n")
        for c, col in enumerate(columns):
            if row >= len(col):
                break
            key, value = col[row]
            if c:
                text.append("  ")
            text.append(key.ljust(name_w[c]), style="dim")
            text.append("  ")
            text.append(value.rjust(value_w[c]))
    return text


class TelemetryPane(VerticalScroll):
    def compose(self) -> ComposeResult:
        yield Pane(id="telemetry-values")
        for key, label in SERIES:
            with Horizontal(classes="spark-row"):
                yield Label(label, classes="spark-label")
                yield Pane("-", id=f"spark-value-{key}", classes="spark-value")
                yield Sparkline([], id=f"spark-{key}", summary_function=max)

    def render_telemetry(self, tel: TelemetryView | None) -> None:
        values = self.query_one("#telemetry-values", Pane)
        if tel is None:
            values.show(Text("no strategy selected", no_wrap=True))
            return
        series = dict(SERIES)
        items = [("strategy", tel.strategy)]
        items += [(k, _fmt(v)) for k, v in tel.items() if k not in series]
        values.show(values_text(items))
        for key, _ in SERIES:
            spark = self.query_one(f"#spark-{key}", Sparkline)
            points = list(tel.points(key))
            if spark.data != points:
                spark.data = points
            self.query_one(f"#spark-value-{key}", Pane).show(_fmt(tel.value(key)))
