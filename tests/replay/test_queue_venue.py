"""QueueVenue: our orders in a recorded book — queue position, taking, fees, latency."""

from __future__ import annotations

import math
from decimal import Decimal as D

import pytest

from connectors.base import Liquidity, OrderStatus, TimeInForce, Trade
from connectors.replay.queue import QueueSpec
from connectors.replay.spec import LatencySpec

from .helpers import BUY, SELL, SYMBOL, fills, limit, make_venue, market, updates

# -- the conservative queue ----------------------------------------------------------


def test_an_order_behind_5_lots_fills_only_after_5_lots_traded_at_its_price() -> None:
    venue, events = make_venue()
    ack = venue.submit("me", limit("b1", BUY, "100.0", "0.002", post_only=True))
    assert ack.status is OrderStatus.OPEN
    assert venue.queue_ahead("me", "b1") == 5
    venue.apply_trade(SYMBOL, 1001, SELL, 1000, 4, "t1")
    assert fills(events) == [] and venue.queue_ahead("me", "b1") == 1
    venue.apply_trade(SYMBOL, 1002, SELL, 1000, 1, "t2")
    assert fills(events) == [], "the 5 lots ahead traded: nothing of ours yet"
    assert venue.queue_ahead("me", "b1") == 0
    venue.apply_trade(SYMBOL, 1003, SELL, 1000, 1, "t3")
    [fill] = fills(events)
    assert (fill.side, fill.price, fill.size, fill.liquidity) == (
        BUY,
        D("100.0"),
        D("0.001"),
        Liquidity.MAKER,
    )
    assert fill.fee == D("100.0") * D("0.001") * D("0.0001")
    assert [p.size for p in venue.positions("me")] == [D("0.001")]
    assert updates(events, "b1")[-1].status is OrderStatus.OPEN  # half of it rests


def test_a_trade_past_the_queue_ahead_fills_what_is_past_it() -> None:
    venue, events = make_venue()
    venue.submit("me", limit("b1", BUY, "100.0", "0.003"))
    venue.apply_trade(SYMBOL, 1001, SELL, 1000, 4, "t1")
    assert fills(events) == []
    venue.apply_trade(SYMBOL, 1002, SELL, 1000, 3, "t2")  # 1 to the queue, 2 to us
    assert sum(f.size for f in fills(events)) == D("0.002")


def test_conservative_cancels_in_the_level_do_not_advance_us_unless_it_shrinks_below() -> None:
    venue, events = make_venue()
    venue.submit("me", limit("b1", BUY, "100.0"))
    venue.apply_book(SYMBOL, 1001, [(BUY, 1000, 9)])  # 4 lots join behind us
    venue.apply_book(SYMBOL, 1002, [(BUY, 1000, 6)])  # 3 leave: assumed behind us
    assert venue.queue_ahead("me", "b1") == 5
    venue.apply_book(SYMBOL, 1003, [(BUY, 1000, 2)])  # fewer than were ahead
    assert venue.queue_ahead("me", "b1") == 2
    assert fills(events) == []


def test_a_trade_through_our_price_or_the_book_crossing_it_fills_us_in_full() -> None:
    venue, events = make_venue()
    venue.submit("me", limit("b1", BUY, "100.0", "0.002"))
    venue.submit("me", limit("a1", SELL, "100.1", "0.002"))
    venue.apply_trade(SYMBOL, 1001, SELL, 999, 1, "t1")  # sold below our bid
    assert [(f.client_id, f.size) for f in fills(events)] == [("b1", D("0.002"))]
    venue.apply_book(SYMBOL, 1002, [(BUY, 1001, 3), (SELL, 1001, 0), (SELL, 1002, 4)])
    assert [(f.client_id, f.size, f.price) for f in fills(events)][1:] == [
        ("a1", D("0.002"), D("100.1"))
    ]
    assert venue.open_orders("me") == []


