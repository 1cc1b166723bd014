"""A fill reported after its order's record was pruned: the order is found in the
journal and the fill is booked to it and its strategy (``mmtui.core.late_fills``).

The real engine over the in-process sim venue and connector: a strategy's bid is
partly filled while our stream hears nothing and the venue's fill history lags (it
lists the fill only later), then cancelled; its record is pruned; the fill history
brings the fill afterwards."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from connectors.base import Fill, Liquidity, OrderStatus, Side
from mmtui.core.journal import Journal
from mmtui.core.late_fills import LateFills, rebuild
from mmtui.core.orders import OrderManager
from tests.contract.rigs.sim import SimRig
from tests.contract.test_engine import Core, start_core
from tests.waiting import until


@pytest.fixture
async def rig() -> AsyncIterator[SimRig]:
    r = SimRig()
    await r.start()
    try:
        yield r
    finally:
        await r.stop()


async def _filled_unheard_then_forgotten(core: Core) -> tuple[str, Decimal]:
    """A bid of strategy "lf" partly filled while our stream is silent, cancelled, and
    its record pruned; returns (client id, the size filled)."""
    rig, engine = core.rig, core.engine
    best, _, tick = rig.touch(rig.symbol)
    size = rig.min_size(rig.symbol) * 2
    order = engine.submit_order(
        venue=core.venue,
        symbol=rig.symbol,
        side=Side.BUY,
        size=size,
        price=best + tick,  # improves the bid: first in line
        post_only=True,
        strategy="lf",
        tag="entry",
    )
    await core.resting(order)
    conn = core.conn
    history = conn.fills_since
    lagging = True

    async def lagging_history(since_ms: int) -> list[Fill]:
        return [] if lagging else await history(since_ms)

    conn.fills_since = lagging_history  # the venue's fill history lags its orders
    await rig.freeze_feed(conn)
    rig.take(rig.symbol, Side.SELL, size / 2, order.price)  # type: ignore[arg-type]
    assert engine.request_cancel(order)
    await until(lambda: order.status is OrderStatus.CANCELLED, what=lambda: order.status.value)
    assert order.filled == 0  # the fill was not heard
    await rig.thaw_feed(conn)
    await asyncio.to_thread(core.journal.flush)
    assert engine.orders.prune(engine.clock.now_ms(), keep_terminal=0, min_age_ms=0) >= 1
    assert engine.orders.get(order.client_id) is None
    lagging = False  # from now on the history lists the fill
    return order.client_id, size / 2


async def test_a_late_fill_is_booked_to_its_forgotten_order_and_strategy(
    rig: SimRig, tmp_path: Path
) -> None:
    core = await start_core(rig, tmp_path / "j.sqlite", "mmlate1")
    try:
        engine = core.engine
        client_id, filled = await _filled_unheard_then_forgotten(core)
        assert await engine.recovery.recover(core.venue, "test: a long reconnect", since_ms=0)
        await until(
            lambda: engine.orders.get(client_id) is not None,
            what="the order rebuilt from the journal",
        )
        order = engine.orders.get(client_id)
        assert order is not None
        assert order.status is OrderStatus.CANCELLED and order.filled == filled
        assert order.strategy == "lf" and order.tag == "entry"
        assert core.position() == filled == rig.venue_position(rig.symbol)
        share = engine.strategy_positions.peek(("lf", core.venue, rig.symbol))
        assert share is not None and share.size == filled
        assert engine.order_path.late.found == 1
        assert engine.order_path.foreign_fills == 0
        fills = await core.journal_rows("fills")
        assert [(f["client_id"], f["strategy"], f["size"]) for f in fills] == [
            (client_id, "lf", filled)
        ]
        last = [r for r in await core.journal_rows("orders") if r["client_id"] == client_id][-1]
        assert last["status"] == "cancelled" and last["filled"] == filled
        # delivered again later (the history overlaps): nothing moves twice
        await engine.recovery.recover(core.venue, "test: read again", since_ms=0)
        assert core.position() == filled and share.size == filled
    finally:
        if core.engine.running:
            await core.engine.shutdown(10)


async def test_without_a_journal_a_late_fill_moves_the_account_only(
    rig: SimRig, tmp_path: Path
) -> None:
    core = await start_core(rig, tmp_path / "j.sqlite", "mmlate2")
    try:
        engine = core.engine
        client_id, filled = await _filled_unheard_then_forgotten(core)
        await engine.journal.aclose()  # type: ignore[union-attr]  # gone: nothing to ask
        assert await engine.recovery.recover(core.venue, "test", since_ms=0)
        assert core.position() == filled
        assert engine.orders.get(client_id) is None
        assert engine.order_path.foreign_fills == 1
        share = engine.strategy_positions.peek(("lf", core.venue, rig.symbol))
        assert share is None or share.size == 0
        assert any(
            kind == "foreign_fill" and "no journal" in detail for _, kind, detail in engine.events
        )
    finally:
        if core.engine.running:
            await core.engine.shutdown(10)


def test_only_this_runs_forgotten_orders_are_looked_up() -> None:
    om = OrderManager("mmabcde")
    first = om.create(
        venue="v", symbol="S", side=Side.BUY, size=Decimal(1), price=Decimal(1), now_ms=0
    )
    assert not om.forgotten(first.client_id)  # still held
    om.reject(first, "test", 0)
    assert om.prune(10**9, keep_terminal=0, min_age_ms=0) == 1
    assert om.forgotten(first.client_id)
    for other in (None, "mmabcde-2", "mmzzzzz-1", "mmabcde-x", "mmabcde-0", "12345"):
        assert not om.forgotten(other), other


def test_rebuild_refuses_what_is_not_an_ended_order() -> None:
    row: dict[str, object] = {
        "client_id": "mmabcde-1",
        "venue": "v",
        "symbol": "S",
        "side": "buy",
        "order_type": "limit",
        "price": Decimal("10"),
        "size": Decimal("2"),
        "filled": Decimal("1"),
        "status": "cancelled",
        "reason": "",
        "strategy": "s",
        "venue_order_id": "7",
        "post_only": True,
        "reduce_only": False,
        "tag": "t",
        "venue_client_id": "1",
        "ts_ms": 5,
        "fills": [
            {"price": Decimal("9"), "size": Decimal("1"), "fee": Decimal("0.1"), "trade_id": "x"}
        ],
    }
    order = rebuild(row)
    assert order is not None
    assert order.avg_fill_price == Decimal("9") and order.fees == Decimal("0.1")
    assert order.fill_ids == {"x"} and order.venue_order_id == "7"
    assert rebuild({**row, "status": "open"}) is None  # a forgotten order always ended
    assert rebuild({**row, "side": "sideways"}) is None


async def test_a_fill_of_another_order_carrying_our_forgotten_id_is_not_ours(
    tmp_path: Path,
) -> None:
    """Backpack's uint32 client ids are shared with other tools: a foreign fill can
    decode to one of our forgotten ids. The journal's order must match its market,
    side and venue order."""
    journal = Journal(tmp_path / "j.sqlite", "mmabcde")
    journal.start()
    om = OrderManager("mmabcde")
    ours = om.create(
        venue="v", symbol="S", side=Side.BUY, size=Decimal(2), price=Decimal(10), now_ms=1
    )
    ours.venue_order_id = "7"
    om.reject(ours, "test", 2)
    journal.record_order(
        ts_ms=2,
        client_id=ours.client_id,
        venue="v",
        symbol="S",
        side="buy",
        order_type="limit",
        price=Decimal(10),
        size=Decimal(2),
        filled=Decimal(0),
        status="cancelled",
        reason="",
        strategy="s",
        venue_order_id="7",
        post_only=True,
        reduce_only=False,
    )
    assert om.prune(10**9, keep_terminal=0, min_age_ms=0) == 1
    booked: list[tuple[str, str | None, str]] = []
    late = LateFills(
        orders=om,
        journal=journal,
        now_ms=lambda: 3,
        book=lambda f, o, why: booked.append((f.trade_id, o and o.client_id, why)),
    )

    def fill(trade: str, venue_order_id: str, side: Side = Side.BUY) -> Fill:
        return Fill(
            venue="v",
            symbol="S",
            client_id=ours.client_id,
            venue_order_id=venue_order_id,
            side=side,
            price=Decimal(10),
            size=Decimal(1),
            fee=Decimal(0),
            liquidity=Liquidity.MAKER,
            trade_id=trade,
            ts_ms=3,
        )

    try:
        for f in (fill("t1", "99"), fill("t2", "7", Side.SELL), fill("t3", "7")):
            assert late.wants(f)
            late.find(f)
        await until(lambda: len(booked) == 3, what="the three fills settled")
    finally:
        await journal.aclose()
    assert [(t, cid) for t, cid, _ in booked] == [
        ("t1", None),
        ("t2", None),
        ("t3", ours.client_id),
    ]
    assert "venue order 7, the fill's 99" in booked[0][2]
    assert "v S buy: a different order" in booked[1][2]
    assert late.found == 1 and om.get(ours.client_id) is not None
