"""As a new user would: ``mmtui emulate lighter`` writes keys and a config, then a
session on that config trades the emulator and leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

from mmtui.config import load_config
from mmtui.emulate import LIGHTER_ACCOUNT_INDEX, start_lighter
from tests.rehearsal import emulated, trade_until_fills
from tests.waiting import until


async def test_written_config_trades_the_emulator(tmp_path: Path) -> None:
    async with emulated(start_lighter, tmp_path / "emu") as (harness, config_path):
        assert (tmp_path / "emu" / "lighter_key.yaml").stat().st_mode & 0o077 == 0
        config, _ = load_config(config_path, env={})
        assert config.venues["lighter"].dead_man_switch_s == 300
        summary, report = await trade_until_fills(config_path, "lighter", "BTC")
        assert summary.fills_by_venue.get("lighter", 0) > 0, summary
        assert report.ok and summary.open_orders_left == 0
        assert harness.call(lambda: harness.venue.open_orders("rehearsal")) == []
        # the clean close aborted the dead-man's switch (the venue executes the abort a
        # moment after it accepted it; the close had it accepted before it returned)
        await until(
            lambda: harness.call(lambda: harness.dialect.schedule(LIGHTER_ACCOUNT_INDEX)) is None,
            timeout=30,
            what="the schedule aborted",
        )
        stats = harness.call(lambda: harness.dialect.stats)
        assert stats.schedules_refused == 0 and stats.schedules_fired == 0
        assert stats.schedules_aborted == 1
        assert stats.rate_limited == 0  # a Standard account, paced as the venue counts