def test_listeners_see_the_recorded_book_plus_our_orders() -> None:
    venue, _ = make_venue()
    seen: list[tuple[list[tuple[object, int, int]], int]] = []
    venue.on_book(lambda sym, changes, seq, ts: seen.append((changes, seq)))
    _, _, seq0 = venue.snapshot(SYMBOL)
    venue.submit("me", limit("b1", BUY, "100.0", "0.002"))
    assert seen[-1] == ([(BUY, 1000, 7)], seq0 + 1)
    venue.apply_book(SYMBOL, 1001, [(BUY, 1000, 6), (SELL, 1003, 1)])
    assert seen[-1] == ([(BUY, 1000, 8), (SELL, 1003, 1)], seq0 + 2)
    bids, asks, seq = venue.snapshot(SYMBOL)
    assert bids == [(1000, 8)] and asks == [(1001, 5), (1003, 1)] and seq == seq0 + 2
    assert venue.recorded(SYMBOL) == ({1000: 6}, {1001: 5, 1003: 1})


# -- the probabilistic queue -----------------------------------------------------------


def test_probabilistic_a_level_decrease_advances_us_by_the_expected_share() -> None:
    venue, _ = make_venue(queue=QueueSpec(model="probabilistic", function="power", n=2))
    venue.apply_book(SYMBOL, 1000, [(BUY, 1000, 10)])
    venue.submit("me", limit("b1", BUY, "100.0"))
    assert venue.queue_ahead("me", "b1") == 10
    venue.apply_book(SYMBOL, 1001, [(BUY, 1000, 40)])  # 30 behind us
    venue.apply_book(SYMBOL, 1002, [(BUY, 1000, 32)])  # 8 leave
    # share behind p = 30^2 / (30^2 + 10^2) = 0.9: 0.8 of the 8 were ahead of us
    assert abs(venue.queue_ahead("me", "b1") - 9.2) < 1e-9  # type: ignore[operator]


def test_probabilistic_log_function_and_trades_are_not_counted_twice() -> None:
    venue, _ = make_venue(queue=QueueSpec(model="probabilistic", function="log"))
    venue.submit("me", limit("b1", BUY, "100.0"))
    venue.apply_book(SYMBOL, 1001, [(BUY, 1000, 15)])  # 10 behind, 5 ahead
    venue.apply_trade(SYMBOL, 1002, SELL, 1000, 2, "t1")  # 2 of the 5 ahead traded
    venue.apply_book(SYMBOL, 1003, [(BUY, 1000, 13)])  # the trade's own decrease
    assert venue.queue_ahead("me", "b1") == 3
    venue.apply_book(SYMBOL, 1004, [(BUY, 1000, 7)])  # 6 cancelled
    p = math.log1p(10) / (math.log1p(10) + math.log1p(3))
    expected = 3 - (1 - p) * 6 + min(10 - p * 6, 0)
    assert abs(venue.queue_ahead("me", "b1") - expected) < 1e-9  # type: ignore[operator]


def test_probabilistic_sampled_is_seeded_and_its_mean_is_the_expected_share() -> None:
    def run(seed: int) -> float:
        venue, _ = make_venue(queue=QueueSpec(model="probabilistic", n=1, sampled=True, seed=seed))
        venue.apply_book(SYMBOL, 1000, [(BUY, 1000, 10)])
        venue.submit("me", limit("b1", BUY, "100.0"))
        venue.apply_book(SYMBOL, 1001, [(BUY, 1000, 40)])
        venue.apply_book(SYMBOL, 1002, [(BUY, 1000, 36)])
        return venue.queue_ahead("me", "b1")  # type: ignore[return-value]

    assert run(7) == run(7)
    outcomes = [run(seed) for seed in range(400)]
    assert set(outcomes) == {6, 10}  # all ahead (p = 0.25) or all behind (0.75)
    mean = sum(outcomes) / len(outcomes)
    assert abs(mean - (10 - 0.25 * 4)) < 0.4  # expected share: 9.0


# -- taking liquidity, post-only, IOC / FOK, reduce-only ---------------------------------


