"""The tracking-limit leg executor against a scripted context (no core, no sim)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal as D

import pytest

from connectors.base import (
    Fill,
    Instrument,
    Liquidity,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from connectors.book import OrderBook
from strategies.leg_execution import LegConfig, LegStatus, TrackingLeg, touch_price
from strategies.telemetry import Telemetry

INST = Instrument("v", "X-PERP", "X", "USDC", D("0.1"), D("0.001"), D("0.001"))


@dataclass
class FakeOrder:
    client_id: str
    side: Side
    size: D
    price: D | None
    order_type: OrderType
    time_in_force: TimeInForce
    reduce_only: bool
    tag: str
    status: OrderStatus = OrderStatus.OPEN
    reason: str = ""
    cancel_requested: bool = False
    filled: D = D(0)

    @property
    def is_live(self) -> bool:
        return self.status.is_live

    @property
    def remaining(self) -> D:
        return self.size - self.filled


class FakeCtx:
    def __init__(self) -> None:
        self.name = "t"
        self.telemetry = Telemetry()
        self.log = logging.getLogger("test")
        self.t = 0
        self.placed: list[FakeOrder] = []
        self.running_flag = True
        self.reject_all = False
        self.book_ = OrderBook("X-PERP", INST.tick_size, INST.step_size)
        self.set_touch(D("100.0"), D("100.2"))

    @property
    def running(self) -> bool:
        return self.running_flag

    def set_touch(self, bid: D, ask: D) -> None:
        self.book_.apply_snapshot(
            [(INST.price_to_ticks(bid), 1000)], [(INST.price_to_ticks(ask), 1000)], 1, 0
        )

    def now_ms(self) -> int:
        return self.t

    def instrument(self, venue: str, symbol: str) -> Instrument:
        return INST

    def book(self, venue: str, symbol: str) -> OrderBook:
        return self.book_

    def orders(self, venue: str | None = None, symbol: str | None = None) -> list[FakeOrder]:
        return [o for o in self.placed if o.is_live]

    def place(
        self,
        venue,
        symbol,
        side,
        size,
        price=None,
        *,
        order_type,
        time_in_force,
        post_only,
        reduce_only,
        tag,
    ):  # type: ignore[no-untyped-def]
        o = FakeOrder(
            f"c{len(self.placed)}", side, size, price, order_type, time_in_force, reduce_only, tag
        )
        if self.reject_all:
            o.status, o.reason = OrderStatus.REJECTED, "risk: nope"
        self.placed.append(o)
        return o

    def cancel(self, client_id: str) -> bool:
        for o in self.placed:
            if o.client_id == client_id and o.is_live:
                o.cancel_requested = True
                return True
        return False


def fill(leg: TrackingLeg, order: FakeOrder, size: str, price: str = "100.0") -> None:
    order.filled += D(size)
    if order.filled >= order.size:
        order.status = OrderStatus.FILLED
    else:
        order.status = OrderStatus.PARTIALLY_FILLED
    f = Fill(
        "v",
        "X-PERP",
        order.client_id,
        None,
        order.side,
        D(price),
        D(size),
        D(0),
        Liquidity.MAKER,
        f"t{order.client_id}{order.filled}",
        0,
    )
    leg.on_fill(f, order)  # type: ignore[arg-type]
    leg.on_order(order)  # type: ignore[arg-type]


def confirm(
    leg: TrackingLeg, order: FakeOrder, status: OrderStatus = OrderStatus.CANCELLED
) -> None:
    order.status = status
    leg.on_order(order)  # type: ignore[arg-type]


def make(ctx: FakeCtx, size: str = "0.01", **kw: object) -> TrackingLeg:
    cfg = LegConfig(wait_ms=1000, max_retries=2, **kw)  # type: ignore[arg-type]
    leg = TrackingLeg(ctx, "v", "X-PERP", Side.BUY, D(size), cfg, tag="t")  # type: ignore[arg-type]
    leg.start(ctx.t)
    return leg


def test_touch_price_join_and_cross() -> None:
    ctx = FakeCtx()
    assert touch_price(ctx.book_, Side.BUY, cross=False) == D("100.0")
    assert touch_price(ctx.book_, Side.SELL, cross=False) == D("100.2")
    assert touch_price(ctx.book_, Side.BUY, cross=True) == D("100.2")
    assert touch_price(ctx.book_, Side.SELL, cross=True) == D("100.0")
    assert touch_price(None, Side.BUY, cross=True) is None


def test_posts_at_touch_and_is_done_only_on_confirmed_fills() -> None:
    ctx = FakeCtx()
    leg = make(ctx)
    (o,) = ctx.placed
    assert o.price == D("100.0") and o.size == D("0.01") and o.order_type is OrderType.LIMIT
    # a terminal FILLED status without fills does not count
    confirm(leg, o, OrderStatus.FILLED)
    assert leg.filled == 0 and not leg.finished
    leg2 = make(ctx)
    o2 = ctx.placed[-1]
    fill(leg2, o2, "0.004")
    assert leg2.filled == D("0.004") and not leg2.finished
    fill(leg2, o2, "0.006", "100.1")
    assert leg2.status is LegStatus.DONE and leg2.filled == D("0.01")
    assert leg2.avg_price == (D("0.004") * 100 + D("0.006") * D("100.1")) / D("0.01")


def test_follows_the_touch_with_confirmed_cancel_replace() -> None:
    ctx = FakeCtx()
    leg = make(ctx)
    (o,) = ctx.placed
    fill(leg, o, "0.003")
    ctx.set_touch(D("100.5"), D("100.7"))
    ctx.t = 100
    leg.on_tick(ctx.t)
    assert o.cancel_requested and len(ctx.placed) == 1  # no replacement before confirmation
    leg.on_tick(ctx.t)
    assert len(ctx.placed) == 1
    confirm(leg, o)
    new = ctx.placed[-1]
    assert len(ctx.placed) == 2 and new.price == D("100.5") and new.size == D("0.007")
    assert leg.requotes == 1 and leg.attempts == 1  # a requote is not a new attempt


def test_late_fill_after_cancel_is_counted() -> None:
    ctx = FakeCtx()
    leg = make(ctx)
    (o,) = ctx.placed
    ctx.set_touch(D("100.5"), D("100.7"))
    leg.on_tick(1)
    confirm(leg, o)
    replacement = ctx.placed[-1]
    assert replacement.size == D("0.01")
    fill(leg, o, "0.002")  # the old order's fill arrives after its cancel
    assert leg.filled == D("0.002") and leg.remaining == D("0.008")


def test_timeouts_then_market_fallback() -> None:
    ctx = FakeCtx()
    leg = make(ctx)
    o1 = ctx.placed[-1]
    ctx.t = 1000
    leg.on_tick(ctx.t)
    assert o1.cancel_requested
    fill(leg, o1, "0.004")  # partly filled before the cancel landed
    confirm(leg, o1)
    o2 = ctx.placed[-1]
    assert leg.attempts == 2 and o2.size == D("0.006")
    ctx.t = 2000
    leg.on_tick(ctx.t)
    confirm(leg, o2)
    fb = ctx.placed[-1]
    assert fb.order_type is OrderType.MARKET and fb.time_in_force is TimeInForce.IOC
    assert fb.size == D("0.006") and leg.fallback_sent
    fill(leg, fb, "0.006", "100.3")
    assert leg.status is LegStatus.DONE and leg.filled == D("0.01")
    assert len(ctx.placed) == 3


def test_without_fallback_fails_with_partial() -> None:
    ctx = FakeCtx()
    leg = make(ctx, market_fallback=False)
    for t in (1000, 2000):
        o = ctx.placed[-1]
        ctx.t = t
        leg.on_tick(t)
        if t == 1000:
            fill(leg, o, "0.002")
        confirm(leg, o)
    assert leg.status is LegStatus.FAILED and leg.filled == D("0.002")
    assert "attempts" in leg.reason


def test_rejects_retry_from_tick_then_fail() -> None:
    ctx = FakeCtx()
    ctx.reject_all = True
    leg = make(ctx, market_fallback=False)
    assert len(ctx.placed) == 1 and leg.rejects == 1 and not leg.finished
    leg.on_order(ctx.placed[0])  # no re-entrant retry
    assert len(ctx.placed) == 1
    leg.on_tick(1)
    assert len(ctx.placed) == 2
    leg.on_tick(2)
    assert leg.status is LegStatus.FAILED and "rejected" in leg.reason


def test_rejects_back_off_between_attempts() -> None:
    """With ``reject_backoff_ms`` the next attempt waits it, doubling per reject."""
    ctx = FakeCtx()
    ctx.reject_all = True
    leg = make(ctx, reject_backoff_ms=500)  # 2 limit attempts, then the market fallback
    assert len(ctx.placed) == 1
    for t, placed in ((100, 1), (499, 1), (500, 2), (1400, 2), (1500, 3)):
        ctx.t = t
        leg.on_tick(t)
        assert len(ctx.placed) == placed, t
    assert ctx.placed[-1].order_type is OrderType.MARKET
    assert leg.status is LegStatus.FAILED and leg.rejects == 3


def test_joining_follows_the_market_not_its_own_order() -> None:
    """Alone at the best bid, a joining leg's order is the touch: the touch it
    follows is everyone else's (here a tick lower), so it requotes down to it."""
    ctx = FakeCtx()
    leg = make(ctx)
    (o,) = ctx.placed
    assert o.price == D("100.0")
    # the bid level at 100.0 is our 10 lots alone; the crowd is at 99.9
    ctx.book_.apply_snapshot([(1000, 10), (999, 500)], [(1002, 500)], 2, 0)
    assert touch_price(ctx.book_, Side.BUY, False, INST, [o]) == D("99.9")  # type: ignore[list-item]
    ctx.t = 100
    leg.on_tick(ctx.t)
    assert o.cancel_requested and leg.requotes == 1


def test_abort_waits_for_confirmation_and_keeps_fills() -> None:
    ctx = FakeCtx()
    leg = make(ctx)
    o = ctx.placed[-1]
    fill(leg, o, "0.005")
    leg.abort("edge gone")
    assert o.cancel_requested and not leg.finished
    confirm(leg, o)
    assert leg.status is LegStatus.ABORTED and leg.filled == D("0.005")


def test_paused_places_nothing_until_running() -> None:
    ctx = FakeCtx()
    ctx.running_flag = False
    leg = make(ctx)
    assert ctx.placed == []
    ctx.running_flag = True
    leg.on_tick(1)
    assert len(ctx.placed) == 1


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="max_retries"):
        LegConfig(max_retries=0)
    with pytest.raises(ValueError, match="post-only"):
        LegConfig(cross=True, post_only=True)
    with pytest.raises(ValueError, match="rounds to nothing"):
        TrackingLeg(FakeCtx(), "v", "X-PERP", Side.BUY, D("0.0001"), LegConfig())  # type: ignore[arg-type]
