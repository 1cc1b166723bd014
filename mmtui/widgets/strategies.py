"""Strategies: name, kind, market, state and a few live figures."""

from __future__ import annotations

from rich.text import Text

from mmtui.core.engine import Engine
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

    def render_engine(self, engine: Engine) -> None:
        rows: dict[str, list[Cell]] = {}
        for name, runner in engine.strategies.items():
            pos = runner.position(runner.venue, runner.symbol)
            pnl = pos.net_pnl(engine.mark(runner.venue, runner.symbol))
            note = runner.reason or str(runner.telemetry.values.get("state", ""))
            rows[name] = [
                name,
                Text(runner.state.value, style=_STATE_STYLE[runner.state]),
                f"{pos.size:+}",
                Text(f"{pnl:+.2f}", style="green" if pnl >= 0 else "red"),
                str(pos.fills),
                str(len(runner.orders())),
                f"{runner.symbol}@{runner.venue}",
                runner.kind,
                note,
            ]
        self.sync(rows)
