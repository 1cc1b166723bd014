"""Session PnL over time, total and per strategy, as a line chart (textual-plotext),
with the latest figures under it. Floats here are for drawing only."""

from __future__ import annotations

from decimal import Decimal

from rich.text import Text
from textual.app import ComposeResult
from textual_plotext import PlotextPlot

from mmtui.core.pnl_history import PnlPoint
from mmtui.views.base import ViewScreen, fmt
from mmtui.widgets.pane import Pane


class PnlScreen(ViewScreen):
    TITLE = "Session PnL, total and per strategy (q/Esc closes)"
    DEFAULT_CSS = """
    PnlScreen #pnl-latest {
        height: auto;
        max-height: 4;
        padding: 0 1;
    }
    """

    def __init__(self, app: object) -> None:
        super().__init__(app)  # type: ignore[arg-type]
        self._drawn: object = None

    def compose(self) -> ComposeResult:
        yield self.compose_title()
        yield PlotextPlot(id="pnl-plot")
        yield Pane(id="pnl-latest")
        yield self.compose_footer()

    def refresh_view(self) -> None:
        points = self.view.pnl_history()
        stamp = (len(points), points[-1].ts_ms if points else None)
        if stamp == self._drawn:
            return
        self._drawn = stamp
        self.query_one("#pnl-latest", Pane).show(latest(points))
        plot = self.query_one(PlotextPlot)
        draw(plot, points)
        plot.refresh()


def series(points: tuple[PnlPoint, ...]) -> tuple[list[float], dict[str, list[float]]]:
    """(minutes since the first sample, {"total" and each strategy: values})."""
    if not points:
        return [], {}
    start = points[0].ts_ms
    xs = [(p.ts_ms - start) / 60_000 for p in points]
    lines: dict[str, list[float]] = {"total": [float(p.total) for p in points]}
    names = [name for name, _ in points[-1].strategies]
    for name in names:
        lines[name] = [float(dict(p.strategies).get(name, Decimal(0))) for p in points]
    return xs, lines


def draw(plot: PlotextPlot, points: tuple[PnlPoint, ...]) -> None:
    plt = plot.plt
    plt.clear_data()
    plt.clear_figure()
    plt.title("session PnL (quote)")
    plt.xlabel("minutes")
    xs, lines = series(points)
    for name, ys in lines.items():
        plt.plot(xs, ys, label=name, marker="braille")


def latest(points: tuple[PnlPoint, ...]) -> Text:
    if not points:
        return Text("no samples yet", style="dim")
    last = points[-1]
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"total {fmt(last.total, sign=True)}", style="bold")
    for name, value in last.strategies:
        text.append(f"   {name} {fmt(value, sign=True)}")
    text.append(f"   ({len(points)} samples)", style="dim")
    return text


__all__ = ["PnlScreen", "draw", "latest", "series"]
