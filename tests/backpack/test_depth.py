"""U/u continuity fed with synthetic frames: buffer, snapshot replay, stale, gap, crossed."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from connectors.backpack.connector import BackpackConnector, DepthSync, instrument_from_market
from connectors.backpack.ws import Frame
from connectors.base import BookChanged, Event, Side
from connectors.book import OrderBook

from .test_payload import MARKET


def _sync() -> DepthSync:
    return DepthSync(OrderBook("SOL_USDC_PERP", Decimal("0.01"), Decimal("0.01")))


BIDS = [(15010, 50), (15020, 300)]
ASKS = [(15030, 420), (15031, 100)]


def test_deltas_before_the_snapshot_are_buffered_and_replayed() -> None:
    s = _sync()
    assert s.on_delta(99, 100, [(15020, 1)], [], 1) == DepthSync.BUFFERED  # older than L
    assert s.on_delta(101, 103, [(15021, 7)], [], 2) == DepthSync.BUFFERED  # U <= L+1 <= u
    assert s.on_delta(104, 104, [], [(15030, 0)], 3) == DepthSync.BUFFERED
    assert s.on_snapshot(BIDS, ASKS, 102, 0)
    book = s.book
    assert book.synced and book.seq == 104
    assert book.best_bid() == Decimal("150.21")
    assert book.best_ask() == Decimal("150.31")
    assert book.size_at(book_side("buy"), 15020) == 300  # the u<=L delta was dropped
    assert s.buffer == []


def book_side(name: str) -> Side:
    return Side.BUY if name == "buy" else Side.SELL


def test_contiguous_stale_and_gap() -> None:
    s = _sync()
    assert s.on_snapshot(BIDS, ASKS, 10, 0)
    assert s.on_delta(11, 12, [(15025, 5)], [], 1) == DepthSync.APPLIED
    assert s.book.seq == 12
    assert s.on_delta(9, 12, [(15025, 999)], [], 2) == DepthSync.APPLIED  # stale: ignored
    assert s.book.size_at(book_side("buy"), 15025) == 5
    assert s.on_delta(15, 16, [], [], 3) == DepthSync.GAP  # 13, 14 missing
    assert not s.book.synced
    assert s.book.depth() == (0, 0)
    assert "gap" in s.book.resync_reason
    assert s.on_delta(17, 17, [], [], 4) == DepthSync.BUFFERED
    # a snapshot at 16 picks up the buffered 17
    assert s.on_snapshot(BIDS, ASKS, 16, 5)
    assert s.book.seq == 17


def test_snapshot_older_than_the_buffer_is_not_in_sync() -> None:
    s = _sync()
    s.on_delta(20, 21, [], [], 1)
    assert not s.on_snapshot(BIDS, ASKS, 15, 0)  # 16..19 are missing
    assert not s.book.synced
    assert s.buffer  # kept for the next snapshot
    assert s.on_snapshot(BIDS, ASKS, 19, 0)
    assert s.book.seq == 21


def test_crossed_delta_invalidates() -> None:
    s = _sync()
    s.on_snapshot(BIDS, ASKS, 1, 0)
    assert s.on_delta(2, 2, [(15040, 1)], [], 1) == DepthSync.GAP
    assert "crossed" in s.book.resync_reason
    assert not s.on_snapshot([(15040, 1)], ASKS, 3, 0)  # crossed snapshot


def test_buffer_is_bounded() -> None:
    s = DepthSync(OrderBook("X", Decimal(1), Decimal(1)), max_buffer=3)
    for i in range(5):
        s.on_delta(i, i, [], [], 0)
    assert len(s.buffer) == 3 and s.dropped == 2


def _connector() -> BackpackConnector:
    c = BackpackConnector("http://127.0.0.1:9", "ws://127.0.0.1:9/")
    c._instruments = {"SOL_USDC_PERP": instrument_from_market("backpack", MARKET)}
    return c


def _depth(first: int, last: int, b: list, a: list) -> Frame:
    data = {
        "e": "depth",
        "E": "1754939110175879",
        "T": 1754939110174705,
        "s": "SOL_USDC_PERP",
        "b": b,
        "a": a,
        "U": first,
        "u": last,
    }
    return Frame("depth.SOL_USDC_PERP", data)


async def test_connector_depth_frames_resync_on_gap() -> None:
    c = _connector()
    events: list[Event] = []
    c._events.sink = events.append
    resyncs: list[str] = []
    c._resync = resyncs.append  # type: ignore[method-assign]
    # set up as subscribe_books would, without a socket
    book = OrderBook("SOL_USDC_PERP", Decimal("0.01"), Decimal("0.01"))
    c._books["SOL_USDC_PERP"] = book
    c._depth["SOL_USDC_PERP"] = sync = DepthSync(book)
    c._on_frame(_depth(5, 6, [["150.20", "1.00"]], []))
    assert resyncs == ["SOL_USDC_PERP"]  # no snapshot yet -> fetch one
    sync.on_snapshot(BIDS, ASKS, 5, 0)
    assert book.seq == 6
    c._on_frame(_depth(7, 8, [["150.20", "0"]], [["150.29", "2.5"]]))
    assert book.best_ask() == Decimal("150.29")
    assert book.best_bid() == Decimal("150.10")
    assert book.last_update_ms == 1754939110174
    await asyncio.sleep(0)
    assert [e for e in events if isinstance(e, BookChanged)] == [
        BookChanged("backpack", "SOL_USDC_PERP", events[-1].ts_ms)  # type: ignore[union-attr]
    ]  # coalesced: one BookChanged per flush
    c._on_frame(_depth(10, 10, [], []))  # 9 missing
    assert not book.synced and c.stats.resyncs == 1
    assert resyncs == ["SOL_USDC_PERP", "SOL_USDC_PERP"]
    # an unreadable delta (off-grid price) also forces a resync
    sync.on_snapshot(BIDS, ASKS, 10, 0)
    c._on_frame(_depth(11, 11, [["150.205", "1"]], []))
    assert not book.synced and c.stats.resyncs == 2
