"""Strategies: name, kind, market, state and a few live figures.

PnL here is the strategy's own (its fills on all its markets, at the mark); the
status bar's "acct PnL" is the whole account's (every fill on every venue,
other strategies' and fills of no order of ours included)."""

from __future__ import annotations

from rich.text import Text

from mmtui.core.readmodel import StrategyView
from mmtui.core.runner import StrategyState
from mmtui.widgets.keyed_table import Cell, KeyedTable

_STATE_STYLE = {
    StrategyState.RUNNING: "bold green",
    StrategyState.PAUSED: "bold yellow",
    StrategyState.STOPPED: "dim",
    StrategyState.HALTED: "bold white on red",
}


class StrategiesTable(KeyedTable):
    COLUMNS = (
        ("name", "name"),
        ("state", "state"),
        ("pos", "position"),
        ("pnl", "own PnL"),
        ("fills", "fills"),
        ("orders", "ords"),
        ("market", "market"),
        ("kind", "kind"),
        ("note", "note"),
    )
    NARROW = ("name", "state", "pos", "pnl", "fills", "orders")

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.border_title = "strategies"
        self.border_subtitle = "own PnL: its fills · acct PnL: all"

    def render_strategies(self, strategies: tuple[StrategyView, ...]) -> None:
        rows: dict[str, list[Cell]] = {}
        for s in strategies:
            rows[s.name] = [
                s.name,
                Text(s.state.value, style=_STATE_STYLE[s.state]),
                position_cell(s),
                Text(f"{s.pnl:+.2f}", style="green" if s.pnl >= 0 else "red"),
                str(s.fills),
                str(s.live_orders),
                " ~ ".join(f"{sym}@{v}" for v, sym, _ in s.legs) or f"{s.symbol}@{s.venue}",
                s.kind,
                s.note,
            ]
        self.sync(rows)


def position_cell(s: StrategyView) -> str:
    """Its signed size on each of its markets, in the market column's order (a
    cross-venue strategy shows both legs)."""
    if len(s.legs) <= 1:
        return f"{s.position:+}"
    return " ".join(f"{size:+}" for _, _, size in s.legs)
