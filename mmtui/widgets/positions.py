"""Positions per venue/symbol, and the net exposure per base asset across venues."""

from __future__ import annotations

from decimal import Decimal

from rich.text import Text

from mmtui.core.engine import Engine
from mmtui.widgets.keyed_table import Cell, KeyedTable


def _pnl(value: Decimal) -> Text:
    return Text(f"{value:+.2f}", style="green" if value >= 0 else "red")


class PositionsTable(KeyedTable):
    COLUMNS = (
        ("venue", "venue"),
        ("symbol", "symbol"),
        ("size", "size"),
        ("entry", "entry"),
        ("mark", "mark"),
        ("upnl", "uPnL"),
        ("rpnl", "rPnL"),
        ("notional", "notional"),
    )
    NARROW = ("venue", "symbol", "size", "entry", "upnl", "rpnl")

    def render_engine(self, engine: Engine) -> None:
        rows: dict[str, list[Cell]] = {}
        net: dict[str, Decimal] = {}
        for key, state in engine.positions.items():
            venue, symbol = key  # type: ignore[misc]
            if state.size == 0 and state.fills == 0:
                continue
            mark = engine.mark(venue, symbol)
            inst = engine.instrument(venue, symbol)
            net[inst.base] = net.get(inst.base, Decimal(0)) + state.size
            rows[f"{venue}/{symbol}"] = [
                venue,
                symbol,
                Text(f"{state.size:+}", style="bold" if state.size else "dim"),
                f"{state.entry_price:.2f}" if state.size else "-",
                f"{mark:.2f}" if mark is not None else "-",
                _pnl(state.unrealized_pnl(mark)),
                _pnl(state.realized_pnl - state.fees),
                f"{state.notional(mark):.0f}",
            ]
        for base, size in sorted(net.items()):
            rows[f"net/{base}"] = [
                Text("NET", style="bold cyan"),
                base,
                Text(f"{size:+}", style="bold cyan"),
                "",
                "",
                "",
                "",
                "",
            ]
        self.sync(rows)
