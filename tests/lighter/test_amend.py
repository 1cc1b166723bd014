"""Requoting in place: on Lighter (which can modify orders) the Avellaneda-Stoikov
strategy moves its resting quotes with one ModifyOrder each instead of a cancel and a
new order; the venue's book and the core agree on every quote's price."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from connectors.base import OrderStatus
from mmtui.config import load_config
from mmtui.emulate import ACCOUNT, start_lighter
from mmtui.session import build_session
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
