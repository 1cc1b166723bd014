"""BookFollower: a book followed by diffs; a resync or a gap is a new snapshot."""

from __future__ import annotations

from decimal import Decimal

from connectors.base import Side
from connectors.book import OrderBook
from connectors.book_follow import BookFollower


def _book() -> OrderBook:
    book = OrderBook("BTC-PERP", Decimal("0.1"), Decimal("0.001"))
    book.apply_snapshot([(100, 5), (99, 3)], [(101, 2)], seq=1, ts_ms=1)
    return book


def test_first_look_is_a_snapshot_then_only_what_changed() -> None:
    book, follow = _book(), BookFollower()
    first = follow.step(book)
    assert first is not None and first.kind == "snapshot"
    assert first.bids == [(100, 5), (99, 3)] and first.asks == [(101, 2)]
    assert follow.step(book) is None
    assert book.apply_delta([(100, 0), (98, 7)], [(101, 4)], prev_seq=1, seq=2, ts_ms=2)
    step = follow.step(book)
    assert step is not None and step.kind == "delta"
    assert sorted(step.changes, key=lambda c: (c[0].value, c[1])) == sorted(
        [(Side.BUY, 100, 0), (Side.BUY, 98, 7), (Side.SELL, 101, 4)],
        key=lambda c: (c[0].value, c[1]),
    )


def test_a_gap_or_a_resync_is_followed_by_a_snapshot_never_a_diff() -> None:
    book, follow = _book(), BookFollower()
    follow.step(book)
    book.invalidate("sequence gap")
    assert follow.step(book) is None
    book.apply_snapshot([(100, 5), (99, 3)], [(101, 2)], seq=9, ts_ms=9)  # same levels
    step = follow.step(book)
    assert step is not None and step.kind == "snapshot" and follow.gaps == 1
    book.apply_snapshot([(100, 1)], [(101, 1)], seq=10, ts_ms=10)  # resync without a gap
    step = follow.step(book)
    assert step is not None and step.kind == "snapshot" and step.bids == [(100, 1)]
