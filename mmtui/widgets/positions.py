"""Positions per venue/symbol, and the net exposure per base asset across venues."""

from __future__ import annotations

from decimal import Decimal

from rich.text import Text

from mmtui.core.readmodel import PositionRow
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

    def render_positions(self, positions: tuple[PositionRow, ...]) -> None:
        rows: dict[str, list[Cell]] = {}
        net: dict[str, Decimal] = {}
        for p in positions:
            if p.size == 0 and p.fills == 0:
                continue
            net[p.base] = net.get(p.base, Decimal(0)) + p.size
            rows[f"{p.venue}/{p.symbol}"] = [
                p.venue,
                p.symbol,
                Text(f"{p.size:+}", style="bold" if p.size else "dim"),
                f"{p.entry_price:.2f}" if p.size else "-",
                f"{p.mark:.2f}" if p.mark is not None else "-",
                _pnl(p.unrealized_pnl),
                _pnl(p.realized_pnl - p.fees),
                f"{p.notional:.0f}",
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
