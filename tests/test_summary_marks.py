"""The run summary values what is left open at a mark on every venue: a position on
a market with no book subscribed, after the connections closed, is valued at the
venue's own mark (its position report), never left at ``unrealized_pnl: 0``.
Each venue is its emulator on 127.0.0.1 behind the config ``mmtui emulate`` writes."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest
import yaml

from connectors.base import Side
from mmtui.config import load_config
from mmtui.emulate import ACCOUNT, STARTERS
from mmtui.session import build_session

from .rehearsal import emulated
from .waiting import until

MARKETS = {"backpack": "BTC_USDC_PERP", "lighter": "BTC", "grvt": "BTC_USDT_Perp"}


@pytest.mark.parametrize("venue", sorted(MARKETS))
async def test_an_open_position_is_valued_at_the_venues_mark(venue: str, tmp_path: Path) -> None:
    symbol = MARKETS[venue]
    async with emulated(STARTERS[venue], tmp_path) as (harness, config_path):
        data = yaml.safe_load(config_path.read_text())
        data["strategies"] = []  # no book is subscribed: only the venue knows the mark
        config_path.write_text(yaml.safe_dump(data))
        config, _ = load_config(config_path, env={})
        session = build_session(config)
        await session.start()
        try:
            sim = harness.venue
            inst = sim.instruments["BTC-PERP"]
            mid = inst.ticks_to_price(harness.call(lambda: sim.mid_ticks("BTC-PERP")))
            # a fill of no order of ours (a liquidation) 0.5% under the market: the
            # position opens below the mark, so it carries a profit
            price = inst.round_price(mid * D("0.995"))
            harness.call(lambda: sim.force_fill(ACCOUNT, "BTC-PERP", Side.BUY, D("0.01"), price))
            position = session.engine.positions.get((venue, symbol))
            await until(lambda: position.size == D("0.01"), 15, "the position arrives")
        finally:
            await session.stop()
        summary = session.summary()
    (p,) = [p for p in summary.positions if p.symbol == symbol]
    assert p.size == D("0.01") and p.entry_price == price
    assert p.mark is not None, summary
    assert p.mark > price  # the venue's mark: near the market, above the liquidation
    assert p.unrealized_pnl == p.size * (p.mark - p.entry_price) > 0
    assert summary.unrealized_pnl == p.unrealized_pnl
    assert f"mark {p.mark:.2f}" in summary.render()
