"""Geometric grid: the grid math, and the strategy on the sim venue, faster than real time.

Exact-price tests use a quiet sim (no volatility, no basis, no background
takers): the mid stays at 100000 and nothing fills unless the test says so.
Fills are driven by shocking the fair value (which moves the crowd's quotes
away from ours) and then sending an explicit IOC order from another account.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.base import Instrument, OrderRequest, OrderType, Side, TimeInForce
from mmtui.config import Config, load_config
from mmtui.core.runner import StrategyState
from mmtui.session import Session
from strategies.geometric_grid import (
    GeometricGrid,
    GeometricGridParams,
    entry_tag,
    grid_prices,
    order_size,
    parse_tag,
    quote_per_order,
    select_levels,
    tp_tag,
)

SYMBOL = "BTC-PERP"
INST = Instrument("sim", SYMBOL, "BTC", "USDC", D("0.1"), D("0.001"), D("0.001"))
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "geometric_grid.yaml"

# 99000 * (101000 / 99000) ** (k / 20), k = 0..20, rounded to the nearest 0.1
# (computed independently, as exp(k/20 * ln(101000/99000)) at 50 digits).
EXPECTED_20 = [
    D(x)
    for x in (  # noqa: SIM905 (a table of numbers reads better as one string)
        "99000.0 99099.1 99198.2 99297.5 99396.8 99496.3 99595.8 99695.5 99795.2 99895.1"
        " 99995.0 100095.0 100195.2 100295.4 100395.8 100496.2 100596.8 100697.4 100798.2"
        " 100899.0 101000.0"
    ).split()
]

GRID: dict[str, Any] = {
    "range_low": 99000,
    "range_high": 101000,
    "levels": 20,
    "orders_per_side": 3,
    "tick_interval_ms": 500,
}

_ids = itertools.count(1)


def grid_config(
    *, quiet: bool = True, journal: bool = False, min_size: float = 0.001, **params: Any
) -> Config:
    raw: dict[str, Any] = {
        "sim": {
            "seed": 5,
            "speed": None,
            "step_ms": 100,
            "assets": {
                "BTC": {
                    "start_price": 100000,
                    "tick_size": 0.1,
                    "step_size": 0.001,
                    "min_size": min_size,
                    "volatility": 0 if quiet else 0.6,
                }
            },
        },
        "venues": {
            "sim": {"type": "sim", "basis": {"sigma": 0}, "flow": {"taker_rate": 0}}
            if quiet
            else {"type": "sim", "flow": {"taker_k": 0.7}}
        },
        # a quiet sim publishes no book changes: the stale-book guard would trip
        "risk": {"stale_book_ms": None} if quiet else {},
        "strategies": [
            {
                "name": "grid",
                "kind": "geometric_grid",
                "venue": "sim",
                "symbol": SYMBOL,
                "params": {**GRID, **params},
            }
        ],
        "journal": {"enabled": journal},
    }
    return Config.model_validate(raw)


def venue(s: Session) -> Any:
    return s.world.venues["sim"]  # type: ignore[union-attr]


def resting(s: Session) -> list[tuple[str, D, D, bool]]:
    """Our resting orders on the venue: (side, price, remaining, reduce_only), by price."""
    return sorted(
        (o.side.value, o.price, o.remaining_size, o.reduce_only) for o in venue(s).open_orders("me")
    )


def take(s: Session, side: Side, size: str, price: D) -> None:
    """Another account hits the book with an IOC limit order."""
    req = OrderRequest(
        f"other-{next(_ids)}", SYMBOL, side, D(size), OrderType.LIMIT, price, TimeInForce.IOC
    )
    ack = venue(s).submit("other", req)
    assert ack.reason == "", ack


def grid_of(s: Session) -> GeometricGrid:
    strategy = s.engine.runner("grid").strategy
    assert isinstance(strategy, GeometricGrid)
    return strategy


@pytest.fixture
async def quiet(make_session: Callable[..., Session]):
    sessions: list[Session] = []

    async def start(**params: Any) -> Session:
        s = make_session(grid_config(**params))
        await s.start()
        await s.run_for(1)
        sessions.append(s)
        return s

    yield start
    for s in sessions:
        report = await s.stop()
        assert report.ok and report.open_orders_left == 0


# -- the grid math --------------------------------------------------------------


def test_grid_has_n_plus_one_geometric_prices_on_the_tick() -> None:
    prices = grid_prices(D(99000), D(101000), 20, INST)
    assert prices == EXPECTED_20
    ratio = 101000 / 99000
    for k, price in enumerate(prices):
        assert abs(float(price) - 99000 * ratio ** (k / 20)) <= 0.05


def test_prices_that_round_to_the_same_tick_are_kept_once() -> None:
    coarse = Instrument("sim", SYMBOL, "BTC", "USDC", D("100"), D("0.001"), D("0.001"))
    prices = grid_prices(D(99000), D(100000), 40, coarse)  # 41 prices, ~$25 apart
    assert prices == [D(99000) + 100 * i for i in range(11)]
    assert all(a < b for a, b in itertools.pairwise(prices))


def test_sizing_uses_the_whole_budget_in_long_or_short_mode() -> None:
    assert quote_per_order(D(3000), 3, "neutral") == D(500)
    assert quote_per_order(D(3000), 3, "long") == D(1000)
    assert quote_per_order(D(3000), 3, "short") == D(1000)
    assert order_size(D(100000), INST, D(3000), 3, "long") == D("0.010")
    assert order_size(D(100000), INST, D(3000), 3, "neutral") == D("0.005")
    assert order_size(D(100000), INST, None, 3, "neutral") == D("0.001")  # venue min
    assert order_size(D(100000), INST, D(10), 3, "neutral") == D("0.001")  # at least min
    floor = Instrument(
        "sim", SYMBOL, "BTC", "USDC", D("0.1"), D("0.001"), D("0.001"), min_notional=D(250)
    )
    assert order_size(D(100000), floor, None, 3, "neutral") == D("0.003")


def test_working_levels_around_the_centre() -> None:
    prices = EXPECTED_20
    assert select_levels(prices, D(100000), 3, "neutral") == ([10, 9, 8], [11, 12, 13])
    assert select_levels(prices, D(100000), 3, "long") == ([10, 9, 8], [])
    assert select_levels(prices, D(100000), 3, "short") == ([], [11, 12, 13])
    # strictly below / above: a centre on a level selects neither side there
    assert select_levels(prices, D("99995.0"), 2, "neutral") == ([9, 8], [11, 12])
    # the top level is never a buy, level 0 never a sell (their take-profit is off the grid)
    assert select_levels(prices, D(200000), 2, "neutral") == ([19, 18], [])
    assert select_levels(prices, D(1), 2, "neutral") == ([], [1, 2])


def test_tags() -> None:
    assert parse_tag(entry_tag(Side.BUY, 12)) == ("E", Side.BUY, 12)
    assert parse_tag(tp_tag(Side.SELL, 3)) == ("T", Side.SELL, 3)
    assert parse_tag("flatten") is None and parse_tag("") is None and parse_tag("Ex1") is None


def test_params_are_validated_with_clear_errors() -> None:
    with pytest.raises(ValidationError, match=r"range_high \(99000\) must be above range_low"):
        GeometricGridParams(range_low=D(99000), range_high=D(99000))
    with pytest.raises(ValidationError, match="levels"):
        GeometricGridParams(levels=1)
    with pytest.raises(ValidationError, match="mode"):
        GeometricGridParams.model_validate({"mode": "sideways"})
    with pytest.raises(ValidationError, match=r"orders_per_side \(6\) cannot exceed levels \(5\)"):
        GeometricGridParams(levels=5, orders_per_side=6)
    with pytest.raises(ValidationError, match="close_on_stop needs stop_out_of_range_pct"):
        GeometricGridParams(close_on_stop=True, stop_out_of_range_pct=None)
    with pytest.raises(ValidationError, match="extra"):
        GeometricGridParams.model_validate({"range_hi": 1})
    GeometricGridParams()  # the console's launcher starts from the defaults
    # the config names the strategy and the key
    with pytest.raises(
        ValidationError, match=r"strategies\[0\] \(grid\)\.params: quote_allocation"
    ):
        grid_config(quote_allocation=-5)


def test_example_config_is_valid() -> None:
    config, _ = load_config(EXAMPLE, env={})
    assert [s.kind for s in config.strategies] == ["geometric_grid"]


# -- on the sim -------------------------------------------------------------------


async def test_places_exactly_the_expected_geometric_prices(quiet) -> None:
    s = await quiet(quote_allocation=3000)
    assert resting(s) == [
        ("buy", D("99795.2"), D("0.005"), False),
        ("buy", D("99895.1"), D("0.005"), False),
        ("buy", D("99995.0"), D("0.005"), False),
        ("sell", D("100095.0"), D("0.004"), False),  # 500 / 100095 rounds down
        ("sell", D("100195.2"), D("0.004"), False),
        ("sell", D("100295.4"), D("0.004"), False),
    ]
    assert all(o.post_only for o in venue(s).open_orders("me"))
    tel = s.engine.runner("grid").telemetry.snapshot()
    assert tel["state"] == "gridding" and tel["levels"] == 21 and tel["levels_live"] == 6
    assert tel["range"] == "99000-101000" and tel["entries_live"] == 6 and tel["tps_live"] == 0
    await s.run_for(5)  # steady state: nothing churns
    assert s.engine.orders.counters.placed == 6


async def test_long_mode_uses_the_whole_budget_on_buys(quiet) -> None:
    s = await quiet(mode="long", quote_allocation=3000)
    assert resting(s) == [
        ("buy", D("99795.2"), D("0.010"), False),
        ("buy", D("99895.1"), D("0.010"), False),
        ("buy", D("99995.0"), D("0.010"), False),
    ]


async def test_fill_gets_its_take_profit_one_step_away_and_the_level_rearms(quiet) -> None:
    s = await quiet()
    grid = grid_of(s)
    s.world.market.shock("BTC", -0.002)  # the crowd moves below our bids
    await s.run_for(1)
    take(s, Side.SELL, "0.001", D("99995.0"))
    await s.run_for(1)
    # a reduce-only sell one level up; the sell entries step aside above it; the
    # filled level waits for its take-profit instead of buying again
    assert resting(s) == [
        ("buy", D("99795.2"), D("0.001"), False),
        ("buy", D("99895.1"), D("0.001"), False),
        ("sell", D("100095.0"), D("0.001"), True),
        ("sell", D("100195.2"), D("0.001"), False),
        ("sell", D("100295.4"), D("0.001"), False),
        ("sell", D("100395.8"), D("0.001"), False),
    ]
    tp = next(o for o in s.engine.runner("grid").orders() if o.reduce_only)
    assert tp.tag == "Tb10" and tp.price == EXPECTED_20[11]
    assert grid.slots[(Side.BUY, 10)].held == D("0.001")

    s.world.market.shock("BTC", 0.004)  # the crowd moves above our asks
    await s.run_for(1)
    take(s, Side.BUY, "0.001", D("100095.0"))
    await s.run_for(1)
    runner = s.engine.runner("grid")
    assert runner.position("sim", SYMBOL).size == 0
    assert not any(o.reduce_only for o in runner.orders())  # no follow-up after a TP
    assert ("buy", D("99995.0"), D("0.001"), False) in resting(s)  # re-armed
    assert grid.slots == {}
    tel = runner.telemetry.snapshot()
    assert tel["round_trips"] == 1 and tel["open_round_trips"] == 0
    fees = (D("99995.0") + D("100095.0")) * D("0.001") * D("0.0001")
    assert tel["grid_pnl"] == (D("100095.0") - D("99995.0")) * D("0.001") - fees


async def test_no_entry_crosses_an_opposite_take_profit(quiet) -> None:
    """A sell round trip's take-profit is a buy one level down. When the centre
    falls to just under it, that level becomes a sell level: no sell entry may sit
    at or below the buy take-profit (without post-only it would trade with it)."""
    s = await quiet(post_only=False, recenter_on_move=True, requote_ticks=50)
    runner = s.engine.runner("grid")
    s.world.market.shock("BTC", 0.004)  # the crowd moves above our asks
    await s.run_for(1)
    take(s, Side.BUY, "0.001", D("100095.0"))  # the sell entry at level 11 fills
    await s.run_for(1)
    tp = next(o for o in runner.orders() if o.reduce_only)
    assert (tp.side, tp.price, tp.tag) == (Side.BUY, D("99995.0"), "Ts11")
    mid = s.world.market.mid("sim", "BTC")  # type: ignore[union-attr]
    s.world.market.shock("BTC", 99_990 / mid - 1)  # type: ignore[union-attr]  # just under it
    await s.run_for(2)
    assert runner.telemetry.counters.get("recentres", 0) >= 1
    centre = runner.telemetry.values["centre"]
    assert isinstance(centre, D) and centre < D("99995.0")
    sells = [p for side, p, _, ro in resting(s) if side == "sell" and not ro]
    assert sells and min(sells) > D("99995.0")
    assert tp.is_live and runner.position("sim", SYMBOL).size == D("-0.001")


async def test_partial_fills_get_take_profits_for_what_filled(quiet) -> None:
    s = await quiet(quote_allocation=3000)  # 0.005 per buy
    runner = s.engine.runner("grid")
    s.world.market.shock("BTC", -0.002)
    await s.run_for(1)
    take(s, Side.SELL, "0.002", D("99995.0"))
    await s.run_for(1)
    tps = [o for o in runner.orders() if o.reduce_only]
    assert [(o.price, o.size) for o in tps] == [(D("100095.0"), D("0.002"))]
    entry = next(o for o in runner.orders() if o.tag == "Eb10")
    assert entry.remaining == D("0.003")  # the rest keeps working, no second entry
    assert len([o for o in runner.orders() if o.tag == "Eb10"]) == 1
    take(s, Side.SELL, "0.003", D("99995.0"))
    await s.run_for(1)
    tps = [o for o in runner.orders() if o.reduce_only]
    assert sorted(o.size for o in tps) == [D("0.002"), D("0.003")]
    assert sum(o.size for o in tps) == runner.position("sim", SYMBOL).size == D("0.005")
    s.world.market.shock("BTC", 0.004)
    await s.run_for(1)
    take(s, Side.BUY, "0.004", D("100095.0"))  # the TPs fill in part: no re-arm yet
    await s.run_for(1)
    assert not [o for o in runner.orders() if o.tag == "Eb10"]
    assert sum(o.remaining for o in runner.orders() if o.reduce_only) == D("0.001")
    take(s, Side.BUY, "0.001", D("100095.0"))
    await s.run_for(1)
    assert runner.position("sim", SYMBOL).size == 0
    assert [o.size for o in runner.orders() if o.tag == "Eb10"] == [D("0.005")]
    assert runner.telemetry.values["round_trips"] == 1


async def test_a_partial_fill_below_min_size_still_gets_its_take_profit(
    make_session: Callable[..., Session],
) -> None:
    s = make_session(grid_config(min_size=0.002, quote_allocation=2400))  # 0.004 per order
    await s.start()
    try:
        await s.run_for(1)
        runner, grid = s.engine.runner("grid"), grid_of(s)
        s.world.market.shock("BTC", -0.002)
        await s.run_for(1)
        # a taker sells 0.003: 0.002 to a bid a tick above ours, 0.001 to us
        ahead = OrderRequest("ahead", SYMBOL, Side.BUY, D("0.002"), price=D("99995.1"))
        assert venue(s).submit("third", ahead).reason == ""
        take(s, Side.SELL, "0.003", D("99995.0"))
        await s.run_for(1)
        assert runner.position("sim", SYMBOL).size == D("0.001")
        assert not any(o.reduce_only for o in runner.orders())  # waits for more fills
        s.engine.pause_strategy("grid")  # the entry is cancelled: no more fills will come
        s.engine.resume_strategy("grid")
        await s.run_for(1)
        tp = next(o for o in runner.orders() if o.reduce_only)
        assert (tp.price, tp.size) == (D("100095.0"), D("0.001"))  # reduce-only dust
        # a venue that refuses reduce-only dust: the level is freed, the dust reported
        venue(s).reject_next["me"] = "size below min size"
        assert venue(s).cancel("me", SYMBOL, tp.client_id)
        await s.run_for(1)
        assert grid.slots == {} and not any(o.reduce_only for o in runner.orders())
        assert runner.telemetry.values["unassigned"] == D("0.001")
        assert runner.telemetry.counters["rejects"] == 1
    finally:
        await s.stop()


async def test_leaving_the_range_stops_the_grid_and_keeps_take_profits(quiet) -> None:
    s = await quiet(stop_out_of_range_pct=0.5)
    runner = s.engine.runner("grid")
    s.world.market.shock("BTC", -0.002)
    await s.run_for(1)
    take(s, Side.SELL, "0.001", D("99995.0"))
    await s.run_for(1)
    s.world.market.shock("BTC", -0.005)  # inside the margin (stop below 98505)
    await s.run_for(2)
    assert runner.telemetry.values["state"] in ("gridding", "outside range")
    s.world.market.shock("BTC", -0.02)  # ~97500: the crash sweeps our other bids
    await s.run_for(0.5)
    take(s, Side.SELL, "0.01", D("97000"))
    await s.run_for(2)
    tel = runner.telemetry.values
    assert tel["state"] == "stopped: out of range"
    assert "outside 99000-101000" in str(tel["stop_reason"])
    assert tel["entries_live"] == 0 and tel["tps_live"] == 3
    assert resting(s) == [  # only the take-profits, one level above each filled buy
        ("sell", D("99895.1"), D("0.001"), True),
        ("sell", D("99995.0"), D("0.001"), True),
        ("sell", D("100095.0"), D("0.001"), True),
    ]
    tps = resting(s)
    assert runner.state is StrategyState.RUNNING  # pause / flatten still work from here
    s.world.market.shock("BTC", 0.025)  # back in range: the stop holds until a resume
    await s.run_for(2)
    assert resting(s) == tps
    s.engine.pause_strategy("grid")
    s.engine.resume_strategy("grid")
    await s.run_for(1)
    assert runner.telemetry.values["state"] == "gridding"
    assert len(resting(s)) > 1


async def test_stop_can_close_the_position(quiet) -> None:
    s = await quiet(stop_out_of_range_pct=0.5, close_on_stop=True)
    runner = s.engine.runner("grid")
    s.world.market.shock("BTC", -0.002)
    await s.run_for(1)
    take(s, Side.SELL, "0.001", D("99995.0"))
    await s.run_for(1)
    s.world.market.shock("BTC", -0.02)
    await s.run_for(0.5)
    take(s, Side.SELL, "0.01", D("97000"))
    await s.run_for(2)
    assert runner.telemetry.values["state"] == "stopped: out of range"
    assert resting(s) == []
    assert runner.position("sim", SYMBOL).size == 0
    assert grid_of(s).slots == {}


async def test_lost_and_rejected_orders_are_placed_again(quiet) -> None:
    s = await quiet(retry_ms=3000)
    v = venue(s)
    before = resting(s)
    victim = next(o for o in v.open_orders("me") if o.price == D("99895.1"))
    assert v.cancel("me", SYMBOL, victim.client_id)  # an external cancel
    await s.run_for(1)
    assert resting(s) == before
    assert victim.client_id not in {o.client_id for o in v.open_orders("me")}
    victim = next(o for o in v.open_orders("me") if o.price == D("100195.2"))
    v.reject_next["me"] = "post-only order would cross the book"
    assert v.cancel("me", SYMBOL, victim.client_id)
    await s.run_for(1)
    assert ("sell", D("100195.2"), D("0.001"), False) not in resting(s)  # rejected, waits
    assert s.engine.runner("grid").telemetry.counters["rejects"] == 1
    await s.run_for(3)
    assert resting(s) == before


async def test_recentre_follows_slow_drift_and_cancels_deselected_levels(
    make_session: Callable[..., Session],
) -> None:
    # wide grid (~1 % steps); long mode has nothing above the mid for the drift to cross
    params = {"range_low": 90000, "range_high": 110000, "levels": 20, "orders_per_side": 2}
    s = make_session(grid_config(mode="long", recenter_on_move=True, requote_ticks=3000, **params))
    await s.start()
    try:
        await s.run_for(1)
        runner = s.engine.runner("grid")
        prices = grid_of(s).prices
        assert prices[10] < 100000 < prices[11]
        assert resting(s) == [
            ("buy", prices[9], D("0.001"), False),
            ("buy", prices[10], D("0.001"), False),
        ]
        for _ in range(4):  # +0.1 % per step: each below the $300 threshold
            s.world.market.shock("BTC", 0.001)
            await s.run_for(1)
        # compared with the last centre, not the previous tick: the drift re-centres
        assert runner.telemetry.counters.get("recentres") == 1
        centre = runner.telemetry.values["centre"]
        assert isinstance(centre, D) and 100300 < centre < prices[11]
        assert len(resting(s)) == 2  # nothing crossed a level: same selection
        for _ in range(4):
            s.world.market.shock("BTC", 0.001)
            await s.run_for(1)
        centre = runner.telemetry.values["centre"]
        assert isinstance(centre, D) and centre > prices[11]
        # level 9 is deselected and cancelled, level 11 joins
        assert resting(s) == [
            ("buy", prices[10], D("0.001"), False),
            ("buy", prices[11], D("0.001"), False),
        ]
        assert s.engine.orders.counters.placed == 3
    finally:
        await s.stop()


async def test_pause_resume_and_flatten(quiet) -> None:
    s = await quiet()
    engine, runner = s.engine, s.engine.runner("grid")
    s.world.market.shock("BTC", -0.002)
    await s.run_for(1)
    take(s, Side.SELL, "0.001", D("99995.0"))
    await s.run_for(1)
    full = resting(s)
    engine.pause_strategy("grid")
    await s.run_for(2)
    assert resting(s) == [] and runner.orders() == []
    engine.resume_strategy("grid")
    await s.run_for(1)
    assert ("sell", D("100095.0"), D("0.001"), True) in resting(s)  # its TP is back
    assert len(resting(s)) == len(full)
    report = await engine.flatten(strategy="grid")
    assert report.ok, [str(line) for line in report.lines]
    assert runner.position("sim", SYMBOL).size == 0 and resting(s) == []
    engine.resume_strategy("grid")
    await s.run_for(2)
    assert grid_of(s).slots == {}  # the flattened round trip is gone, no TP for it
    assert not any(o.reduce_only for o in runner.orders())
    assert runner.telemetry.counters.get("rejects", 0) == 0
    assert len(resting(s)) == 6
    report = await engine.kill_switch()
    assert report.ok and resting(s) == []
    await s.run_for(2)
    assert resting(s) == [] and runner.state is StrategyState.PAUSED


async def test_preview_lists_the_orders_it_would_place(quiet) -> None:
    s = await quiet()
    planned = s.engine.preview_strategy(
        "geometric_grid", "sim", SYMBOL, {**GRID, "mode": "long", "quote_allocation": 3000}
    )
    assert [(o.side, o.price, o.size, o.post_only) for o in planned] == [
        (Side.BUY, D("99995.0"), D("0.010"), True),
        (Side.BUY, D("99895.1"), D("0.010"), True),
        (Side.BUY, D("99795.2"), D("0.010"), True),
    ]
    assert planned[0].note == "level 10/20"
    out = s.engine.preview_strategy(
        "geometric_grid", "sim", SYMBOL, {**GRID, "range_low": 90000, "range_high": 95000}
    )
    assert out == []  # out of range beyond the stop margin: it would place nothing


async def test_restart_rebuilds_round_trips_from_its_live_orders(
    make_session: Callable[..., Session], restart_session
) -> None:
    old = make_session(grid_config(journal=True))
    await old.start()
    await old.run_for(1)
    old.world.market.shock("BTC", -0.002)  # type: ignore[union-attr]
    await old.run_for(1)
    take(old, Side.SELL, "0.001", D("99995.0"))
    take(old, Side.SELL, "0.001", D("99895.1"))
    await old.run_for(1)
    before = {o.client_id for o in venue(old).open_orders("me")}
    # the crash lost one TP (as if it died between the fill and the TP)
    lost = next(o for o in venue(old).open_orders("me") if o.price == D("99995.0"))
    assert lost.reduce_only
    assert venue(old).cancel("me", SYMBOL, lost.client_id)
    new = await restart_session(old)
    try:
        runner = new.engine.runner("grid")
        assert {o.client_id for o in runner.orders()} == before - {lost.client_id}
        assert runner.telemetry.values["adopted_orders"] == len(before) - 1
        slots = grid_of(new).slots
        assert {k: v.held for k, v in slots.items()} == {
            (Side.BUY, 10): D("0.001"),
            (Side.BUY, 9): D("0.001"),
        }
        await new.run_for(1)
        # nothing cancelled or duplicated; the lost TP is placed again
        assert before - {lost.client_id} <= {o.client_id for o in venue(new).open_orders("me")}
        assert [p for side, p, _, ro in resting(new) if ro] == [D("99995.0"), D("100095.0")]
        assert len(resting(new)) == len(before)
        new.world.market.shock("BTC", 0.004)  # type: ignore[union-attr]
        await new.run_for(1)
        take(new, Side.BUY, "0.002", D("100095.0"))
        await new.run_for(1)
        assert runner.telemetry.values["round_trips"] == 2
        assert runner.position("sim", SYMBOL).size == 0
        assert ("buy", D("99995.0"), D("0.001"), False) in resting(new)
    finally:
        report = await new.stop()
    assert report.ok and report.open_orders_left == 0


async def test_busy_market_keeps_the_grid_consistent(make_session: Callable[..., Session]) -> None:
    s = make_session(
        grid_config(
            quiet=False,
            range_low=99000,
            range_high=101000,
            levels=100,
            orders_per_side=4,
            recenter_on_move=True,
            requote_ticks=200,
        )
    )
    await s.start()
    try:
        runner = s.engine.runner("grid")
        for _ in range(90):
            await s.run_for(1)
            live = [o for o in runner.orders() if not o.cancel_requested]
            entries = [o.tag for o in live if o.tag.startswith("E")]
            assert len(entries) == len(set(entries)) <= 8
            position = runner.position("sim", SYMBOL).size
            tp_cover = sum((o.remaining for o in live if o.reduce_only), D(0))
            assert tp_cover <= abs(position)
            # every unit of inventory belongs to exactly one open round trip
            slots = grid_of(s).slots
            assert sum((v.held * side.sign for (side, _), v in slots.items()), D(0)) == position
        tel = runner.telemetry.snapshot()
        assert tel["round_trips"] > 0  # type: ignore[operator]
        assert runner.tick_errors == 0 and tel.get("rejects", 0) == 0
        assert runner.state is StrategyState.RUNNING
    finally:
        report = await s.stop()
    assert report.ok and report.open_orders_left == 0


async def test_example_config_fills_within_30_seconds(
    make_session: Callable[..., Session],
) -> None:
    config, _ = load_config(EXAMPLE, env={})
    config.journal.enabled = False
    s = make_session(config)
    await s.start()
    await s.run_for(30)
    report = await s.stop()
    summary = s.summary()
    assert summary.fills > 0
    assert report.ok and summary.open_orders_left == 0
