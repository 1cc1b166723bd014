"""``Markets.mark``: the book's mid while the book is valid; else the fresher of the
last mid seen and the venue's own mark (its position report); a venue's report
that is not a number costs that mark, nothing else."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from connectors.base import Position
from connectors.book import OrderBook
from mmtui.core.markets import Markets


class _Conn:
    name = "v"

    def __init__(self, book: OrderBook) -> None:
        self._book = book

    def book(self, symbol: str) -> OrderBook | None:
        return self._book if symbol == "BTC-PERP" else None


def _markets() -> tuple[Markets, OrderBook]:
    """A venue whose BTC book is valid, on a clock standing at 10 s."""
    book = OrderBook("BTC-PERP", D("0.1"), D("0.001"))
    book.apply_snapshot([(999_000, 1000)], [(999_020, 1000)], 1, 1_000)
    conn: Any = _Conn(book)
    return Markets({"v": conn}, lambda: 10_000), book


def _report(markets: Markets, symbol: str, upnl: D, ts: int) -> None:
    markets.status["v"].venue_positions[symbol] = Position(
        "v", symbol, D("0.5"), D("100000"), upnl, ts_ms=ts
    )


def test_mid_then_last_mid_then_a_fresher_venue_mark() -> None:
    markets, book = _markets()
    assert markets.mark("v", "BTC-PERP") == D("99901.0")
    book.invalidate("stream closed")
    assert markets.mark("v", "BTC-PERP") == D("99901.0")  # the last mid seen
    _report(markets, "BTC-PERP", D("-50"), ts=9_000)  # older than that mid
    assert markets.mark("v", "BTC-PERP") == D("99901.0")
    _report(markets, "BTC-PERP", D("-50"), ts=11_000)  # newer: 100000 - 50 / 0.5
    assert markets.mark("v", "BTC-PERP") == D("99900")


def test_a_market_without_a_book_takes_the_venues_mark() -> None:
    markets, _ = _markets()
    assert markets.mark("v", "ETH-PERP") is None
    _report(markets, "ETH-PERP", D("25"), ts=1)
    assert markets.mark("v", "ETH-PERP") == D("100050")
    _report(markets, "ETH-PERP", D("NaN"), ts=2)
    assert markets.mark("v", "ETH-PERP") is None
    _report(markets, "ETH-PERP", D("-60000"), ts=3)  # a mark below zero: no mark
    assert markets.mark("v", "ETH-PERP") is None
