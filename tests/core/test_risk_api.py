"""The risk API on the real engine: a bad number is an order rejected with a reason,
never an exception out of place(), and never blocks the orders after it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from decimal import Decimal as D
from typing import Any

import pytest

from connectors.base import OrderStatus, Side
from mmtui.session import Session

from ..conftest import sim_config

VENUE, SYMBOL = "sim", "BTC-PERP"


@pytest.mark.parametrize(
    ("over", "reason"),
    [
        pytest.param(dict(size=0.01), "size: 0.01 is a float", id="float-size"),
        pytest.param(dict(price="bid-float"), "is a float", id="float-price"),
        pytest.param(dict(size=D("NaN")), "size: NaN is not a number", id="nan-size"),
        pytest.param(dict(price=D("NaN")), "price: NaN is not a number", id="nan-price"),
        pytest.param(dict(size=D("Infinity")), "size: Infinity is not finite", id="inf-size"),
        pytest.param(dict(price=D("-Infinity")), "price: -Infinity is not finite", id="inf-price"),
        pytest.param(dict(size="0.01"), "size: '0.01' is a str", id="str-size"),
        pytest.param(dict(size=D("-0.01")), "size: -0.01 must be positive", id="negative-size"),
        pytest.param(dict(price=D("-1")), "price: -1 must be positive", id="negative-price"),
        pytest.param(dict(size=D("0.0101")), "not a multiple of step", id="off-step"),
        pytest.param(dict(price="bid+half-tick"), "not a multiple of tick", id="off-tick"),
    ],
)
async def test_a_bad_number_is_rejected_and_later_orders_still_go(
    make_session: Callable[..., Session], over: dict[str, Any], reason: str
) -> None:
    s = make_session(sim_config(strategies=[], journal={"enabled": True}))
    await s.start()
    try:
        engine = s.engine
        await engine.subscribe([(VENUE, SYMBOL)])
        await s.run_for(2)
        book = engine.book(VENUE, SYMBOL)
        assert book is not None
        bid = book.best_bid()
        assert bid is not None
        tick = engine.instrument(VENUE, SYMBOL).tick_size
        terms: dict[str, Any] = dict(size=D("0.01"), price=bid - 20 * tick)
        terms.update(over)
        if terms["price"] == "bid-float":
            terms["price"] = float(bid)
        elif terms["price"] == "bid+half-tick":
            terms["price"] = bid + tick / 2
        # place() never raises: the order comes back rejected, with the reason
        bad = engine.submit_order(venue=VENUE, symbol=SYMBOL, side=Side.BUY, **terms)
        assert bad.status is OrderStatus.REJECTED
        assert bad.reason.startswith("risk: ") and reason in bad.reason, bad.reason
        assert engine.risk.rejections
        # ... and blocks nothing: the next orders on the same side go out and rest
        good = [
            engine.submit_order(
                venue=VENUE, symbol=SYMBOL, side=Side.BUY, size=D("0.01"), price=bid - n * tick
            )
            for n in (20, 21)
        ]
        for _ in range(20):
            await s.run_for(0.1)
            if all(o.status is OrderStatus.OPEN for o in good):
                break
        assert [o.status for o in good] == [OrderStatus.OPEN] * 2, [o.reason for o in good]
        assert engine.orders.live_count() == 2
        # the rejected order is journaled with its reason
        journal = engine.journal
        assert journal is not None and await asyncio.to_thread(journal.flush, 10.0)
        rows = [r for r in journal.orders() if r["client_id"] == bad.client_id]
        assert [r["status"] for r in rows] == ["rejected"] and reason in str(rows[0]["reason"])
    finally:
        report = await s.stop()
    assert report.ok and report.open_orders_left == 0, report


async def test_a_flatten_order_is_held_to_the_terms_too(
    make_session: Callable[..., Session],
) -> None:
    """bypass_risk skips the limits, not the numbers: a NaN close is rejected."""
    s = make_session(sim_config(strategies=[]))
    await s.start()
    try:
        order = s.engine.submit_order(
            venue=VENUE,
            symbol=SYMBOL,
            side=Side.SELL,
            size=D("NaN"),
            price=None,
            reduce_only=True,
            bypass_risk=True,
        )
        assert order.status is OrderStatus.REJECTED and "size: NaN" in order.reason
    finally:
        await s.stop()


@pytest.mark.parametrize(
    ("price", "size", "reason"),
    [
        pytest.param(99_000.0, None, "price: 99000.0 is a float", id="float-price"),
        pytest.param(D("NaN"), None, "price: NaN is not a number", id="nan-price"),
        pytest.param(None, 0.02, "size: 0.02 is a float", id="float-size"),
        pytest.param(None, D("Infinity"), "size: Infinity is not finite", id="inf-size"),
    ],
)
async def test_an_amend_with_a_bad_number_is_refused_not_raised(
    make_session: Callable[..., Session],
    monkeypatch: pytest.MonkeyPatch,
    price: Any,
    size: Any,
    reason: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """On a venue that modifies orders in place (here the sim, told it can): the
    amend returns False (the strategy cancels and places instead), nothing is sent
    and the order keeps its terms."""
    caplog.set_level(logging.INFO, logger="mmtui.engine")
    s = make_session(sim_config(strategies=[]))
    await s.start()
    try:
        engine = s.engine
        await engine.subscribe([(VENUE, SYMBOL)])
        await s.run_for(2)
        book = engine.book(VENUE, SYMBOL)
        assert book is not None and book.best_bid() is not None
        bid = book.best_bid() - 20 * engine.instrument(VENUE, SYMBOL).tick_size  # type: ignore[operator]
        order = engine.submit_order(
            venue=VENUE, symbol=SYMBOL, side=Side.BUY, size=D("0.01"), price=bid
        )
        for _ in range(20):
            await s.run_for(0.1)
            if order.status is OrderStatus.OPEN:
                break
        assert order.status is OrderStatus.OPEN
        monkeypatch.setattr(engine.order_path, "can_amend", lambda venue: True)
        new_price = bid if price is None else price
        assert engine.request_amend(order, new_price, size) is False
        assert (order.price, order.size, order.amending) == (bid, D("0.01"), False)
        assert engine.risk.rejections == {reason.split(":")[0]: 1}
        assert any(reason in r.getMessage() for r in caplog.records), reason
    finally:
        await s.stop()
