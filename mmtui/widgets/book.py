"""The order-book ladder of one venue/symbol, with our resting orders marked."""

from __future__ import annotations

from decimal import Decimal

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from connectors.base import Side
from mmtui.core.engine import Engine


class BookLadder(Static, can_focus=True):
    """Asks above, bids below; ``levels`` per side follows the pane height."""

    def __init__(self, venue: str, symbol: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.venue = venue
        self.symbol = symbol
        self.border_title = f"{symbol} @ {venue}"

    def levels_per_side(self) -> int:
        return max(2, (self.size.height - 4) // 2)

    def render_engine(self, engine: Engine) -> None:
        self.update(ladder(engine, self.venue, self.symbol, self.levels_per_side()))


def ladder(engine: Engine, venue: str, symbol: str, levels: int) -> Table | Text:
    book = engine.book(venue, symbol)
    if book is None:
        return Text("not subscribed", style="dim")
    if not book.is_valid():
        return Text(f"book not valid: {book.resync_reason}", style="yellow")
    ours: dict[tuple[Side, Decimal], Decimal] = {}
    for order in engine.orders.live(venue=venue, symbol=symbol):
        if order.price is not None:
            key = (order.side, order.price)
            ours[key] = ours.get(key, Decimal(0)) + order.remaining
    table = Table.grid(padding=(0, 1), expand=True)
    table.add_column("ours", justify="right", width=7)
    table.add_column("price", justify="right")
    table.add_column("size", justify="right")
    for price, size in reversed(book.asks(levels)):
        mine = ours.get((Side.SELL, price))
        table.add_row(
            Text(f"{mine}", style="bold magenta") if mine else "",
            Text(f"{price}", style="red"),
            f"{size}",
        )
    mid, spread = book.mid(), book.spread()
    table.add_row("", Text(f"{mid}", style="bold"), Text(f"spr {spread}", style="dim"))
    for price, size in book.bids(levels):
        mine = ours.get((Side.BUY, price))
        table.add_row(
            Text(f"{mine}", style="bold magenta") if mine else "",
            Text(f"{price}", style="green"),
            f"{size}",
        )
    return table
