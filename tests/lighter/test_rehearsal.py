"""As a new user would: ``mmtui emulate lighter`` writes keys and a config, then a
headless session on that config trades the emulator and leaves nothing behind."""

from __future__ import annotations

import asyncio
from pathlib import Path

from mmtui.config import load_config
from mmtui.emulate import start_lighter
from mmtui.session import build_session


async def test_written_config_trades_the_emulator(tmp_path: Path) -> None:
    harness, config_path = await asyncio.to_thread(start_lighter, tmp_path / "emu")
    try:
        config, _ = load_config(config_path, env={})
        assert config.venues["lighter"].dead_man_switch_s == 300
        session = build_session(config)
        await session.start()
        try:
            await session.run_for(12)
        finally:
            report = await session.stop()
        summary = session.summary()
        assert report.ok, report
        assert summary.fills_by_venue.get("lighter", 0) > 0, summary
        assert summary.open_orders_left == 0
        assert harness.call(lambda: harness.venue.open_orders("rehearsal")) == []
        # the clean close aborted the dead-man's switch
        assert harness.call(lambda: harness.dialect.schedule(281)) is None
    finally:
        await asyncio.to_thread(harness.stop)
