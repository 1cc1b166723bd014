"""The sim's funding: settled on a schedule on every open position, taken from the
collateral, told to the account; and the account reading (margin, leverage,
liquidation price) the console shows."""

from __future__ import annotations

from decimal import Decimal as D

from connectors.base import Balance, FundingPayment, OrderType, Side
from connectors.sim.funding import FundingSchedule, FundingSpec
from connectors.sim.world import SimWorld, VenueSpec

from .test_venue import BTC, QUIET, _req

RATE = D("0.0005")


def _world(interval_s: int = 60) -> tuple[SimWorld, list]:
    world = SimWorld([BTC], [VenueSpec("v", flow=QUIET, funding=FundingSpec(interval_s, RATE))])
    events: list = []
    world.venues["v"].on_account("me", events.append)
    world.prime(0)
    return world, events


def test_schedule_falls_on_multiples_of_the_interval() -> None:
    schedule = FundingSchedule(FundingSpec(60, RATE))
    assert not schedule.due(59_000)  # the first call sets the time: 60 s
    assert schedule.next_ms == 60_000
    assert not schedule.due(59_900)
    assert schedule.due(60_000) and schedule.next_ms == 120_000
    assert not schedule.due(60_100)
    assert schedule.due(200_000) and schedule.next_ms == 240_000  # one settlement, not two


def test_a_long_pays_the_rate_on_its_notional_at_each_settlement() -> None:
    world, events = _world()
    venue = world.venues["v"]
    venue.submit("me", _req("m1", Side.BUY, "0.1", None, type=OrderType.MARKET))
    size = venue.accounts.position("me", "BTC-PERP").size
    assert size > 0
    before = venue.balances("me")[0]
    for t in range(100, 60_001, 100):
        world.step(t, 100)
    payments = [e for e in events if isinstance(e, FundingPayment)]
    assert len(payments) == 1
    [p] = payments
    mark = venue.accounts._mark("BTC-PERP")  # the settlement's mark: the book did not move
    assert p.ts_ms == 60_000 and p.position_size == size and p.rate == RATE
    assert p.amount == -size * mark * RATE < 0
    after = venue.balances("me")[0]
    assert after.available == before.available + p.amount
    assert isinstance(events[events.index(p) + 1], Balance)  # then the new balance
    account = venue.account("me", ["BTC-PERP"])
    [market] = account.markets
    assert market.funding == p.amount
    assert market.funding_rate == RATE and market.next_funding_ms == 120_000


def test_a_flat_account_pays_nothing() -> None:
    world, events = _world(interval_s=1)
    for t in range(100, 5_001, 100):
        world.step(t, 100)
    assert not [e for e in events if isinstance(e, FundingPayment)]
    assert world.venues["v"].balances("me")[0].total == world.venues["v"].starting_collateral


def test_account_margin_leverage_and_liquidation_price() -> None:
    world, _ = _world()
    venue = world.venues["v"]
    venue.accounts.starting_collateral = D(1_000)  # about 10x on a 0.1 BTC long
    venue.submit("me", _req("m1", Side.BUY, "0.1", None, type=OrderType.MARKET))
    world.step(100, 100)  # the crowd refills the book: a mark again
    size = venue.accounts.position("me", "BTC-PERP").size
    account = venue.account("me", ["BTC-PERP"])
    [market] = account.markets
    mark = venue.accounts._mark("BTC-PERP")
    inst = venue.instruments["BTC-PERP"]
    assert account.margin_used == size * mark / inst.max_leverage
    assert account.leverage == size * mark / account.equity > 5
    liq = market.liquidation_price
    assert liq is not None and mark * D("0.85") < liq < mark
    # at the liquidation price the equity meets the maintenance margin (half the initial)
    equity_there = account.equity + size * (liq - mark)
    maintenance = size * liq / inst.max_leverage / 2
    assert abs(equity_there - maintenance) < D("0.01")  # the price is rounded to cents
    venue.submit("me", _req("m2", Side.SELL, str(size), None, type=OrderType.MARKET))
    assert venue.account("me", ["BTC-PERP"]).markets[0].liquidation_price is None  # flat
