"""Shared steps of the "as a new user would" tests: ``mmtui emulate VENUE`` writes a
config, a session trades it through the real connector, the safe shutdown runs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import yaml

from connectors.emulation.harness import EmulatorHarness
from mmtui.config import load_config
from mmtui.core.summary import FlattenReport, RunSummary
from mmtui.session import build_session

Starter = Callable[[Path, int], tuple[EmulatorHarness, Path]]


@asynccontextmanager
async def emulated(starter: Starter, folder: Path) -> AsyncIterator[tuple[EmulatorHarness, Path]]:
    """A venue emulator and the config ``mmtui emulate`` wrote for it; stopped after."""
    harness, config_path = await asyncio.to_thread(starter, folder, 0)
    try:
        yield harness, config_path
    finally:
        await asyncio.to_thread(harness.stop)


async def trade_until_fills(
    config_path: Path, venue: str, symbol: str, *, fills: int = 2, timeout_s: float = 30
) -> tuple[RunSummary, FlattenReport]:
    """Run the written config until its strategy has ``fills`` fills (wall time, at
    most ``timeout_s``), then the safe shutdown; (summary, shutdown report)."""
    config, _ = load_config(config_path, env={})
    session = build_session(config)
    await session.start()
    try:
        runner = session.engine.runner(config.strategies[0].name)
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout_s
        while loop.time() < end and runner.position(venue, symbol).fills < fills:
            await asyncio.sleep(0.25)
    finally:
        report = await session.stop()
    return session.summary(), report


async def hedged_cycle(
    tmp_path: Path,
    maker: tuple[Path, str, str],
    hedge: tuple[Path, str],
    seconds: float = 12,
) -> RunSummary:
    """hedged_cycle with the maker leg on ``maker`` (config, venue, symbol) and the hedge
    on ``hedge`` (config, venue), both venues from their emulate-written configs."""
    (maker_cfg, maker_venue, symbol), (hedge_cfg, hedge_venue) = maker, hedge
    venues: dict[str, Any] = {
        **yaml.safe_load(maker_cfg.read_text())["venues"],
        **yaml.safe_load(hedge_cfg.read_text())["venues"],
    }
    strategy = {
        "name": "cycle_btc",
        "kind": "hedged_cycle",
        "venue": maker_venue,
        "symbol": symbol,
        "params": {
            "hedge_venue": hedge_venue,  # its BTC market, paired by base asset
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
        await session.run_for(seconds)
    finally:
        report = await session.stop()
    assert report.ok, report
    return session.summary()
