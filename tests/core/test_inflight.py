"""Unsettled orders are looked up by client id; the venue's answer settles them."""

from __future__ import annotations

from decimal import Decimal as D

from connectors.base import OrderAck, OrderStatus, OrderUpdate, Side, VenueError, VenueOrder
from mmtui.core.inflight import InflightChecker, InflightPolicy
from mmtui.core.orders import Order, OrderManager

POLICY = InflightPolicy(grace_s=5, unknown_grace_s=1, recheck_s=2, misses_to_lost=2)


class Venue:
    def __init__(self) -> None:
        self.known: dict[str, VenueOrder] = {}
        self.asked: list[str] = []
        self.fail = False

    async def lookup(self, order: Order) -> VenueOrder | None:
        self.asked.append(order.client_id)
        if self.fail:
            raise VenueError("venue down", retryable=True)
        return self.known.get(order.client_id)


def rig():
    om = OrderManager("mmtest")
    venue = Venue()
    settled: list[tuple[str, OrderStatus]] = []
    resent: list[str] = []

    def settle(order: Order, found: VenueOrder) -> None:
        settled.append((order.client_id, found.status))
        om.apply_update(
            OrderUpdate(
                order.venue,
                order.symbol,
                order.client_id,
                found.venue_order_id,
                found.status,
                found.filled_size,
                found.size - found.filled_size,
            ),
            0,
        )

    def resend(order: Order) -> None:
        order.cancel_sends += 1
        resent.append(order.client_id)

    checker = InflightChecker(
        om,
        lookup=venue.lookup,
        settle=settle,
        lost=lambda o, why: om.mark_lost(o, why, 0),
        resend_cancel=resend,
        policy=POLICY,
    )
    return om, venue, checker, settled, resent


def new(om: OrderManager, now: int = 0) -> Order:
    return om.create(venue="v", symbol="BTC", side=Side.BUY, size=D(1), price=D(100), now_ms=now)


def venue_order(o: Order, status: OrderStatus, filled: str = "0") -> VenueOrder:
    return VenueOrder("v", "BTC", o.client_id, "9", status, Side.BUY, D(100), D(1), D(filled))


async def test_a_pending_order_never_reported_ends_lost_after_repeated_misses() -> None:
    om, _venue, checker, _, _ = rig()
    o = new(om)
    assert checker.due(60_000) == []  # still in the gateway (queued, or a 429's wait)
    om.apply_ack(OrderAck(o.client_id, None, OrderStatus.PENDING), 0)  # Lighter: tx arrived
    assert checker.due(4_999) == []  # within the grace
    assert [w for _, w in checker.due(5_000)] == ["no report from the venue"]
    await checker.check(5_000)
    assert o.status is OrderStatus.PENDING and o.lookup_misses == 1
    assert checker.due(6_000) == []  # recheck spacing
    await checker.check(7_000)
    assert o.status is OrderStatus.LOST and "does not know" in o.reason
    assert om.counters.lost == 1 and om.live_count() == 0


async def test_a_lost_answer_is_looked_up_soon_and_found_live() -> None:
    om, venue, checker, settled, _ = rig()
    o = new(om)
    om.mark_outcome_unknown(o, "answer lost (timeout)", 0)
    venue.known[o.client_id] = venue_order(o, OrderStatus.OPEN)
    assert [w for _, w in checker.due(1_000)] == ["answer lost"]
    await checker.check(1_000)
    assert settled == [(o.client_id, OrderStatus.OPEN)]
    assert o.status is OrderStatus.OPEN and o.venue_order_id == "9"


async def test_an_accepted_order_the_venue_never_reports_is_looked_up() -> None:
    om, venue, checker, _, _ = rig()
    o = new(om)
    om.apply_ack(OrderAck(o.client_id, "9", OrderStatus.OPEN), 0)  # "New", then nothing
    assert [w for _, w in checker.due(5_000)] == ["no report from the venue"]
    await checker.check(5_000)
    await checker.check(7_000)
    assert o.status is OrderStatus.LOST and venue.asked == [o.client_id] * 2


async def test_a_reported_order_is_not_looked_up_unless_reconcile_asks() -> None:
    om, venue, checker, settled, _ = rig()
    o = new(om)
    om.apply_ack(OrderAck(o.client_id, "9", OrderStatus.OPEN), 0)
    om.apply_update(OrderUpdate("v", "BTC", o.client_id, "9", OrderStatus.OPEN), 1)  # stream
    assert checker.due(60_000) == []
    checker.request_check(o)
    venue.known[o.client_id] = venue_order(o, OrderStatus.CANCELLED)
    await checker.check(60_000)
    assert settled == [(o.client_id, OrderStatus.CANCELLED)]
    assert o.status is OrderStatus.CANCELLED


async def test_an_acknowledged_cancel_that_did_nothing_is_sent_again_then_reported() -> None:
    om, venue, checker, _, resent = rig()
    o = new(om)
    om.apply_ack(OrderAck(o.client_id, "9", OrderStatus.OPEN), 0)
    om.apply_update(OrderUpdate("v", "BTC", o.client_id, "9", OrderStatus.OPEN), 1)
    om.mark_cancel_requested(o, 1_000)
    o.cancel_sends = 1
    venue.known[o.client_id] = venue_order(o, OrderStatus.OPEN)
    await checker.check(5_999)
    assert resent == []
    await checker.check(6_000)
    assert resent == [o.client_id]
    await checker.check(8_000)
    await checker.check(10_000)
    assert resent == [o.client_id] * 2  # at most max_cancel_sends (3) in all
    assert o.status is OrderStatus.OPEN


async def test_lookup_errors_change_nothing() -> None:
    om, venue, checker, _, _ = rig()
    o = new(om)
    om.apply_ack(OrderAck(o.client_id, None, OrderStatus.PENDING), 0)
    venue.fail = True
    await checker.check(5_000)
    await checker.check(7_000)
    assert o.status is OrderStatus.PENDING and o.lookup_misses == 0
    assert checker.lookup_errors == 2


async def test_a_modify_that_did_not_take_is_reverted_to_the_venue() -> None:
    om, venue, checker, _, _ = rig()
    o = new(om)
    om.apply_ack(OrderAck(o.client_id, "9", OrderStatus.OPEN), 0)
    om.apply_update(OrderUpdate("v", "BTC", o.client_id, "9", OrderStatus.OPEN), 1)
    o.price = D(101)  # we think the modify moved it
    o.amend_check_ms = 3_000
    venue.known[o.client_id] = venue_order(o, OrderStatus.OPEN)  # still at 100
    await checker.check(3_000)
    assert o.price == D(100) and o.amend_check_ms == 0
