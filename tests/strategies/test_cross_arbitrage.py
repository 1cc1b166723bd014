"""Cross-venue arbitrage: edge math by hand, then two correlated sim venues."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal as D
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.base import Instrument, Side
from connectors.book import OrderBook
from mmtui.core.runner import StrategyState
from mmtui.session import Session
from strategies.cross_arbitrage import (
    CrossArbitrage,
    CrossArbitrageParams,
    best_opportunity,
    gross_edge,
    in_window,
    round_trip_fees,
    sweep_price,
)

from ..conftest import sim_config

SYM = "BTC-PERP"
FEE = D("0.0004")
A = Instrument("a", "BTC-PERP", "BTC", "USDC", D("0.1"), D("0.001"), D("0.001"), taker_fee=FEE)
B = Instrument(
    "b", "BTC_USDC_PERP", "BTC", "USDC", D("0.01"), D("0.0001"), D("0.0001"), taker_fee=FEE
)


def book(inst: Instrument, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> OrderBook:
    b = OrderBook(inst.symbol, inst.tick_size, inst.step_size)
    b.apply_snapshot(
        [(inst.price_to_ticks(D(p)), inst.size_to_lots(D(q))) for p, q in bids],
        [(inst.price_to_ticks(D(p)), inst.size_to_lots(D(q))) for p, q in asks],
        1,
        0,
    )
    return b


# -- pure helpers ---------------------------------------------------------------


def test_sweep_price_walks_the_depth() -> None:
    levels = [(D(100), D("0.01")), (D(101), D("0.02"))]
    assert sweep_price(levels, D("0.01")) == D(100)
    assert sweep_price(levels, D("0.02")) == D(101)
    assert sweep_price(levels, D("0.05")) is None


def test_edge_in_decimal_prices_across_different_scales() -> None:
    # venue A quotes in 0.1 ticks, venue B in 0.01 ticks: compared as prices
    ba = book(A, [("100000.0", "1")], [("100000.1", "1")])
    bb = book(B, [("100500.00", "1")], [("100500.05", "1")])
    cost = round_trip_fees(A, B)
    assert cost == D("0.0016")
    opp = best_opportunity(A, ba, B, bb, D("0.01"), cost)
    assert opp is not None
    # B is rich: buy A (cheap) at its ask, sell B (rich) at its bid -- not backwards
    assert opp.buy is A and opp.sell is B
    assert opp.buy_price == D("100000.1") and opp.sell_price == D("100500.00")
    assert opp.gross == gross_edge(D("100000.1"), D("100500.00"))
    assert opp.net == opp.gross - cost
    # mirror: A rich
    opp2 = best_opportunity(B, bb, A, ba, D("0.01"), cost)
    assert opp2 is not None and opp2.buy is A and opp2.sell is B


def test_thin_book_gives_no_opportunity() -> None:
    ba = book(A, [("100000.0", "0.001")], [("100000.1", "0.001")])
    bb = book(B, [("100500.00", "1")], [("100500.05", "1")])
    assert best_opportunity(A, ba, B, bb, D("0.01"), D(0)) is None


def test_maintenance_window() -> None:
    # 1970-01-01 09:55 UTC, maintenance at 10:00 with a 10-minute lead
    t = (9 * 3600 + 55 * 60) * 1000
    assert in_window(t, 10, False, 10) == (False, True)
    assert in_window(t, 9, False, 10) == (True, False)
    assert in_window(t, 10, False, 0) == (False, False)


def test_params_defaults_and_validation() -> None:
    p = CrossArbitrageParams()
    assert p.other_venue is None and p.entry_threshold_pct == D("0.20")
    assert set(p.model_dump()) >= {
        "entry_threshold_pct",
        "max_concurrent_positions",
        "cooldown_secs",
        "tp_ratio",
        "sl_ratio",
        "max_hold_secs",
        "maintenance_hour_utc",
        "maintenance_local_hour",
        "pre_maint_close_minutes",
        "delta_tolerance",
        "max_delta_failures",
        "tracking_wait_secs",
        "tracking_max_retries",
        "allow_market_fallback",
    }
    with pytest.raises(ValidationError, match="tick_interval_ms"):
        CrossArbitrageParams.model_validate({"poll_interval_ms": 250})
    with pytest.raises(ValidationError, match="max_round_trips"):
        CrossArbitrageParams.model_validate({"debug_run_once": True})
    with pytest.raises(ValidationError, match="entry_threshold_pct"):
        CrossArbitrageParams(entry_threshold_pct=D(0))
    with pytest.raises(ValidationError, match="maintenance_hour_utc"):
        CrossArbitrageParams(maintenance_hour_utc=24)
    with pytest.raises(ValidationError, match="delta_tolerance"):
        CrossArbitrageParams(delta_tolerance=D(1))


# -- on two sim venues ----------------------------------------------------------

BASE_PARAMS: dict[str, Any] = {
    "other_venue": "b",
    "entry_threshold_pct": 0.1,
    "size": 0.01,
    "max_concurrent_positions": 1,
    "cooldown_secs": 1,
    "tracking_wait_secs": 2,
}


def arb_config(**params: Any) -> Any:
    still = {"sigma": 0.0, "half_life_s": 3600}  # the test moves the basis by hand
    return sim_config(
        venues={"a": {"type": "sim", "basis": still}, "b": {"type": "sim", "basis": still}},
        strategies=[
            {
                "name": "arb",
                "kind": "cross_arbitrage",
                "venue": "a",
                "symbol": SYM,
                "params": {**BASE_PARAMS, **params},
            }
        ],
    )


def set_gap(s: Session, b_over_a: float) -> None:
    """Make venue b's mid ``b_over_a`` (relative) above venue a's."""
    s.world.market.set_basis("a", "BTC", 0.0)  # type: ignore[union-attr]
    s.world.market.set_basis("b", "BTC", b_over_a)  # type: ignore[union-attr]


def pos(s: Session, venue: str) -> D:
    return s.engine.runner("arb").position(venue, SYM).size


def strat(s: Session) -> CrossArbitrage:
    return s.engine.runner("arb").strategy  # type: ignore[return-value]


async def test_missing_other_venue_is_a_clear_error(make_session: Callable[..., Session]) -> None:
    cfg = arb_config()
    cfg.strategies[0].params.pop("other_venue")
    s = make_session(cfg)
    try:
        with pytest.raises(ValueError, match=r"params\.other_venue is required"):
            await s.start()
    finally:
        await s.stop()


async def test_other_symbol_found_by_pairing(make_session: Callable[..., Session]) -> None:
    s = make_session(arb_config())
    await s.start()
    try:
        a = strat(s)
        assert a.markets() == [("a", SYM), ("b", SYM)]
        assert a.unit == D("0.01")
        assert ("b", SYM) in s.engine._subscribed  # both books are subscribed
    finally:
        await s.stop()


async def test_enters_only_above_fee_adjusted_threshold_buys_cheap_sells_rich(
    make_session: Callable[..., Session],
) -> None:
    s = make_session(arb_config())
    await s.start()
    try:
        # 25 bps gap: ~22 bps after the spread, minus 16 bps fees = below 10 bps
        set_gap(s, 0.0025)
        await s.run_for(10)
        assert s.engine.summary().fills == 0
        assert float(s.engine.runner("arb").telemetry.values["edge_bps"]) < 10  # type: ignore[arg-type]
        # 50 bps: b is rich -> buy a, sell b
        set_gap(s, 0.005)
        await s.run_for(5)
        assert pos(s, "a") == D("0.01") and pos(s, "b") == D("-0.01")
        (pair,) = strat(s).pairs
        assert pair.buy.venue == "a" and pair.sell.venue == "b" and pair.state == "open"
        assert pair.entry_edge() is not None and pair.entry_edge() > D("0.0026")  # type: ignore[operator]
        # converge -> take profit, both legs closed, nothing left
        set_gap(s, 0.0)
        await s.run_for(5)
        assert pos(s, "a") == 0 and pos(s, "b") == 0 and strat(s).pairs == []
        tel = s.engine.runner("arb").telemetry
        assert tel.counters["round_trips"] == 1
        assert tel.values["net_exposure"] == 0 and len(tel.series["net_exposure"]) > 0
        assert (
            s.engine.runner("arb").position("a", SYM).net_pnl(None)
            + s.engine.runner("arb").position("b", SYM).net_pnl(None)
            > 0
        )
        # the mirror: a rich -> sell a, buy b
        set_gap(s, -0.005)
        await s.run_for(5)
        assert pos(s, "a") == D("-0.01") and pos(s, "b") == D("0.01")
        set_gap(s, 0.0)
        await s.run_for(5)
        assert pos(s, "a") == 0 and pos(s, "b") == 0
    finally:
        await s.stop()
    assert s.engine.runner("arb").tick_errors == 0


async def test_second_leg_rejected_unwinds_first_leg(make_session: Callable[..., Session]) -> None:
    s = make_session(
        arb_config(
            tracking_max_retries=1,
            allow_market_fallback=False,
            max_delta_failures=2,
            cooldown_secs=5,
        )
    )
    await s.start()
    try:
        s.world.venues["b"].reject_next["me"] = "venue says no"  # type: ignore[union-attr]
        set_gap(s, 0.005)
        await s.run_for(1)
        runner = s.engine.runner("arb")
        assert runner.telemetry.counters.get("hedge_failures") == 1
        await s.run_for(1)
        assert pos(s, "a") == 0 and pos(s, "b") == 0  # unwound: nothing one-sided
        assert runner.telemetry.counters["fills_a"] == 2  # in and back out
        assert strat(s).delta_failures == 1 and not strat(s).suspended
        set_gap(s, 0.0)
        await s.run_for(2)
        assert pos(s, "a") == 0 and pos(s, "b") == 0
        # a second failure reaches max_delta_failures: suspended, no more entries
        s.world.venues["b"].reject_next["me"] = "venue says no"  # type: ignore[union-attr]
        set_gap(s, 0.005)
        await s.run_for(3)
        assert strat(s).suspended
        fills = s.engine.summary().fills
        await s.run_for(5)
        assert s.engine.summary().fills == fills
        assert pos(s, "a") == 0 and pos(s, "b") == 0
        assert runner.telemetry.values["state"] == "suspended (delta guard)"
        # the operator clears it with pause / resume
        s.engine.pause_strategy("arb")
        s.engine.resume_strategy("arb")
        await s.run_for(3)
        assert not strat(s).suspended and pos(s, "a") == D("0.01") and pos(s, "b") == D("-0.01")
    finally:
        await s.stop()


async def test_one_reject_is_retried_and_the_pair_is_hedged(
    make_session: Callable[..., Session],
) -> None:
    s = make_session(arb_config())
    await s.start()
    try:
        s.world.venues["b"].reject_next["me"] = "busy"  # type: ignore[union-attr]
        set_gap(s, 0.005)
        await s.run_for(3)
        assert pos(s, "a") == D("0.01") and pos(s, "b") == D("-0.01")
        assert strat(s).delta_failures == 0
        assert s.engine.runner("arb").telemetry.counters["rejects"] == 1
    finally:
        await s.stop()


def reject_ours(s: Session, venue: str, count: int) -> None:
    """Venue ``venue`` refuses our next ``count`` orders."""
    v: Any = s.world.venues[venue]
    submit = v.submit
    left = [count]

    def refusing(account: str, req: Any) -> Any:
        if account == "me" and left[0] > 0:
            left[0] -= 1
            v.reject_next[account] = "venue says no (test)"
        return submit(account, req)

    v.submit = refusing


async def test_a_failed_close_keeps_the_pair_and_retries(
    make_session: Callable[..., Session],
) -> None:
    """The close of one leg fails (its limit and its market fallback refused): the
    pair stays on the books, closing, with the leg still held -- it is not dropped
    (and later rediscovered by the drift guard as a one-sided delta failure) -- and
    the close is retried until both legs are flat."""
    s = make_session(arb_config(tracking_max_retries=1))
    await s.start()
    try:
        set_gap(s, 0.005)
        await s.run_for(3)
        (pair,) = strat(s).pairs
        assert pair.state == "open" and pos(s, "b") == D("-0.01")
        reject_ours(s, "b", 2)  # the close's limit attempt and its market fallback
        set_gap(s, 0.0)  # converged: take profit
        runner = s.engine.runner("arb")
        for _ in range(10):
            await s.run_for(0.1)
            if runner.telemetry.counters.get("close_failures"):
                break
        assert runner.telemetry.counters.get("close_failures") == 1
        assert strat(s).pairs == [pair] and pair.state == "closing"
        assert pos(s, "a") == 0 and pos(s, "b") == D("-0.01")  # b's leg still held
        await s.run_for(3)
        assert pos(s, "a") == 0 and pos(s, "b") == 0 and strat(s).pairs == []
        assert runner.telemetry.counters["round_trips"] == 1
        assert strat(s).delta_failures == 0 and "drift_rebuilds" not in runner.telemetry.counters
    finally:
        await s.stop()


async def test_time_stop_and_stop_on_widening(make_session: Callable[..., Session]) -> None:
    s = make_session(arb_config(max_hold_secs=5, sl_ratio=0.5, cooldown_secs=3))
    await s.start()
    try:
        set_gap(s, 0.005)
        await s.run_for(2)
        assert pos(s, "a") == D("0.01")
        await s.run_for(4)
        assert pos(s, "a") == 0 and pos(s, "b") == 0
        assert s.engine.runner("arb").telemetry.counters["round_trips"] == 1
        await s.run_for(4)  # cooldown after the exit, then in again
        assert pos(s, "a") == D("0.01")
        set_gap(s, 0.009)  # widens past (1 + 0.5) x entry
        await s.run_for(2)
        assert pos(s, "a") == 0 and pos(s, "b") == 0
        assert s.engine.runner("arb").telemetry.counters["round_trips"] == 2
    finally:
        await s.stop()


async def test_flatten_then_resume_leaves_no_ghost_pair(
    make_session: Callable[..., Session],
) -> None:
    s = make_session(arb_config())
    await s.start()
    try:
        set_gap(s, 0.005)
        await s.run_for(3)
        assert pos(s, "a") == D("0.01")
        report = await s.engine.flatten(strategy="arb")
        assert report.ok, [str(x) for x in report.lines]
        assert s.engine.runner("arb").state is StrategyState.PAUSED
        assert pos(s, "a") == 0 and pos(s, "b") == 0
        set_gap(s, 0.0)
        s.engine.resume_strategy("arb")
        await s.run_for(3)
        assert strat(s).pairs == [] and pos(s, "a") == 0 and pos(s, "b") == 0
        for v in ("a", "b"):
            assert s.world.venues[v].positions("me")[0].size == 0  # type: ignore[union-attr]
    finally:
        await s.stop()


async def test_restart_rebuilds_the_pair_and_closes_it(
    make_session: Callable[..., Session], restart_session: Callable[..., Any]
) -> None:
    cfg = arb_config()
    cfg.journal.enabled = True
    s = make_session(cfg)
    await s.start()
    set_gap(s, 0.005)
    await s.run_for(3)
    assert pos(s, "a") == D("0.01") and pos(s, "b") == D("-0.01")
    s2 = await restart_session(s)
    try:
        await s2.run_for(1)
        (pair,) = strat(s2).pairs
        assert pair.state == "open" and pair.buy.venue == "a" and pair.size == D("0.01")
        assert pair.entry_gross > D("0.004")
        set_gap(s2, 0.0)
        await s2.run_for(3)
        assert pos(s2, "a") == 0 and pos(s2, "b") == 0 and strat(s2).pairs == []
    finally:
        await s2.stop()


async def test_preview_shows_both_legs(make_session: Callable[..., Session]) -> None:
    s = make_session(arb_config())
    await s.start()
    try:
        await s.run_for(1)
        assert s.engine.preview_strategy("cross_arbitrage", "a", SYM, dict(BASE_PARAMS)) == []
        set_gap(s, 0.005)
        await s.run_for(0.2)
        plan = s.engine.preview_strategy("cross_arbitrage", "a", SYM, dict(BASE_PARAMS))
        assert [(o.venue, o.side) for o in plan] == [("a", Side.BUY), ("b", Side.SELL)]
        assert all(o.size == D("0.01") for o in plan)
    finally:
        await s.stop()