def test_a_marketable_order_takes_the_recorded_levels_and_pays_taker_fees() -> None:
    venue, events = make_venue()
    venue.apply_book(SYMBOL, 1000, [(SELL, 1002, 10)])
    trades: list[Trade] = []
    venue.on_trade(trades.append)
    ack = venue.submit("me", limit("b1", BUY, "100.2", "0.008"))
    assert ack.status is OrderStatus.OPEN
    got = [(f.price, f.size, f.fee, f.liquidity) for f in fills(events)]
    assert got == [
        (D("100.1"), D("0.005"), D("100.1") * D("0.005") * D("0.0004"), Liquidity.TAKER),
        (D("100.2"), D("0.003"), D("100.2") * D("0.003") * D("0.0004"), Liquidity.TAKER),
    ]
    assert updates(events, "b1")[-1].status is OrderStatus.FILLED
    assert venue.recorded(SYMBOL)[1] == {1001: 5, 1002: 10}, "no market impact"
    assert [(t.side, t.size) for t in trades] == [(BUY, D("0.005")), (BUY, D("0.003"))]
    [pos] = venue.positions("me")
    assert pos.size == D("0.008")


def test_a_limit_remainder_rests_and_a_market_remainder_is_cancelled() -> None:
    venue, events = make_venue()
    venue.submit("me", limit("b1", BUY, "100.1", "0.007"))
    [rest] = venue.open_orders("me")
    assert (rest.price, rest.remaining_size) == (D("100.1"), D("0.002"))
    venue.submit("me", market("s1", SELL, "0.009"))
    assert sum(f.size for f in fills(events) if f.client_id == "s1") == D("0.005")
    assert updates(events, "s1")[-1].status is OrderStatus.CANCELLED


def test_post_only_that_would_cross_is_rejected() -> None:
    venue, events = make_venue()
    ack = venue.submit("me", limit("b1", BUY, "100.1", post_only=True))
    assert ack.status is OrderStatus.REJECTED and "post-only" in ack.reason
    assert fills(events) == [] and venue.open_orders("me") == []


def test_fill_or_kill_and_immediate_or_cancel() -> None:
    venue, events = make_venue()
    ack = venue.submit("me", limit("f1", BUY, "100.1", "0.006", tif=TimeInForce.FOK))
    assert ack.status is OrderStatus.REJECTED and "fill-or-kill" in ack.reason
    venue.submit("me", limit("i1", BUY, "100.1", "0.006", tif=TimeInForce.IOC))
    assert sum(f.size for f in fills(events)) == D("0.005")
    assert updates(events, "i1")[-1].status is OrderStatus.CANCELLED
    assert venue.open_orders("me") == []


def test_reduce_only_never_opens_and_is_trimmed_to_the_position() -> None:
    venue, _ = make_venue()
    ack = venue.submit("me", limit("r0", SELL, "100.5", reduce_only=True))
    assert ack.status is OrderStatus.REJECTED
    venue.submit("me", market("b1", BUY, "0.002"))
    venue.submit("me", limit("r1", SELL, "100.5", "0.005", reduce_only=True))
    [order] = venue.open_orders("me")
    assert order.remaining_size == D("0.002")


# -- latency --------------------------------------------------------------------------


def test_an_order_is_not_fillable_before_its_entry_latency() -> None:
    venue, events = make_venue(latency=LatencySpec(entry_ms=50))
    ack = venue.submit("me", limit("b1", BUY, "100.0"))
    assert ack.status is OrderStatus.PENDING
    assert venue.lookup("me", "b1").status is OrderStatus.PENDING  # type: ignore[union-attr]
    assert venue.open_orders("me") == []
    venue.apply_trade(SYMBOL, 1040, SELL, 999, 3, "t1")  # through our price: not there yet
    assert fills(events) == []
    venue.advance(1050)
    assert updates(events, "b1")[-1].status is OrderStatus.OPEN
    assert venue.queue_ahead("me", "b1") == 5
    venue.apply_trade(SYMBOL, 1060, SELL, 999, 3, "t2")
    assert [f.client_id for f in fills(events)] == ["b1"]


def test_the_book_an_order_meets_is_the_one_at_its_arrival() -> None:
    venue, events = make_venue(latency=LatencySpec(entry_ms=50))
    venue.submit("me", limit("b1", BUY, "100.1", post_only=True))  # not crossing at submit
    venue.apply_book(SYMBOL, 1020, [(SELL, 1001, 0), (SELL, 1002, 5)])
    venue.apply_book(SYMBOL, 1030, [(SELL, 1001, 4)])  # the ask came back
    venue.advance(1050)
    [update] = updates(events, "b1")
    assert update.status is OrderStatus.REJECTED and "post-only" in update.reason


