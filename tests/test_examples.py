"""Every shipped config runs on the sim as a new user would run it: fills happen
and the safe shutdown leaves no order open."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from mmtui.config import load_config
from mmtui.session import build_session

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = [ROOT / "config.example.yaml", *sorted((ROOT / "examples").glob("*.yaml"))]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
async def test_example_runs_with_fills_and_ends_clean(path: Path, tmp_path: Path) -> None:
    config, _ = load_config(path, env={})
    assert config.mode == "sim"
    session = build_session(config, speed="manual", journal_path=tmp_path / "j.sqlite")
    await session.start()
    try:
        await session.run_for(60)
    finally:
        report = await session.stop()
    summary = session.summary()
    assert summary.fills > 0, f"{path.name}: no fills in 60 sim-seconds"
    assert report.ok and summary.open_orders_left == 0
    assert summary.risk_state == "ACTIVE"
    if len(config.venues) > 1:  # cross-venue: both legs trade, the net delta stays small
        assert all(summary.fills_by_venue.get(v, 0) > 0 for v in config.venues), (
            summary.fills_by_venue
        )
        for base, size in summary.net_exposure.items():
            assert abs(size) <= Decimal("0.005"), (base, size)
