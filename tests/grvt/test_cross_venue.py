"""A cross-venue strategy on GRVT: hedged_cycle quotes on the GRVT emulator and
hedges on the Backpack emulator, through both real connectors; the legs match."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from mmtui.emulate import start_backpack, start_grvt
from tests.rehearsal import emulated, hedged_cycle


async def test_hedged_cycle_between_grvt_and_backpack(tmp_path: Path) -> None:
    async with (
        emulated(start_grvt, tmp_path / "g") as (grvt, grvt_cfg),
        emulated(start_backpack, tmp_path / "b") as (_, backpack_cfg),
    ):
        summary = await hedged_cycle(
            tmp_path, (grvt_cfg, "grvt", "BTC_USDT_Perp"), (backpack_cfg, "backpack")
        )
        assert summary.fills_by_venue.get("grvt", 0) > 0, summary
        assert summary.fills_by_venue.get("backpack", 0) > 0, summary
        assert abs(Decimal(summary.net_exposure.get("BTC", "0"))) <= Decimal("0.002")
        assert summary.open_orders_left == 0
        assert grvt.call(lambda: grvt.dialect.orders_of("rehearsal")) == []
