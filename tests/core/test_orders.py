"""Order manager: ids, the state machine, fills accumulating."""

from __future__ import annotations

from decimal import Decimal as D

from connectors.base import Fill, Liquidity, OrderAck, OrderStatus, OrderUpdate, Side
from mmtui.core.orders import CLIENT_ID_MARK, OrderManager


def _new(om: OrderManager, size: str = "1"):
    return om.create(
        venue="v", symbol="BTC-PERP", side=Side.BUY, size=D(size), price=D(100), now_ms=1
    )


def _fill(order, size: str, trade_id: str, price: str = "100") -> Fill:
    return Fill(
        "v",
        "BTC-PERP",
        order.client_id,
        None,
        Side.BUY,
        D(price),
        D(size),
        D("0.01"),
        Liquidity.MAKER,
        trade_id,
        2,
    )


def test_client_ids_unique_with_run_prefix() -> None:
    om = OrderManager()
    ids = {om.next_client_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(i.startswith(om.run_prefix + "-") for i in ids)
    assert om.run_prefix.startswith(CLIENT_ID_MARK)
    assert OrderManager().run_prefix != om.run_prefix


def test_pending_open_partial_filled() -> None:
    om = OrderManager("mmtest")
    o = _new(om, "1")
    assert o.status is OrderStatus.PENDING
    om.apply_ack(OrderAck(o.client_id, "42", OrderStatus.OPEN), 2)
    assert o.status is OrderStatus.OPEN and o.venue_order_id == "42"
    om.apply_fill(_fill(o, "0.4", "t1", "100"), 3)
    assert o.status is OrderStatus.PARTIALLY_FILLED and o.filled == D("0.4")
    om.apply_fill(_fill(o, "0.4", "t1"), 3)  # duplicate delivery ignored
    assert o.filled == D("0.4")
    om.apply_fill(_fill(o, "0.6", "t2", "101"), 4)
    assert o.status is OrderStatus.FILLED
    assert o.filled == D(1) and o.avg_fill_price == D("100.6")
    assert om.live_count() == 0
    assert om.counters.filled == 1 and om.counters.fills == 2


def test_terminal_status_never_stands_in_for_quantity() -> None:
    om = OrderManager("mmtest")
    o = _new(om, "1")
    om.apply_update(OrderUpdate("v", "BTC-PERP", o.client_id, "7", OrderStatus.FILLED), 2)
    assert o.status is OrderStatus.OPEN and o.filled == 0
    om.apply_fill(_fill(o, "1", "t1"), 3)
    assert o.status is OrderStatus.FILLED


def test_terminal_states_are_final() -> None:
    om = OrderManager("mmtest")
    o = _new(om)
    om.apply_update(OrderUpdate("v", "BTC-PERP", o.client_id, "7", OrderStatus.CANCELLED), 2)
    assert o.status is OrderStatus.CANCELLED
    om.apply_update(OrderUpdate("v", "BTC-PERP", o.client_id, "7", OrderStatus.OPEN), 3)
    assert o.status is OrderStatus.CANCELLED
    # a late fill still counts (positions must be right) but the state stays terminal
    om.apply_fill(_fill(o, "0.5", "late"), 4)
    assert o.filled == D("0.5") and o.status is OrderStatus.CANCELLED


def test_rejected_from_pending_and_fill_by_venue_id() -> None:
    om = OrderManager("mmtest")
    a, b = _new(om), _new(om)
    om.reject(a, "risk: too big", 2)
    assert a.status is OrderStatus.REJECTED and a.reason == "risk: too big"
    om.apply_ack(OrderAck(b.client_id, "99", OrderStatus.OPEN), 2)
    fill = Fill("v", "BTC-PERP", None, "99", Side.BUY, D(100), D(1), D(0), Liquidity.TAKER, "x", 3)
    assert om.apply_fill(fill, 3) is b and b.status is OrderStatus.FILLED


def test_foreign_orders_ignored_and_open_size() -> None:
    om = OrderManager("mmtest")
    o = _new(om, "2")
    assert (
        om.apply_update(OrderUpdate("v", "BTC-PERP", "manual-1", None, OrderStatus.OPEN), 1) is None
    )
    assert om.open_size("v", "BTC-PERP", Side.BUY) == D(2)
    om.mark_cancel_requested(o)
    assert om.open_size("v", "BTC-PERP", Side.BUY) == 0


def test_venue_trimmed_order_shrinks_its_size() -> None:
    om = OrderManager("mmtest")
    o = _new(om, "1")
    om.apply_ack(OrderAck(o.client_id, "5", OrderStatus.OPEN), 2)
    om.apply_fill(_fill(o, "0.2", "t1"), 3)
    trimmed = OrderUpdate(
        "v",
        "BTC-PERP",
        o.client_id,
        "5",
        OrderStatus.PARTIALLY_FILLED,
        filled_size=D("0.2"),
        remaining_size=D("0.3"),
        reason="reduce-only: trimmed",
    )
    om.apply_update(trimmed, 4)
    assert o.size == D("0.5") and o.remaining == D("0.3") and o.is_live
    om.apply_fill(_fill(o, "0.3", "t2"), 5)
    assert o.status is OrderStatus.FILLED


def test_prune_forgets_old_ended_orders_and_keeps_live_lost_and_recent() -> None:
    """Bounded memory: orders that ended ten minutes ago, beyond the newest kept,
    are forgotten (with their venue ids); live and LOST orders never are."""
    om = OrderManager()
    ended = []
    for i in range(10):
        o = _new(om)
        om.apply_ack(OrderAck(o.client_id, f"v-{i}", OrderStatus.OPEN), now_ms=1)
        if i % 2:
            update = OrderUpdate("v", "BTC-PERP", o.client_id, f"v-{i}", OrderStatus.CANCELLED)
            om.apply_update(update, now_ms=1_000 * i)
        else:
            om.apply_fill(_fill(o, "1", f"t-{i}"), now_ms=1_000 * i)
        ended.append(o)
    live = _new(om)
    lost = _new(om)
    om.mark_lost(lost, "not found", now_ms=0)
    assert om.prune(now_ms=5_000, keep_terminal=2, min_age_ms=600_000) == 0  # too recent
    assert om.prune(now_ms=605_500, keep_terminal=2, min_age_ms=600_000) == 6  # ended <= 5.5 s
    assert [o.client_id for o in ended if om.get(o.client_id)] == [o.client_id for o in ended[6:]]
    assert om.resolve("v", None, "v-0") is None and om.resolve("v", None, "v-9") is ended[9]
    assert om.get(live.client_id) is live and om.get(lost.client_id) is lost
    assert om.prune(now_ms=10**9, keep_terminal=2, min_age_ms=600_000) == 2  # keeps the newest 2
    assert [o.client_id for o in ended if om.get(o.client_id)] == [o.client_id for o in ended[8:]]
    assert om.pruned == 8 and om.counters.filled == 5 and om.counters.cancelled == 5