def test_a_cancel_races_a_fill() -> None:
    venue, events = make_venue(latency=LatencySpec(cancel_ms=30))
    venue.submit("me", limit("b1", BUY, "100.0"))
    venue.submit("me", limit("b2", BUY, "99.5"))
    venue.advance(1100)
    assert venue.cancel("me", SYMBOL, "b1") and venue.cancel("me", SYMBOL, "b2")
    venue.apply_trade(SYMBOL, 1110, SELL, 999, 1, "t1")  # b1's cancel is still on its way
    assert [f.client_id for f in fills(events)] == ["b1"]
    venue.advance(1130)
    assert updates(events, "b2")[-1].status is OrderStatus.CANCELLED
    assert updates(events, "b1")[-1].status is OrderStatus.FILLED
    venue.apply_trade(SYMBOL, 1140, SELL, 998, 1, "t2")
    assert [f.client_id for f in fills(events)] == ["b1"]
    assert venue.open_orders("me") == []


def test_a_cancel_that_arrives_before_the_order_cancels_it_on_arrival() -> None:
    venue, events = make_venue(latency=LatencySpec(entry_ms=50, cancel_ms=10))
    venue.submit("me", limit("b1", BUY, "100.0"))
    assert venue.cancel("me", SYMBOL, "b1")
    venue.advance(1100)
    assert updates(events, "b1")[-1].status is OrderStatus.CANCELLED
    assert venue.open_orders("me") == []


def test_the_feed_lags_by_feed_latency() -> None:
    venue, _ = make_venue(latency=LatencySpec(feed_ms=20))
    seen: list[tuple[int, int]] = []
    venue.on_book(lambda sym, changes, seq, ts: seen.append((seq, ts)))
    beats: list[int] = []
    venue.on_heartbeat(beats.append)
    venue.advance(1019)
    assert seen == []  # the opening snapshot's levels are published at 1020
    venue.advance(1020)
    assert seen == [(1, 1000)] and beats[-1] == 1000  # the venue's time of the change
    venue.apply_book(SYMBOL, 1030, [(BUY, 1000, 2)])
    assert venue.snapshot(SYMBOL)[0] == [(1000, 5)]
    venue.advance(1050)
    assert venue.snapshot(SYMBOL) == ([(1000, 2)], [(1001, 5)], 2)


def test_a_trade_of_unknown_side_is_placed_by_the_book() -> None:
    venue, events = make_venue()
    venue.submit("me", limit("b1", BUY, "100.0"))
    venue.submit("me", limit("a1", SELL, "100.1"))
    venue.apply_trade(SYMBOL, 1001, None, 1000, 6, "t1")  # at the bid: a seller
    assert [f.client_id for f in fills(events)] == ["b1"]
    venue.apply_trade(SYMBOL, 1002, None, 1001, 6, "t2")  # at the ask: a buyer
    assert [f.client_id for f in fills(events)] == ["b1", "a1"]


def test_our_orders_at_one_price_share_a_trade_oldest_first() -> None:
    venue, events = make_venue()
    venue.apply_book(SYMBOL, 1000, [(BUY, 1000, 0)])  # an empty level: nobody ahead
    venue.submit("me", limit("b1", BUY, "100.0", "0.002"))
    venue.submit("me", limit("b2", BUY, "100.0", "0.002"))
    venue.apply_trade(SYMBOL, 1001, SELL, 1000, 3, "t1")
    assert [(f.client_id, f.size) for f in fills(events)] == [
        ("b1", D("0.002")),
        ("b2", D("0.001")),
    ]


def test_specs_refuse_what_they_cannot_model() -> None:
    for bad in (
        QueueSpec(model="fifo"),  # type: ignore[arg-type]
        QueueSpec(model="probabilistic", function="cubic"),  # type: ignore[arg-type]
        QueueSpec(model="probabilistic", n=0),
    ):
        with pytest.raises(ValueError, match="queue"):
            bad.build()
    for kwargs in ({"entry_ms": -1}, {"cancel_ms": 1.5}, {"feed_ms": 120_000}):
        with pytest.raises(ValueError, match="latency"):
            LatencySpec(**kwargs)  # type: ignore[arg-type]
