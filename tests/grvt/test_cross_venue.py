"""A cross-venue strategy on GRVT: hedged_cycle quotes on the GRVT emulator and
hedges on the Backpack emulator, through both real connectors; the legs match."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import yaml

from mmtui.config import load_config
from mmtui.emulate import start_backpack, start_grvt
from mmtui.session import build_session


async def test_hedged_cycle_between_grvt_and_backpack(tmp_path: Path) -> None:
    grvt, grvt_cfg = await asyncio.to_thread(start_grvt, tmp_path / "g")
    backpack, backpack_cfg = await asyncio.to_thread(start_backpack, tmp_path / "b")
    try:
        venues = {
            **yaml.safe_load(grvt_cfg.read_text())["venues"],
            **yaml.safe_load(backpack_cfg.read_text())["venues"],
        }
        strategy = {
            "name": "cycle_btc",
            "kind": "hedged_cycle",
            "venue": "grvt",
            "symbol": "BTC_USDT_Perp",
            "params": {
                "hedge_venue": "backpack",  # BTC_USDC_PERP, paired by base asset
                "size": 0.002,
                "seed": 7,
                "hold_seconds_min": 2,
                "hold_seconds_max": 3,
                "cooldown_seconds_min": 1,
                "cooldown_seconds_max": 1,
                "max_notional_per_cycle": 1000,
                "loss_cap": 20,
            },
        }
        path = tmp_path / "cross.yaml"
        path.write_text(
            yaml.safe_dump(
                {
                    "mode": "sim",
                    "venues": venues,
                    "strategies": [strategy],
                    "journal": {"path": str(tmp_path / "j.sqlite")},
                }
            )
        )
        config, _ = load_config(path, env={})
        session = build_session(config)
        await session.start()
        try:
            await session.run_for(12)
        finally:
            report = await session.stop()
        summary = session.summary()
        assert report.ok, report
        assert summary.fills_by_venue.get("grvt", 0) > 0, summary
        assert summary.fills_by_venue.get("backpack", 0) > 0, summary
        assert abs(Decimal(summary.net_exposure.get("BTC", "0"))) <= Decimal("0.002")
        assert summary.open_orders_left == 0
        left = grvt.call(lambda: grvt.dialect.orders_of("rehearsal"))
        assert left == []
    finally:
        await asyncio.to_thread(grvt.stop)
        await asyncio.to_thread(backpack.stop)
