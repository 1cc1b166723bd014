"""The account reading (collateral, positions, funding) through the connector's real
parsing path: recorded answers served over loopback, then the emulator end to end."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from connectors.base import OrderRequest, OrderStatus, Side, TimeInForce
from connectors.sim.funding import FundingSchedule, FundingSpec
from mmtui.emulate import ACCOUNT
from tests.waiting import until

from .test_contract_engine import BTC, VENUE, _touch, rig  # noqa: F401 - the emulator rig
from .test_recorded import rest, venue  # noqa: F401 - the loopback venue fixture


async def test_account_from_recorded_collateral_positions_and_mark_prices(venue) -> None:  # noqa: F811
    v, conn, _ = venue
    v.serve("collateral", "positions: a long with 28-digit prices", "mark prices (all markets)")
    state = await conn.read_account(["SOL_USDC_PERP"])
    assert (state.equity, state.available, state.margin_used) == (
        D("28.49145"),
        D("28.49145"),
        D("0"),
    )
    [usdt] = state.balances
    assert (usdt.asset, usdt.total, usdt.available) == ("USDT", D("30"), D("30"))
    eth, sol = state.markets
    assert (eth.symbol, eth.position_size) == ("ETH_USDC_PERP", D("0.0036"))
    assert eth.liquidation_price is None  # "estLiquidationPrice": "0"
    assert eth.funding == D("-0.009218")  # cumulativeFundingPayment
    assert eth.leverage == D("13.634885278944") / D("28.49145")
    assert eth.funding_rate is None  # the mark prices list no ETH
    assert (sol.position_size, sol.funding_rate, sol.next_funding_ms) == (
        D(0),
        D("0.0000125"),
        1788368400000,
    )
    assert state.leverage == eth.leverage
    asked = [path for _, path, _ in v.asked]
    assert {"/api/v1/capital/collateral", "/api/v1/position", "/api/v1/markPrices"} <= set(asked)


async def test_an_unreadable_collateral_answer_is_a_venue_error(venue) -> None:  # noqa: F811
    v, conn, _ = venue
    v.serve("positions: flat", "mark prices (all markets)")
    bad = rest("collateral") | {"body": {"netEquity": "NaN?", "collateral": []}}
    v.answers[("GET", "/api/v1/capital/collateral")] = [bad]
    try:
        await conn.read_account([])
    except Exception as exc:
        assert "account unreadable" in str(exc) and "netEquity" in str(exc)
    else:
        raise AssertionError("a bad number was read as an account")


async def test_the_emulator_serves_the_sims_margin_and_funding(rig) -> None:  # noqa: F811
    """The emulator speaks the same forms with the sim's figures: its funding settles
    on our position, and the connector reads it back with the liquidation price."""
    engine, harness = rig.engine, rig.harness
    rate = D("0.001")
    harness.call(lambda: setattr(harness.venue, "funding", FundingSchedule(FundingSpec(1, rate))))
    bid, ask, tick = _touch(rig, BTC)
    price = bid + tick
    buy = engine.submit_order(
        venue=VENUE, symbol=BTC, side=Side.BUY, size=D("0.002"), price=price, post_only=True
    )
    await until(lambda: buy.status is OrderStatus.OPEN, what=f"bid open ({buy.reason})")
    ack = rig.other(
        OrderRequest(
            "t1", "BTC-PERP", Side.SELL, D("0.002"), price=price, time_in_force=TimeInForce.IOC
        )
    )
    assert ack.status is not OrderStatus.REJECTED, ack
    await until(lambda: buy.status is OrderStatus.FILLED, what="bid filled")
    sim_venue = harness.venue
    await until(
        lambda: harness.call(lambda: sim_venue.accounts.funding(ACCOUNT, "BTC-PERP")) != 0,
        what="a funding settlement on our position",
    )
    state = await engine.connectors[VENUE].read_account([BTC])
    sim = harness.call(lambda: sim_venue.account(ACCOUNT, ["BTC-PERP"]))
    [ours] = state.markets
    [theirs] = sim.markets
    assert ours.symbol == BTC and ours.position_size == D("0.002")
    assert ours.funding_rate == rate
    assert ours.funding <= theirs.funding < 0  # a long pays; more may have settled since
    assert ours.liquidation_price is None  # 100 000 USDC on 0.002 BTC: no price gets there
    assert theirs.liquidation_price is None
    assert ours.next_funding_ms is not None and ours.next_funding_ms % 1000 == 0
    assert state.equity is not None and state.margin_used == pytest.approx(
        theirs.position_size * (bid + ask) / 2 / 20, rel=D("0.01")
    )
