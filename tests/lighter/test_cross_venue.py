"""A cross-venue strategy across two real connectors: hedged_cycle opens with a maker
order on the Lighter emulator and hedges on the Backpack emulator; the legs match."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from mmtui.emulate import start_backpack, start_lighter
from tests.rehearsal import emulated, hedged_cycle


async def test_hedged_cycle_between_lighter_and_backpack(tmp_path: Path) -> None:
    async with (
        emulated(start_lighter, tmp_path / "l") as (lighter, lighter_cfg),
        emulated(start_backpack, tmp_path / "b") as (_, backpack_cfg),
    ):
        summary = await hedged_cycle(
            tmp_path, (lighter_cfg, "lighter", "BTC"), (backpack_cfg, "backpack"), seconds=15
        )
        assert summary.fills_by_venue.get("lighter", 0) > 0, summary
        assert summary.fills_by_venue.get("backpack", 0) > 0, summary
        assert abs(Decimal(summary.net_exposure.get("BTC", "0"))) <= Decimal("0.002")
        assert summary.open_orders_left == 0
        assert lighter.call(lambda: lighter.venue.open_orders("rehearsal")) == []
