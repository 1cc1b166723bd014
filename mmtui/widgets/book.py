"""The order-book ladder of one venue/symbol, with our resting orders marked.

Rendered as plain aligned text (a Rich table per frame cost ~20 ms at 10 Hz),
and only when the book or our orders on it changed since the last frame. The
ladder shows as many levels as the pane has rows; our own orders always get a
row, even priced beyond that depth (a wide quote on a fine tick): the levels
nearest the touch give way to them.
"""

from __future__ import annotations

from decimal import Decimal

from rich.text import Text

from connectors.base import Side
from mmtui.core.readmodel import BookView, OurLevel, ReadModel
from mmtui.widgets.pane import Pane

Ours = dict[tuple[Side, Decimal], Decimal]
Level = tuple[Decimal, Decimal]

DEPTH = 200
"""Levels read per side, so our orders beyond the visible depth can be shown."""


class BookLadder(Pane, can_focus=True):
    """Asks above, bids below; ``levels`` per side follows the pane height."""

    def __init__(self, venue: str, symbol: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.venue = venue
        self.symbol = symbol
        self.border_title = f"{symbol} @ {venue}"
        self._drawn: object = None

    def levels_per_side(self) -> tuple[int, int]:
        """(asks, bids): with the mid row they fill the content height, no blank rows
        (an even height gives the asks the extra row)."""
        rows = max(2, self.size.height - 1)
        return (rows + 1) // 2, rows // 2

    def render_view(self, view: ReadModel) -> None:
        ours = our_orders(view.our_levels(self.venue, self.symbol))
        levels = self.levels_per_side()
        state = (
            view.book_stamp(self.venue, self.symbol),
            levels,
            tuple(sorted((s.value, p, q) for (s, p), q in ours.items())),
        )
        if state == self._drawn:
            return
        self._drawn = state
        self.show(ladder(view.book(self.venue, self.symbol, DEPTH), ours, *levels))


def our_orders(levels: tuple[OurLevel, ...]) -> Ours:
    return {(level.side, level.price): level.size for level in levels}


def side_rows(
    levels: tuple[Level, ...], mine: dict[Decimal, Decimal], rows: int, *, asks: bool
) -> list[Level]:
    """``rows`` levels of one side, best first: the nearest ones, and every price we
    rest at (with the book's size there, 0 if the book has none) — deeper ones of ours
    take the place of the farthest near ones; the touch always stays."""
    near = list(levels[:rows])
    shown = {price for price, _ in near}
    sizes = dict(levels)
    beyond = [p for p in mine if p not in shown]
    if not beyond:
        return near
    keep = near[: max(1, rows - len(beyond))]  # the touch stays
    deep = [(p, sizes.get(p, Decimal(0))) for p in beyond]
    out = sorted(keep + deep, key=lambda lv: lv[0], reverse=not asks)
    return out[:rows] if len(out) > rows else out


def ladder(
    book: BookView | None, ours: Ours, ask_rows: int | None = None, bid_rows: int | None = None
) -> Text:
    if book is None:
        return Text("not subscribed", style="dim")
    if not book.valid:
        return Text(f"book not valid: {book.resync_reason}", style="yellow")
    my_asks = {p: q for (s, p), q in ours.items() if s is Side.SELL}
    my_bids = {p: q for (s, p), q in ours.items() if s is Side.BUY}
    asks = side_rows(book.asks, my_asks, ask_rows or len(book.asks), asks=True)
    bids = side_rows(book.bids, my_bids, bid_rows or len(book.bids), asks=False)
    rows: list[tuple[str, str, str, str]] = []  # (ours, price, size, price style)
    for price, size in reversed(asks):
        mine = my_asks.get(price)
        rows.append((f"{mine}" if mine else "", f"{price}", f"{size}", "red"))
    mid_row = len(rows)
    rows.append(("", f"{book.mid}", f"spr {book.spread}", "bold"))
    for price, size in bids:
        mine = my_bids.get(price)
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
