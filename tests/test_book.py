"""Tests for ``connectors.book.OrderBook``: levels, sequencing, crossed guard, readers."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.base import Side
from connectors.book import BookError, OrderBook

TICK = Decimal("0.1")
STEP = Decimal("0.001")


def make_book() -> OrderBook:
    return OrderBook("BTC-PERP", TICK, STEP)


def synced_book(seq: int = 10) -> OrderBook:
    """bids 1000x5, 999x7, 997x3 / asks 1002x4, 1005x9 at ``seq``, ts 1_000."""
    book = make_book()
    book.apply_snapshot(
        [(1000, 5), (999, 7), (998, 0), (997, 3)],
        [(1002, 4), (1003, 0), (1005, 9)],
        seq=seq,
        ts_ms=1_000,
    )
    return book


# ------------------------------------------------------------------ basics


def test_initial_state() -> None:
    book = make_book()
    assert (book.symbol, book.tick_size, book.step_size) == ("BTC-PERP", TICK, STEP)
    assert book.seq == -1
    assert book.last_update_ms == 0
    assert book.synced is False
    assert book.resync_reason == "no snapshot"
    assert (book.updates, book.resyncs) == (0, 0)
    assert book.best_bid_ticks() is None and book.best_ask_ticks() is None
    assert book.best_bid() is None and book.best_ask() is None
    assert book.best_bid_size() is None and book.best_ask_size() is None
    assert book.mid() is None and book.spread() is None
    assert book.depth() == (0, 0)
    assert book.bids(5) == [] and book.asks(5) == []
    assert book.age_ms(5_000) is None
    assert not book.is_valid() and not book.is_crossed()


def test_snapshot_sets_levels_and_state() -> None:
    book = synced_book()
    assert book.synced and book.resync_reason == ""
    assert book.seq == 10 and book.last_update_ms == 1_000
    assert book.depth() == (3, 2)  # zero-size levels skipped
    assert book.bids_ticks(10) == [(1000, 5), (999, 7), (997, 3)]
    assert book.asks_ticks(10) == [(1002, 4), (1005, 9)]
    assert book.best_bid_ticks() == 1000 and book.best_ask_ticks() == 1002
    assert book.updates == 5
    assert book.is_valid()


def test_snapshot_then_deltas_give_expected_levels() -> None:
    book = synced_book()
    ok = book.apply_delta(
        [(1001, 2), (999, 0), (990, 1)], [(1002, 0), (1004, 1)], prev_seq=10, seq=11, ts_ms=1_100
    )
    assert ok
    assert book.bids_ticks(10) == [(1001, 2), (1000, 5), (997, 3), (990, 1)]
    assert book.asks_ticks(10) == [(1004, 1), (1005, 9)]
    assert book.seq == 11 and book.last_update_ms == 1_100

    ok = book.apply_delta([(1001, 8)], [(1005, 0), (1003, 6)], prev_seq=11, seq=12, ts_ms=1_200)
    assert ok
    assert book.bids_ticks(2) == [(1001, 8), (1000, 5)]  # size replaced, not added
    assert book.asks_ticks(10) == [(1003, 6), (1004, 1)]
    assert book.size_at(Side.BUY, 1001) == 8
    assert book.size_at(Side.SELL, 1003) == 6
    assert book.size_at(Side.SELL, 1005) == 0
    assert book.size_at(Side.BUY, 1003) == 0  # sides are not mixed up
    assert book.depth() == (4, 2)
    assert book.updates == 5 + 5 + 3


def test_zero_size_deletes_and_deleting_absent_level_is_noop() -> None:
    book = synced_book()
    assert book.apply_delta([(1000, 0), (500, 0)], [(2000, 0)], prev_seq=10, seq=11, ts_ms=2)
    assert book.bids_ticks(10) == [(999, 7), (997, 3)]
    assert book.asks_ticks(10) == [(1002, 4), (1005, 9)]
    book.set_bid(999, 0)
    book.set_ask(1002, 0)
    book.set_ask(1003, 0)  # absent
    assert book.bids_ticks(10) == [(997, 3)]
    assert book.asks_ticks(10) == [(1005, 9)]
    book.set_bid(997, 0)
    book.set_ask(1005, 0)
    assert book.depth() == (0, 0)
    assert book.best_bid_ticks() is None and book.best_ask_ticks() is None


def test_best_first_ordering_of_levels() -> None:
    book = make_book()
    for price in (5, 1, 9, 3, 7):
        book.set_bid(price, price * 10)
        book.set_ask(price + 100, price)
    assert book.bids_ticks(3) == [(9, 90), (7, 70), (5, 50)]
    assert book.asks_ticks(3) == [(101, 1), (103, 3), (105, 5)]
    assert [p for p, _ in book.bids_ticks(99)] == [9, 7, 5, 3, 1]
    assert [p for p, _ in book.asks_ticks(99)] == [101, 103, 105, 107, 109]
    assert book.bids_ticks(0) == [] and book.asks_ticks(-1) == []
    assert book.bids(1) == [(Decimal("0.9"), Decimal("0.090"))]
    expected = [Decimal(x) for x in ("10.1", "10.3", "10.5", "10.7", "10.9")]
    assert [p for p, _ in book.asks(5)] == expected


def test_decimal_readers_are_exact() -> None:
    book = make_book()
    book.apply_snapshot([(1001, 2), (1000, 1_234)], [(1004, 7), (1010, 1)], seq=1, ts_ms=1)
    bid, ask = book.best_bid(), book.best_ask()
    assert isinstance(bid, Decimal) and isinstance(ask, Decimal)
    assert str(bid) == "100.1" and str(ask) == "100.4"
    assert book.best_bid_size() == Decimal("0.002")
    assert book.best_ask_size() == Decimal("0.007")
    assert book.mid() == Decimal("100.25")
    assert book.spread() == Decimal("0.3")  # float arithmetic would give 0.30000000000000004
    d = Decimal
    assert book.bids(2) == [(d("100.1"), d("0.002")), (d("100.0"), d("1.234"))]
    assert book.asks(2) == [(d("100.4"), d("0.007")), (d("101.0"), d("0.001"))]
    for price, size in book.bids(2) + book.asks(2):
        assert isinstance(price, Decimal) and isinstance(size, Decimal)
    book.set_ask(1004, 0)
    book.set_ask(1003, 1)
    assert book.mid() == Decimal("100.2")  # even sum: still exact


def test_snapshot_replaces_both_sides() -> None:
    book = synced_book()
    book.apply_snapshot([(500, 1)], [(600, 2)], seq=50, ts_ms=2_000)
    assert book.bids_ticks(10) == [(500, 1)]
    assert book.asks_ticks(10) == [(600, 2)]
    assert book.seq == 50 and book.last_update_ms == 2_000
    book.apply_snapshot([], [], seq=51, ts_ms=2_001)
    assert book.depth() == (0, 0) and book.synced and not book.is_valid()


def test_snapshot_accepts_generators_and_last_duplicate_wins() -> None:
    book = make_book()
    book.apply_snapshot(((p, 1) for p in (1, 2, 3)), iter([(10, 1), (10, 4)]), seq=0, ts_ms=1)
    assert book.bids_ticks(5) == [(3, 1), (2, 1), (1, 1)]
    assert book.asks_ticks(5) == [(10, 4)]
    assert book.apply_delta(((p, 0) for p in (3, 2)), iter([(11, 1)]), prev_seq=0, seq=1, ts_ms=2)
    assert book.bids_ticks(5) == [(1, 1)]
    assert book.asks_ticks(5) == [(10, 4), (11, 1)]
    assert book.updates == 4 + 3


@pytest.mark.parametrize(
    "bids, asks",
    [
        ([(1000, -1)], [(1001, 1)]),
        ([(1000, 1)], [(Decimal("100.1"), 1)]),
        ([(1000, 1.5)], [(1001, 1)]),
        ([(1000, 1, 2)], [(1001, 1)]),
    ],
)
def test_malformed_snapshot_raises_and_leaves_book_untouched(bids: list, asks: list) -> None:
    book = synced_book()
    with pytest.raises(BookError):
        book.apply_snapshot(bids, asks, seq=99, ts_ms=9)
    assert book.synced and book.seq == 10
    assert book.bids_ticks(10) == [(1000, 5), (999, 7), (997, 3)]


def test_age_ms() -> None:
    book = synced_book()
    assert book.age_ms(1_250) == 250
    book.apply_delta([(1000, 1)], [], prev_seq=10, seq=11, ts_ms=1_200)
    assert book.age_ms(1_250) == 50


# ------------------------------------------------------------------ sequencing


def test_delta_before_snapshot_is_ignored() -> None:
    book = make_book()
    assert book.apply_delta([(1000, 1)], [(1001, 1)], prev_seq=0, seq=1, ts_ms=5) is False
    assert book.depth() == (0, 0) and book.seq == -1 and book.last_update_ms == 0
    assert book.resync_reason == "no snapshot" and book.resyncs == 0


def test_gap_invalidates_clears_and_ignores_until_new_snapshot() -> None:
    book = synced_book(seq=10)
    assert book.apply_delta([(1001, 1)], [], prev_seq=12, seq=13, ts_ms=2_000) is False
    assert book.synced is False
    assert book.resync_reason == "sequence gap: expected 10, got prev 12"
    assert book.depth() == (0, 0)
    assert book.best_bid_ticks() is None and book.best_ask_ticks() is None
    assert not book.is_valid()
    assert book.resyncs == 1

    # The next deltas (even contiguous with the bad one) are ignored.
    assert book.apply_delta([(1001, 1)], [(1003, 1)], prev_seq=13, seq=14, ts_ms=2_100) is False
    assert book.apply_delta([(1001, 1)], [(1003, 1)], prev_seq=10, seq=11, ts_ms=2_100) is False
    assert book.depth() == (0, 0) and book.resyncs == 1

    book.apply_snapshot([(1000, 1)], [(1002, 1)], seq=20, ts_ms=3_000)
    assert book.synced and book.resync_reason == "" and book.is_valid()
    assert book.apply_delta([(1001, 2)], [], prev_seq=20, seq=21, ts_ms=3_100)
    assert book.bids_ticks(5) == [(1001, 2), (1000, 1)]
    assert book.seq == 21


def test_stale_and_duplicate_deltas_are_ignored() -> None:
    book = synced_book(seq=10)
    assert book.apply_delta([(1001, 1)], [], prev_seq=10, seq=11, ts_ms=1_100)
    assert book.apply_delta([(1001, 0)], [], prev_seq=11, seq=12, ts_ms=1_200)
    # Replays: reported as fine (True) but not applied.
    assert book.apply_delta([(1001, 1)], [], prev_seq=10, seq=11, ts_ms=1_300) is True
    assert book.apply_delta([(1001, 1)], [], prev_seq=11, seq=12, ts_ms=1_300) is True
    assert book.apply_delta([(990, 1)], [], prev_seq=1, seq=5, ts_ms=1_300) is True
    assert book.size_at(Side.BUY, 1001) == 0
    assert book.size_at(Side.BUY, 990) == 0
    assert book.seq == 12 and book.last_update_ms == 1_200
    assert book.synced


def test_overlapping_first_delta_after_snapshot_is_applied() -> None:
    # Snapshot at 100; the first buffered delta covers 96..105 (Backpack U=96 -> prev 95).
    book = synced_book(seq=100)
    assert book.apply_delta([(1001, 3)], [(1002, 0)], prev_seq=95, seq=105, ts_ms=1_500)
    assert book.seq == 105 and book.synced
    assert book.best_bid_ticks() == 1001 and book.best_ask_ticks() == 1005
    # Exact continuation also applies; the delta after a gap does not.
    assert book.apply_delta([(1001, 4)], [], prev_seq=105, seq=106, ts_ms=1_600)
    assert book.size_at(Side.BUY, 1001) == 4
    assert not book.apply_delta([(1001, 5)], [], prev_seq=107, seq=108, ts_ms=1_700)
    assert book.resync_reason == "sequence gap: expected 106, got prev 107"


# ------------------------------------------------------------------ crossed guard


@pytest.mark.parametrize("bid_price", [1002, 1003])  # locked and crossed
def test_crossed_after_delta_invalidates(bid_price: int) -> None:
    book = synced_book(seq=10)
    assert book.apply_delta([(bid_price, 1)], [], prev_seq=10, seq=11, ts_ms=1_100) is False
    assert book.synced is False
    assert book.resync_reason.startswith("crossed book")
    assert str(bid_price) in book.resync_reason
    assert book.depth() == (0, 0)
    assert book.resyncs == 1
    assert book.apply_delta([(1000, 1)], [], prev_seq=11, seq=12, ts_ms=1_200) is False


def test_delta_that_uncrosses_within_itself_is_fine() -> None:
    book = synced_book(seq=10)
    # New bid at the old best ask, but the same delta removes that ask.
    assert book.apply_delta([(1002, 1)], [(1002, 0)], prev_seq=10, seq=11, ts_ms=1_100)
    assert book.is_valid()
    assert (book.best_bid_ticks(), book.best_ask_ticks()) == (1002, 1005)


def test_crossed_snapshot_invalidates() -> None:
    book = make_book()
    book.apply_snapshot([(1002, 1), (1000, 1)], [(1001, 1), (1005, 1)], seq=7, ts_ms=1)
    assert book.synced is False
    assert book.resync_reason.startswith("crossed snapshot")
    assert book.depth() == (0, 0)
    assert book.resyncs == 0  # it was never synced
    assert book.apply_delta([(900, 1)], [], prev_seq=7, seq=8, ts_ms=2) is False

    book = synced_book()
    book.apply_snapshot([(1001, 1)], [(1001, 1)], seq=20, ts_ms=2)  # locked
    assert not book.synced and book.resync_reason.startswith("crossed snapshot")
    assert book.depth() == (0, 0) and book.resyncs == 1


def test_invalidate_and_clear() -> None:
    book = synced_book()
    book.invalidate("ws reconnect")
    assert (book.synced, book.resync_reason, book.resyncs) == (False, "ws reconnect", 1)
    assert book.depth() == (0, 0)
    book.invalidate("again")  # already unsynced: not another resync
    assert (book.resync_reason, book.resyncs) == ("again", 1)

    book = synced_book()
    book.clear()
    assert book.depth() == (0, 0) and book.synced and book.seq == 10
    assert not book.is_valid()


def test_is_crossed_and_is_valid_with_unchecked_setters() -> None:
    book = synced_book()
    assert book.is_valid() and not book.is_crossed()
    book.set_bid(1002, 1)  # no guard on the raw setters
    assert book.is_crossed() and not book.is_valid()
    assert book.spread() == Decimal("0.0")
    book.set_bid(1002, 0)
    assert book.is_valid()
    book.set_ask(1002, 0)
    book.set_ask(1005, 0)
    assert not book.is_valid() and not book.is_crossed()
    assert book.mid() is None and book.spread() is None

    unsynced = make_book()  # levels but never synced: readable, not valid
    unsynced.set_bid(1000, 1)
    unsynced.set_ask(1001, 1)
    assert not unsynced.is_valid() and not unsynced.is_crossed()
    assert unsynced.mid() == Decimal("100.05")


# ------------------------------------------------------------------ properties

PRICES = st.integers(min_value=0, max_value=40)
SIZES = st.integers(min_value=0, max_value=3)  # 0 (delete) often
OPS = st.lists(st.tuples(st.booleans(), PRICES, SIZES), max_size=200)


def _ref_set(side: dict[int, int], price: int, size: int) -> None:
    if size:
        side[price] = size
    else:
        side.pop(price, None)


def _assert_same(book: OrderBook, bids: dict[int, int], asks: dict[int, int]) -> None:
    ref_bids = sorted(bids.items(), reverse=True)
    ref_asks = sorted(asks.items())
    assert book.best_bid_ticks() == (ref_bids[0][0] if ref_bids else None)
    assert book.best_ask_ticks() == (ref_asks[0][0] if ref_asks else None)
    assert book.bids_ticks(1_000) == ref_bids
    assert book.asks_ticks(1_000) == ref_asks
    assert book.depth() == (len(bids), len(asks))
    assert book.is_crossed() == bool(bids and asks and max(bids) >= min(asks))


@settings(max_examples=150, deadline=None)
@given(OPS)
def test_setters_match_reference(ops: list[tuple[bool, int, int]]) -> None:
    book = make_book()
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    for is_bid, price, size in ops:
        if is_bid:
            book.set_bid(price, size)
            _ref_set(bids, price, size)
        else:
            book.set_ask(price, size)
            _ref_set(asks, price, size)
        _assert_same(book, bids, asks)
        assert book.size_at(Side.BUY if is_bid else Side.SELL, price) == size


BID_PRICES = st.integers(min_value=0, max_value=30)
ASK_PRICES = st.integers(min_value=28, max_value=58)  # overlaps bids a little: crosses happen
BID_LEVELS = st.lists(st.tuples(BID_PRICES, SIZES), max_size=6)
ASK_LEVELS = st.lists(st.tuples(ASK_PRICES, SIZES), max_size=6)
KINDS = st.sampled_from(["next", "next", "next", "overlap", "stale", "gap", "snapshot"])
STEPS = st.lists(
    st.tuples(KINDS, st.integers(1, 3), st.integers(0, 1), BID_LEVELS, ASK_LEVELS), max_size=25
)

Step = tuple[str, int, int, list[tuple[int, int]], list[tuple[int, int]]]


def _crossed(bids: dict[int, int], asks: dict[int, int]) -> bool:
    return bool(bids and asks and max(bids) >= min(asks))


@settings(max_examples=150, deadline=None)
@given(BID_LEVELS, ASK_LEVELS, STEPS)
def test_deltas_match_reference(
    snap_bids: list[tuple[int, int]], snap_asks: list[tuple[int, int]], steps: list[Step]
) -> None:
    """apply_snapshot/apply_delta against a model of the documented sequence and crossed rules.

    Sequence ids come from the step kind: contiguous ("next"), overlapping the
    book's seq, stale (already applied), or leaving a gap.
    """
    book = make_book()
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    synced = False
    ref_seq = -1
    top = 0  # highest seq sent so far
    for kind, a, b, d_bids, d_asks in [("snapshot", 1, 0, snap_bids, snap_asks), *steps]:
        if kind == "snapshot":
            top += a
            book.apply_snapshot(d_bids, d_asks, seq=top, ts_ms=top)
            bids = {p: s for p, s in d_bids if s}
            asks = {p: s for p, s in d_asks if s}
            synced = True
            ref_seq = top
            if _crossed(bids, asks):
                bids, asks, synced = {}, {}, False
            _assert_same(book, bids, asks)
            continue
        if kind == "next":
            prev_seq, seq = top, top + a
        elif kind == "overlap":
            prev_seq, seq = top - a, top + a
        elif kind == "stale":
            prev_seq, seq = top - a - b, top - b
        else:  # gap
            prev_seq, seq = top + a, top + a + 2
        top = max(top, seq)
        got = book.apply_delta(d_bids, d_asks, prev_seq=prev_seq, seq=seq, ts_ms=seq)
        if not synced:
            expected = False
        elif seq <= ref_seq:
            expected = True
        elif prev_seq > ref_seq:
            bids, asks, synced, expected = {}, {}, False, False
        else:
            for p, s in d_bids:
                _ref_set(bids, p, s)
            for p, s in d_asks:
                _ref_set(asks, p, s)
            ref_seq = seq
            expected = True
            if _crossed(bids, asks):
                bids, asks, synced, expected = {}, {}, False, False
        assert got is expected, (kind, prev_seq, seq, ref_seq)
        assert book.synced is synced
        if synced:
            assert book.seq == ref_seq
            assert book.resync_reason == ""
        _assert_same(book, bids, asks)
