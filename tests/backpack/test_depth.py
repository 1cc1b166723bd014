"""U/u continuity fed with synthetic frames: buffer, snapshot bridging, stale, gap,
crossed; a snapshot is trusted only once a delta continues it."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from connectors.backpack.connector import BackpackConnector
from connectors.backpack.depth import Delta, DepthSync, Snapshot
from connectors.backpack.wire import instrument_from_market
from connectors.backpack.ws import Frame
from connectors.base import BookChanged, Event, Side
from connectors.book import OrderBook

from .test_payload import MARKET


def _sync() -> DepthSync:
    return DepthSync(OrderBook("SOL_USDC_PERP", Decimal("0.01"), Decimal("0.01")))


BIDS = [(15010, 50), (15020, 300)]
ASKS = [(15030, 420), (15031, 100)]


def _d(first: int, last: int, bids: list | None = None, asks: list | None = None) -> Delta:
    return Delta(first, last, bids or [], asks or [], first)


def _snap(last_id: int, bids: list = BIDS, asks: list = ASKS) -> Snapshot:
    return Snapshot(bids, asks, last_id, 0)


def test_deltas_before_the_snapshot_are_buffered_and_replayed() -> None:
    s = _sync()
    assert s.on_delta(_d(99, 100, [(15020, 1)])) == DepthSync.BUFFERED  # older than L
    assert s.on_delta(_d(101, 103, [(15021, 7)])) == DepthSync.BUFFERED  # U <= L+1 <= u
    assert s.on_delta(_d(104, 104, asks=[(15030, 0)])) == DepthSync.BUFFERED
    assert s.on_snapshot(_snap(102))
    book = s.book
    assert book.synced and book.seq == 104
    assert book.best_bid() == Decimal("150.21")
    assert book.best_ask() == Decimal("150.31")
    assert book.size_at(Side.BUY, 15020) == 300  # the u<=L delta was dropped
    assert not s.buffer


def test_a_snapshot_waits_for_the_delta_that_proves_it_current() -> None:
    """The REST snapshot lags the stream: on its own it may be behind (issue 15)."""
    s = _sync()
    assert not s.on_snapshot(_snap(50))  # no delta yet: not trusted
    assert not s.book.synced and s.pending is not None
    assert s.on_delta(_d(45, 50)) == DepthSync.BUFFERED  # stale: still waiting
    assert s.on_delta(_d(51, 51, [(15025, 5)])) == DepthSync.APPLIED
    assert s.book.synced and s.book.seq == 51 and s.book.size_at(Side.BUY, 15025) == 5


def test_a_snapshot_behind_the_stream_is_thrown_away() -> None:
    s = _sync()
    assert not s.on_snapshot(_snap(50))
    assert s.on_delta(_d(60, 61)) == DepthSync.BUFFERED  # 51..59 are missing
    assert s.pending is None and s.stale_snapshots == 1 and not s.book.synced
    assert s.on_snapshot(_snap(59))
    assert s.book.seq == 61


def test_contiguous_stale_and_gap() -> None:
    s = _sync()
    s.on_delta(_d(11, 11))
    assert s.on_snapshot(_snap(10))
    assert s.on_delta(_d(12, 12, [(15025, 5)])) == DepthSync.APPLIED
    assert s.book.seq == 12
    assert s.on_delta(_d(9, 12, [(15025, 999)])) == DepthSync.APPLIED  # stale: ignored
    assert s.book.size_at(Side.BUY, 15025) == 5
    assert s.on_delta(_d(15, 16)) == DepthSync.GAP  # 13, 14 missing
    assert not s.book.synced and s.book.depth() == (0, 0)
    assert "gap" in s.book.resync_reason
    assert s.on_delta(_d(17, 17)) == DepthSync.BUFFERED
    assert s.on_snapshot(_snap(16))  # picks up the buffered 17
    assert s.book.seq == 17


def test_crossed_delta_and_snapshot_invalidate() -> None:
    s = _sync()
    s.on_delta(_d(2, 2))
    s.on_snapshot(_snap(1))
    assert s.on_delta(_d(3, 3, [(15040, 1)])) == DepthSync.GAP
    assert "crossed" in s.book.resync_reason
    s.on_delta(_d(4, 4))
    assert not s.on_snapshot(_snap(3, bids=[(15040, 1)]))  # crossed snapshot


def test_buffer_is_bounded() -> None:
    s = DepthSync(OrderBook("X", Decimal(1), Decimal(1)), max_buffer=3)
    for i in range(5):
        s.on_delta(_d(i, i))
    assert len(s.buffer) == 3 and s.dropped == 2


def _connector() -> tuple[BackpackConnector, list[Event], list[str]]:
    c = BackpackConnector("http://127.0.0.1:9", "ws://127.0.0.1:9/")
    inst = instrument_from_market("backpack", MARKET)
    assert inst is not None
    c._instruments = {"SOL_USDC_PERP": inst}
    c._depth["SOL_USDC_PERP"] = DepthSync(c.books.add(inst))
    events: list[Event] = []
    c._events.sink = events.append
    resyncs: list[str] = []
    c.books.resync = lambda symbol, reason: resyncs.append(reason)  # type: ignore[method-assign]
    return c, events, resyncs


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


async def test_connector_depth_frames_gap_off_grid_and_unreadable() -> None:
    c, events, resyncs = _connector()
    sync = c._depth["SOL_USDC_PERP"]
    book = sync.book
    c._on_frame(_depth(5, 6, [["150.20", "1.00"]], []))
    assert sync.on_snapshot(Snapshot(BIDS, ASKS, 5, 0)) and book.seq == 6
    c._on_frame(_depth(7, 8, [["150.20", "0"]], [["150.29", "2.5"]]))
    assert book.best_ask() == Decimal("150.29")
    assert book.best_bid() == Decimal("150.10")
    assert book.last_update_ms == 1754939110174
    await asyncio.sleep(0)
    assert [e for e in events if isinstance(e, BookChanged)] == [
        BookChanged("backpack", "SOL_USDC_PERP", events[-1].ts_ms)  # type: ignore[union-attr]
    ]  # coalesced: one BookChanged per flush
    c._on_frame(_depth(10, 10, [], []))  # 9 missing
    assert not book.synced and len(resyncs) == 1 and "gap" in resyncs[0]
    # one level off the tick grid is left out and counted; the book goes on
    c._on_frame(_depth(11, 11, [], []))
    assert sync.on_snapshot(Snapshot(BIDS, ASKS, 10, 0)) and book.synced
    c._on_frame(_depth(12, 12, [["150.205", "1"], ["150.15", "2"]], []))
    assert book.synced and book.seq == 12 and book.size_at(Side.BUY, 15015) == 200
    assert c.stats.extra["off_grid_levels"] == 1
    # a level that is not a number is unreadable: the frame is refused and the book resyncs
    try:
        c._on_frame(_depth(13, 13, [["1e999999", "1"]], []))
    except ValueError:
        pass
    else:
        raise AssertionError("an unreadable level must be refused")
    assert not book.synced and len(resyncs) == 2
