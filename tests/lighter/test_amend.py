"""Requoting in place: on Lighter (which can modify orders) the Avellaneda-Stoikov
strategy moves its resting quotes with one ModifyOrder each instead of a cancel and a
new order; the venue's book and the core agree on every quote's price."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from connectors.base import OrderRequest, OrderStatus, Side
from connectors.lighter.connector import LighterConnector
from mmtui.config import load_config
from mmtui.emulate import ACCOUNT, start_lighter
from mmtui.session import build_session
from tests.contract.rigs.lighter import ACCOUNT_INDEX, LighterRig
from tests.waiting import until


async def test_as_requotes_by_modify_on_lighter(tmp_path: Path) -> None:
    harness, config_path = await asyncio.to_thread(start_lighter, tmp_path / "emu")
    try:
        config, _ = load_config(config_path, env={})
        strategy = config.strategies[0]
        strategy.params.update({"requote_ticks": 2, "max_quote_age_secs": 600})
        session = build_session(config)
        await session.start()
        engine = session.engine
        try:
            assert engine.can_amend("lighter")
            await until(
                lambda: any(o.amends > 0 for o in engine.orders.all()),
                timeout=20,
                what="a quote moved in place",
            )
            harness.pause()
            await asyncio.sleep(0.5)  # in-flight modifies land

            def agree() -> bool:
                ours = {
                    (o.side.value, o.price)
                    for o in engine.orders.live(venue="lighter")
                    if o.status is OrderStatus.OPEN and not o.amending
                }
                venue = {
                    (o.side.value, Decimal(o.price))
                    for o in harness.call(lambda: harness.venue.open_orders(ACCOUNT))
                }
                return bool(ours) and ours == venue

            await until(agree, timeout=5, what="core and venue agree on the quotes")
        finally:
            harness.resume()
            report = await session.stop()
        assert report.ok
        assert session.summary().open_orders_left == 0
    finally:
        await asyncio.to_thread(harness.stop)


async def test_modify_of_a_partly_filled_order_keeps_the_size_asked_remaining() -> None:
    """``Connector.modify`` takes the *remaining* size; Lighter's ModifyOrder BaseAmount
    is the order's new *total* (NautilusTrader sends the order's whole quantity and reads
    ``initial_base_amount`` back: docs/venues/lighter.md). The connector adds what filled."""
    rig = LighterRig()
    await rig.start()
    try:
        conn = rig.connector("mmamend")
        assert isinstance(conn, LighterConnector)
        await conn.connect(lambda e: None)
        _, ask, tick = rig.touch("BTC")
        step = rig.min_size("BTC")
        req = OrderRequest(
            "mmamend-1", "BTC", Side.SELL, step * 5, price=ask - tick, post_only=True
        )
        await conn.place(req)
        await until(lambda: len(rig.venue_orders()) == 1, what="the order rests")
        rig.take("BTC", Side.BUY, step * 2, ask - tick)  # 2 of 5 filled, 3 left
        index = int(conn.venue_client_id("mmamend-1"))
        await until(lambda: conn.orders.filled.get(index) == step * 2, what="the fill seen")
        await conn.modify("BTC", "mmamend-1", step * 4, ask + 5 * tick)  # 4 left, please

        def venue_order() -> tuple[Decimal, Decimal, Decimal] | None:
            o = rig.call(lambda: rig._harness.dialect.order_json(ACCOUNT_INDEX, index))
            if o is None or Decimal(o["price"]) != ask + 5 * tick:
                return None
            return (
                Decimal(o["initial_base_amount"]),
                Decimal(o["filled_base_amount"]),
                Decimal(o["remaining_base_amount"]),
            )

        await until(lambda: venue_order() is not None, what="the modify executed")
        assert venue_order() == (step * 6, step * 2, step * 4)
        (listed,) = await conn.open_orders("BTC")
        assert listed.remaining_size == step * 4
    finally:
        await rig.stop()
