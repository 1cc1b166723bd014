"""The account reading every venue's connector gives the console (``read_account``):
margin, the liquidation price and funding, checked against the sim exchange behind
the venue's emulator, whose funding settles on a schedule."""

from __future__ import annotations

from decimal import Decimal

from connectors.base import AccountReader, Side
from connectors.sim.funding import FundingSchedule, FundingSpec
from tests.contract.rig import ACCOUNT
from tests.waiting import until

from .test_connector import Session, s  # noqa: F401 - the connected-session fixture

RATE = Decimal("0.0005")


async def test_margin_liquidation_price_and_funding_match_the_venue(s: Session) -> None:  # noqa: F811
    rig, conn = s.rig, s.conn
    assert isinstance(conn, AccountReader)
    venue = rig.venue
    sim_symbol = rig.sim_symbols[rig.symbol]
    rig.call(lambda: setattr(venue, "funding", FundingSchedule(FundingSpec(1, RATE))))
    bid, _, tick = rig.touch(rig.symbol)
    size = rig.min_size(rig.symbol) * 5
    rig.liquidate(rig.symbol, Side.SELL, size, bid)  # a short of no order of ours
    await until(
        lambda: rig.call(lambda: venue.accounts.funding(ACCOUNT, sim_symbol)) > 0,
        what="a funding settlement on the short",
    )
    state = await conn.read_account([rig.symbol])
    sim = rig.call(lambda: venue.account(ACCOUNT, [sim_symbol]))
    ours = next(m for m in state.markets if m.symbol == rig.symbol)
    theirs = next(m for m in sim.markets if m.symbol == sim_symbol)
    assert ours.position_size == -size == theirs.position_size
    assert ours.funding_rate == RATE
    assert 0 < ours.funding <= theirs.funding  # a short gets it; more may have settled since
    assert ours.next_funding_ms is not None
    # a short's liquidation price is above the market (far above for this small a short),
    # in the venue's own price form (on its tick)
    assert theirs.liquidation_price is not None and ours.liquidation_price is not None
    assert abs(ours.liquidation_price - theirs.liquidation_price) <= tick
    assert state.equity is not None and abs(state.equity - sim.equity) < Decimal(5)
    assert state.margin_used is not None and state.margin_used > 0
