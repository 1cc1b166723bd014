"""Depth bars and a trade tape for one market, from the read model.

Bars: each level's size as a bar scaled to the largest level shown, with the
cumulative size beside it. Tape: the latest public trades, newest first."""

from __future__ import annotations

from decimal import Decimal

from rich.text import Text

from connectors.base import Side, Trade
from mmtui.core.readmodel import BookView, ReadModel
from mmtui.widgets.pane import Pane

BLOCKS = " ▏▎▍▌▋▊▉█"


def bar(fraction: float, width: int) -> str:
    """A horizontal bar of ``fraction`` (0..1) of ``width`` cells, eighth-cell steps."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (BLOCKS[part] if part else "")).ljust(width)


def depth_bars(book: BookView | None, width: int) -> Text:
    if book is None:
        return Text("not subscribed", style="dim")
    if not book.valid:
        return Text(f"book not valid: {book.resync_reason}", style="yellow")
    sizes = [s for _, s in book.asks] + [s for _, s in book.bids]
    biggest = max(sizes, default=Decimal(0))
    price_w = max((len(str(p)) for p, _ in (*book.asks, *book.bids)), default=5)
    size_w = max((len(str(s)) for s in sizes), default=4)
    cum_w = size_w + 2
    bar_w = max(4, width - price_w - size_w - cum_w - 3)
    text = Text(no_wrap=True, overflow="ellipsis")
    rows: list[tuple[Decimal, Decimal, Decimal, str]] = []
    cum = Decimal(0)
    asks = []
    for price, size in book.asks:
        cum += size
        asks.append((price, size, cum, "red"))
    rows.extend(reversed(asks))
    mid_at = len(rows)
    cum = Decimal(0)
    for price, size in book.bids:
        cum += size
        rows.append((price, size, cum, "green"))
    for i, (price, size, total, style) in enumerate(rows):
        if i == mid_at:
            text.append(
                f"{'mid ' + str(book.mid):>{price_w}}  spread {book.spread}\n", style="bold"
            )
        fraction = float(size / biggest) if biggest else 0.0
        text.append(f"{price!s:>{price_w}} ", style=style)
        text.append(bar(fraction, bar_w), style=style)
        text.append(f" {size!s:>{size_w}} {total!s:>{cum_w}}\n", style="dim")
    return text


def trade_tape(trades: tuple[Trade, ...]) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    if not trades:
        text.append("no trades yet", style="dim")
        return text
    for i, t in enumerate(trades):
        if i:
            text.append("\n")
        s = t.ts_ms // 1000 % 86_400
        text.append(f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d} ", style="dim")
        style = "green" if t.side is Side.BUY else "red"
        text.append(f"{'buy ' if t.side is Side.BUY else 'sell'} {t.price} ", style=style)
        text.append(f"{t.size}")
    return text


class DepthPane(Pane):
    """Depth bars of one market (``levels`` per side)."""

    def __init__(self, venue: str, symbol: str, levels: int = 10, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.venue, self.symbol, self.levels = venue, symbol, levels
        self.border_title = f"depth {symbol} @ {venue}"

    def render_view(self, view: ReadModel) -> None:
        width = max(20, self.size.width - 2)
        book = view.book(self.venue, self.symbol, self.levels)
        self.show(depth_bars(book, width), (book, width))


class TapePane(Pane):
    """The latest ``rows`` public trades of one market, newest first."""

    def __init__(self, venue: str, symbol: str, rows: int = 20, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.venue, self.symbol, self.rows = venue, symbol, rows
        self.border_title = f"trades {symbol}"

    def render_view(self, view: ReadModel) -> None:
        rows = max(1, min(self.rows, self.size.height)) if self.size.height else self.rows
        trades = view.tape(self.venue, self.symbol, rows)
        self.show(trade_tape(trades), trades)


ROWS_PER_MARKET_WITH_TAPE = 24
"""The books column shows a tape under each ladder only with this many rows per market
(a ladder of 6 levels a side and its tape); else the ladders keep the rows."""


def fit_tapes(column_height: int, tapes: list[TapePane]) -> None:
    """Show the tapes of a books column when every market has room for one."""
    show = bool(tapes) and column_height >= ROWS_PER_MARKET_WITH_TAPE * len(tapes)
    for tape in tapes:
        if tape.display != show:
            tape.display = show


__all__ = ["DepthPane", "TapePane", "bar", "depth_bars", "fit_tapes", "trade_tape"]
