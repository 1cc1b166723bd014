"""Restart on every venue (README "Restart", docs/architecture.md "Restart"): a run that
dies without its shutdown leaves its quotes resting; the next run with the same journal
and the same strategy hands them back -- the venue's very orders, not cancelled and
replaced.

Issue 16 observed Backpack and Lighter cancelling them instead; reproduced from outside
on all three emulators (the real CLI, SIGKILL, a grid strategy) after the journal's
ownership proof landed, every venue handed back 6 of 6. This is the regression guard.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from connectors.base import OrderStatus
from tests.contract.rig import VenueRig
from tests.contract.test_engine import Core, start_core
from tests.waiting import until

STRATEGY = "grid"
PER_SIDE = 2


def grid_params(rig: VenueRig) -> dict[str, object]:
    """A grid around the venue's mid whose nearest levels rest ~0.4 % away (no taker
    flow on a rig: nothing fills), each order a few times the minimum size."""
    best, ask, _ = rig.touch(rig.symbol)
    mid = (best + ask) / 2
    size_quote = rig.min_size(rig.symbol) * mid * 3
    return {
        "range_low": (mid * Decimal("0.9")).quantize(Decimal(1)),
        "range_high": (mid * Decimal("1.1")).quantize(Decimal(1)),
        "levels": 50,
        "orders_per_side": PER_SIDE,
        "mode": "neutral",
        "quote_allocation": (size_quote * 2 * PER_SIDE).quantize(Decimal(1)),
        "post_only": True,
        "recenter_on_move": False,
        "tick_interval_ms": 100,
    }


async def crash(core: Core) -> None:
    """The run dies: no shutdown, no cancels. Its strategy stops ticking, its tasks end,
    its sockets close; what the journal had is on disk (a SIGKILL loses only rows still
    queued, which this test does not exercise)."""
    for runner in core.engine.strategies.values():
        task = runner._tick_task
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    for task in list(core.engine._background):
        task.cancel()
    await asyncio.gather(*core.engine._background, return_exceptions=True)
    await asyncio.to_thread(core.journal.flush)
    for conn in core.engine.connectors.values():
        await conn.close()
    core.engine.running = False
    await core.journal.aclose()


async def test_a_crashed_runs_quotes_are_handed_back_to_its_strategy(
    rig: VenueRig, tmp_path: Path
) -> None:
    path = tmp_path / "journal.sqlite"
    params = grid_params(rig)
    first = await start_core(rig, path, "mmcrsh1")
    first.engine.add_strategy(STRATEGY, "geometric_grid", rig.name, rig.symbol, params)
    await first.engine.start_strategy(STRATEGY)
    await until(
        lambda: (
            len(rig.venue_orders(rig.symbol)) == 2 * PER_SIDE
            and all(o.status is OrderStatus.OPEN for o in first.engine.orders.live())
        ),
        timeout=15,
        what=lambda: f"{len(rig.venue_orders(rig.symbol))} resting at the venue",
    )
    before = {o.venue_order_id for o in rig.venue_orders(rig.symbol)}  # the venue's engine
    wire_ids = {o.venue_order_id for o in first.engine.orders.live()}  # as the connector saw
    await crash(first)
    assert {o.venue_order_id for o in rig.venue_orders(rig.symbol)} == before

    second = await start_core(rig, path, "mmcrsh2")
    try:
        second.engine.add_strategy(STRATEGY, "geometric_grid", rig.name, rig.symbol, params)
        adopted, cancelled = await second.engine.settle_earlier_orders()
        assert (adopted, cancelled) == (2 * PER_SIDE, 0)
        assert any(
            kind == "startup" and f"{2 * PER_SIDE} handed back" in detail
            for _, kind, detail in second.engine.events
        )
        strategy = second.engine.runner(STRATEGY).strategy
        ticks: list[int] = []
        on_tick = strategy.on_tick

        def counted(now_ms: int) -> None:
            ticks.append(now_ms)
            on_tick(now_ms)

        strategy.on_tick = counted  # type: ignore[method-assign]
        await second.engine.start_strategy(STRATEGY)
        mine = strategy.ctx.orders(rig.name, rig.symbol)
        assert {o.venue_order_id for o in mine} == wire_ids
        assert {o.client_id.rsplit("-", 1)[0] for o in mine} == {"mmcrsh1"}
        # a few ticks: the grid keeps what it adopted, places and cancels nothing
        await until(lambda: len(ticks) >= 5, what=lambda: f"{len(ticks)} ticks")
        after = rig.venue_orders(rig.symbol)
        assert {o.venue_order_id for o in after} == before
        assert second.engine.summary().orders_placed == 0
        assert second.engine.summary().orders_cancelled == 0
    finally:
        report = await second.engine.shutdown(10)
    assert report.ok and report.open_orders_left == 0, report
    assert rig.venue_orders(rig.symbol) == []
