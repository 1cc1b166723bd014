"""A cross-venue strategy across two real connectors: hedged_cycle opens with a maker
order on the Lighter emulator and hedges on the Backpack emulator; the legs match."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import yaml

from mmtui.config import load_config
from mmtui.emulate import start_backpack, start_lighter
from mmtui.session import build_session


async def test_hedged_cycle_between_lighter_and_backpack(tmp_path: Path) -> None:
    lighter, lighter_cfg = await asyncio.to_thread(start_lighter, tmp_path / "l")
    backpack, backpack_cfg = await asyncio.to_thread(start_backpack, tmp_path / "b")
    try:
        venues = {
            **yaml.safe_load(lighter_cfg.read_text())["venues"],
            **yaml.safe_load(backpack_cfg.read_text())["venues"],
        }
        strategy = {
            "name": "cycle_btc",
            "kind": "hedged_cycle",
            "venue": "lighter",
            "symbol": "BTC",
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
            await session.run_for(15)
        finally:
            report = await session.stop()
        summary = session.summary()
        assert report.ok, report
        assert summary.fills_by_venue.get("lighter", 0) > 0, summary
        assert summary.fills_by_venue.get("backpack", 0) > 0, summary
        assert abs(Decimal(summary.net_exposure.get("BTC", "0"))) <= Decimal("0.002")
        assert summary.open_orders_left == 0
    finally:
        await asyncio.to_thread(lighter.stop)
        await asyncio.to_thread(backpack.stop)
