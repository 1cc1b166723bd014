"""The order-book ladder of one venue/symbol, with our resting orders marked.

Rendered as plain aligned text (a Rich table per frame cost ~20 ms at 10 Hz),
and only when the book or our orders on it changed since the last frame.
"""

from __future__ import annotations

from decimal import Decimal

from rich.text import Text
from textual.widgets import Static

from connectors.base import Side
from mmtui.core.engine import Engine

Ours = dict[tuple[Side, Decimal], Decimal]


class BookLadder(Static, can_focus=True):
    """Asks above, bids below; ``levels`` per side follows the pane height."""

    def __init__(self, venue: str, symbol: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.venue = venue
        self.symbol = symbol
        self.border_title = f"{symbol} @ {venue}"
        self._drawn: object = None

    def levels_per_side(self) -> int:
        return max(2, (self.size.height - 4) // 2)

    def render_engine(self, engine: Engine) -> None:
        book = engine.book(self.venue, self.symbol)
        ours = our_orders(engine, self.venue, self.symbol)
        levels = self.levels_per_side()
        state = (
            None if book is None else (book.seq, book.synced, book.resync_reason),
            levels,
            tuple(sorted((s.value, p, q) for (s, p), q in ours.items())),
        )
        if state == self._drawn:
            return
        self._drawn = state
        self.update(ladder(engine, self.venue, self.symbol, levels, ours))


def our_orders(engine: Engine, venue: str, symbol: str) -> Ours:
    ours: Ours = {}
    for order in engine.orders.live(venue=venue, symbol=symbol):
        if order.price is not None:
            key = (order.side, order.price)
            ours[key] = ours.get(key, Decimal(0)) + order.remaining
    return ours


def ladder(engine: Engine, venue: str, symbol: str, levels: int, ours: Ours | None = None) -> Text:
    book = engine.book(venue, symbol)
    if book is None:
        return Text("not subscribed", style="dim")
    if not book.is_valid():
        return Text(f"book not valid: {book.resync_reason}", style="yellow")
    ours = our_orders(engine, venue, symbol) if ours is None else ours
    rows: list[tuple[str, str, str, str]] = []  # (ours, price, size, price style)
    for price, size in reversed(book.asks(levels)):
        mine = ours.get((Side.SELL, price))
        rows.append((f"{mine}" if mine else "", f"{price}", f"{size}", "red"))
    mid_row = len(rows)
    rows.append(("", f"{book.mid()}", f"spr {book.spread()}", "bold"))
    for price, size in book.bids(levels):
        mine = ours.get((Side.BUY, price))
        rows.append((f"{mine}" if mine else "", f"{price}", f"{size}", "green"))
    w0 = max(4, *(len(r[0]) for r in rows))
    w1 = max(len(r[1]) for r in rows)
    w2 = max(len(r[2]) for r in rows)
    text = Text(no_wrap=True, overflow="ellipsis")
    for i, (mine, price, size, style) in enumerate(rows):
        if i:
            text.append("\n")
        text.append(mine.rjust(w0), style="bold magenta")
        text.append(" ")
        text.append(price.rjust(w1), style=style)
        text.append(" ")
        text.append(size.rjust(w2), style="dim" if i == mid_row else "")
    return text
