"""The core's latency record: tick-to-trade from a book change's intake to the next
request on that market (a place or a modify), and the loop-lag histogram."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from connectors.base import OrderStatus, Side
from mmtui.core.latency import T2T_WINDOW_S, Histogram, Latency
from mmtui.session import Session
from tests.conftest import sim_config
from tests.waiting import until


class FakePerf:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_tick_to_trade_from_the_latest_change_unanswered_from_the_first() -> None:
    perf = FakePerf()
    lat = Latency(perf)
    lat.request_sent("v", "A")  # no book change before it: no sample
    assert lat.tick_to_trade == {} and lat.unanswered == {}
    lat.book_seen("v", "A")
    perf.now += 0.2
    lat.book_seen("v", "A")  # the latest change: tick-to-trade starts here
    lat.book_seen("v", "B")
    perf.now += 0.3
    lat.request_sent("v", "A")
    lat.request_sent("v", "A")  # the second order of the same requote: no sample
    t2t, first = lat.tick_to_trade[("v", "A")], lat.unanswered[("v", "A")]
    assert t2t.count == 1 and abs(t2t.sum - 0.3) < 1e-9
    assert first.count == 1 and abs(first.sum - 0.5) < 1e-9
    assert ("v", "B") not in lat.tick_to_trade  # another market's change waits for its own
    lat.request_sent("v", "B")
    assert abs(lat.tick_to_trade[("v", "B")].sum - 0.3) < 1e-9
    view = lat.view()
    assert [m for m, _ in view.tick_to_trade] == [("v", "A"), ("v", "B")]
    assert view.tick_to_trade[0][1].p50_ms == pytest.approx(300.0)
    assert view.unanswered[0][1].p50_ms == pytest.approx(500.0)


def test_a_change_older_than_the_window_is_no_trigger() -> None:
    perf = FakePerf()
    lat = Latency(perf)
    lat.book_seen("v", "A")
    perf.now += T2T_WINDOW_S + 1  # e.g. a paused strategy resumed
    lat.request_sent("v", "A")
    assert lat.tick_to_trade == {} and lat.unanswered == {}
    lat.book_seen("v", "A")  # the next change starts a new clock
    perf.now += 0.01
    lat.request_sent("v", "A")
    assert lat.tick_to_trade[("v", "A")].count == 1


def test_histogram_buckets_are_cumulative_with_inf_last() -> None:
    h = Histogram((0.001, 0.01))
    for v in (0.0005, 0.001, 0.002, 5.0):
        h.observe(v)
    assert h.cumulative() == [("0.001", 2), ("0.01", 3), ("+Inf", 4)]
    assert h.count == 4 and abs(h.sum - 5.0035) < 1e-12
    assert h.quantile(0.5) == 0.002 and Histogram((1.0,)).quantile(0.5) is None


async def test_a_modify_ends_tick_to_trade_too(make_session: Callable[..., Session]) -> None:
    session = make_session(sim_config(strategies=[]))
    await session.start()
    engine = session.engine
    conn = engine.connectors["sim"]
    modified: list[Decimal] = []

    async def modify(symbol: str, client_id: str, size: Decimal, price: Decimal) -> None:
        modified.append(price)

    conn.modify = modify  # type: ignore[attr-defined]  # the sim as a venue that can modify
    try:
        assert engine.can_amend("sim")
        await engine.subscribe([("sim", "BTC-PERP")])
        await session.run_for(1)
        book = engine.book("sim", "BTC-PERP")
        assert book is not None and book.is_valid()
        price = book.best_bid() - 100  # type: ignore[operator]
        order = engine.submit_order(
            venue="sim", symbol="BTC-PERP", side=Side.BUY, size=Decimal("0.001"), price=price
        )
        await until(lambda: order.status is OrderStatus.OPEN, what="the order rests")
        hist = engine.latency.tick_to_trade[("sim", "BTC-PERP")]
        placed = hist.count
        assert placed == 1  # the place, after the book changes
        await session.run_for(1)  # more book changes
        assert engine.request_amend(order, price - 1)
        await until(lambda: bool(modified) and not order.amending, what="the modify sent")
        assert hist.count == placed + 1
    finally:
        await session.stop()
