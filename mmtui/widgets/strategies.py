"""Strategies: name, kind, market, state and a few live figures."""

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
        ("pnl", "PnL"),
        ("fills", "fills"),
        ("orders", "orders"),
        ("market", "market"),
        ("kind", "kind"),
        ("note", "note"),
    )

    def render_strategies(self, strategies: tuple[StrategyView, ...]) -> None:
        rows: dict[str, list[Cell]] = {}
        for s in strategies:
            rows[s.name] = [
                s.name,
                Text(s.state.value, style=_STATE_STYLE[s.state]),
                f"{s.position:+}",
                Text(f"{s.pnl:+.2f}", style="green" if s.pnl >= 0 else "red"),
                str(s.fills),
                str(s.live_orders),
                f"{s.symbol}@{s.venue}",
                s.kind,
                s.note,
            ]
        self.sync(rows)
