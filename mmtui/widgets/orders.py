"""Our open orders."""

from __future__ import annotations

from rich.text import Text

from connectors.base import Side
from mmtui.core.readmodel import OrderRow
from mmtui.widgets.keyed_table import Cell, KeyedTable


class OrdersTable(KeyedTable):
    COLUMNS = (
        ("strategy", "strategy"),
        ("venue", "venue"),
        ("symbol", "symbol"),
        ("side", "side"),
        ("price", "price"),
        ("size", "size"),
        ("filled", "filled"),
        ("status", "status"),
        ("flags", "flags"),
        ("id", "client id"),
    )
    NARROW = ("strategy", "venue", "symbol", "side", "price", "size", "filled", "status")

    def render_orders(self, orders: tuple[OrderRow, ...]) -> None:
        rows: dict[str, list[Cell]] = {}
        for order in orders:
            flags = "".join(
                f
                for f, on in (
                    ("P", order.post_only),
                    ("R", order.reduce_only),
                    ("x", order.cancel_requested),
                )
                if on
            )
            rows[order.client_id] = [
                order.strategy or "-",
                order.venue,
                order.symbol,
                Text(order.side.value, style="green" if order.side is Side.BUY else "red"),
                f"{order.price}" if order.price is not None else "market",
                f"{order.size}",
                f"{order.filled}",
                order.status.value,
                flags,
                order.client_id,
            ]
        self.sync(rows)
