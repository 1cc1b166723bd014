"""Hedged open/close cycle on two sim venues with correlated prices, faster than
real time: cycles complete with the legs matched, a failed hedge unwinds the
maker leg, and pause / flatten / kill switch / restart leave nothing one-sided."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal as D
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.base import Instrument, Side
from mmtui.core.runner import StrategyState
from mmtui.session import Session
from strategies.hedged_cycle import (
    HedgedCycle,
    HedgedCycleParams,
    Phase,
    inside_far_touch,
    round_down,
)

from ..conftest import sim_config

SYM = "BTC-PERP"
FAST: dict[str, Any] = {
    "hedge_venue": "b",
    "hold_seconds_min": 3,
    "hold_seconds_max": 6,
    "cooldown_seconds_min": 0.5,
    "cooldown_seconds_max": 2,
    "reprice_after_seconds": 2,
    "maker_fill_timeout": 20,
    "hedge_fill_timeout": 5,
    "tick_interval_ms": 200,
}


def two_venue_config(**params: Any) -> Any:
    return sim_config(
        venues={
            "a": {
                "type": "sim",
                "flow": {"taker_k": 0.3, "taker_rate": 3.0},
                "basis": {"sigma": 0.0003, "half_life_s": 30},
            },
            "b": {"type": "sim", "basis": {"sigma": 0.0003, "half_life_s": 30}},
        },
        strategies=[
            {
                "name": "hc",
                "kind": "hedged_cycle",
                "venue": "a",
                "symbol": SYM,
                "params": {**FAST, **params},
            }
        ],
    )


def strategy(s: Session) -> HedgedCycle:
    return s.engine.runner("hc").strategy  # type: ignore[return-value]


def venue_size(s: Session, venue: str) -> D:
    sizes = [p.size for p in s.world.venues[venue].positions("me") if p.symbol == SYM]  # type: ignore[union-attr]
    return sizes[0] if sizes else D(0)


async def run_watching(s: Session, seconds: float, step: float = 0.2) -> float:
    """Run and return the longest stretch (s) the legs were unmatched."""
    st = strategy(s)
    worst = unmatched = 0.0
    for _ in range(int(seconds / step)):
        await s.run_for(step)
        unmatched = 0.0 if st.matched() else unmatched + step
        worst = max(worst, unmatched)
    return worst


def assert_flat(s: Session) -> None:
    st = strategy(s)
    assert st.maker_position() == 0 and st.hedge_position() == 0
    assert venue_size(s, "a") == 0 and venue_size(s, "b") == 0
    assert s.world.venues["a"].open_orders("me") == []  # type: ignore[union-attr]
    assert s.world.venues["b"].open_orders("me") == []  # type: ignore[union-attr]


# -- pure helpers ---------------------------------------------------------------


def test_price_one_tick_inside_the_far_touch() -> None:
    t = D("0.1")
    assert inside_far_touch(Side.BUY, D(100), D("100.5"), t) == D("100.4")
    assert inside_far_touch(Side.SELL, D(100), D("100.5"), t) == D("100.1")
    # one-tick spread: join the near touch, never cross
    assert inside_far_touch(Side.BUY, D(100), D("100.1"), t) == D(100)
    assert inside_far_touch(Side.SELL, D(100), D("100.1"), t) == D("100.1")


def test_round_down_never_over_hedges() -> None:
    inst = Instrument("b", SYM, "BTC", "USDC", D("0.1"), D("0.002"), D("0.002"))
    assert round_down(D("0.0059"), inst) == D("0.004")
    assert round_down(D("0.001"), inst) == 0


def test_params_defaults_and_validation() -> None:
    dumped = HedgedCycleParams().model_dump()  # the launcher renders this
    assert dumped["hedge_venue"] is None and dumped["max_reprice_attempts"] == 1
    assert dumped["hold_seconds_min"] == 600 and dumped["cooldown_seconds_max"] == 300
    with pytest.raises(ValidationError, match="hold_seconds_min"):
        HedgedCycleParams(hold_seconds_min=10, hold_seconds_max=5)
    with pytest.raises(ValidationError, match="cooldown_seconds_min"):
        HedgedCycleParams(cooldown_seconds_min=10, cooldown_seconds_max=5)
    with pytest.raises(ValidationError, match="maker_fill_timeout"):
        HedgedCycleParams.model_validate({"backpack_fill_timeout": 10})
    with pytest.raises(ValidationError):
        HedgedCycleParams.model_validate({"bogus": 1})


async def test_missing_or_same_hedge_venue_is_a_clear_error(
    make_session: Callable[..., Session],
) -> None:
    s = make_session(two_venue_config())
    await s.start()
    try:
        with pytest.raises(ValueError, match="hedge_venue is required"):
            s.engine.add_strategy("x", "hedged_cycle", "a", SYM, {})
        with pytest.raises(ValueError, match="must differ"):
            s.engine.add_strategy("y", "hedged_cycle", "a", SYM, {"hedge_venue": "a"})
        with pytest.raises(ValueError, match="hedge_symbol"):
            s.engine.add_strategy("z", "hedged_cycle", "a", SYM, {**FAST, "hedge_symbol": "NOPE"})
    finally:
        await s.stop()


# -- end to end -------------------------------------------------------------------


async def test_several_cycles_matched_and_exit_flat(make_session: Callable[..., Session]) -> None:
    s = make_session(two_venue_config(max_cycles=4))
    await s.start()
    try:
        runner = s.engine.runner("hc")
        assert set(runner.markets) == {("a", SYM), ("b", SYM)}
        worst = await run_watching(s, 90)
        st = strategy(s)
        tel = runner.telemetry.snapshot()
        assert st.cycles_completed == 4 and st.cycles_aborted == 0, tel
        assert st.phase is Phase.DONE and "max_cycles" in str(tel["state"])
        assert worst <= 0.4  # a maker fill is hedged within one flush
        assert tel["fills_maker"] >= 8 and tel["fills_hedge"] >= 8
        assert tel["net_exposure"] == 0 and tel["one_sided"] is False
        assert "net_exposure" in runner.telemetry.series
        assert D(str(tel["volume"])) > 0 and D(str(tel["fees"])) > 0
        assert tel["last_cycle_cost"] == -D(str(tel["last_cycle_pnl"]))
        assert runner.tick_errors == 0 and runner.state is StrategyState.RUNNING
        assert_flat(s)
    finally:
        report = await s.stop()
    assert report.ok and s.summary().open_orders_left == 0


async def test_same_seed_same_cycles(make_session: Callable[..., Session]) -> None:
    runs = []
    for _ in range(2):
        s = make_session(two_venue_config(max_cycles=3))
        await s.start()
        st = strategy(s)
        sides: dict[int, Side] = {}
        for _ in range(300):
            await s.run_for(0.2)
            if st.side is not None:
                sides.setdefault(st.cycles_started, st.side)
        runs.append((sides, st.cycles_completed))
        await s.stop()
    assert runs[0] == runs[1] and runs[0][1] == 3


async def test_rejected_hedge_unwinds_the_maker_leg(make_session: Callable[..., Session]) -> None:
    s = make_session(two_venue_config(hedge_retries=0, max_cycles=2))
    s.world.venues["b"].reject_next["me"] = "venue says no"  # type: ignore[union-attr]
    await s.start()
    try:
        worst = await run_watching(s, 60)
        st = strategy(s)
        tel = s.engine.runner("hc").telemetry.snapshot()
        assert st.unwinds == 1 and st.cycles_aborted == 1, tel
        assert "hedge failed" in str(tel["last_abort"])
        assert tel["rejects"] == 1 and tel["hedge_failures"] == 1
        assert worst <= 0.4  # the unwind follows the reject at once
        assert st.cycles_completed == 1  # the next cycle went through normally
        assert_flat(s)
    finally:
        await s.stop()


async def test_rejected_hedge_is_retried(make_session: Callable[..., Session]) -> None:
    s = make_session(two_venue_config(hedge_retries=1, max_cycles=1))
    s.world.venues["b"].reject_next["me"] = "busy"  # type: ignore[union-attr]
    await s.start()
    try:
        worst = await run_watching(s, 40)
        st = strategy(s)
        assert st.unwinds == 0 and st.cycles_completed == 1
        assert worst <= 1.0  # one retry delay
        assert_flat(s)
    finally:
        await s.stop()


async def wait_for(s: Session, phase: Phase, limit: float = 60) -> None:
    st = strategy(s)
    for _ in range(int(limit / 0.2)):
        if st.phase is phase:
            return
        await s.run_for(0.2)
    raise AssertionError(f"never reached {phase}, stuck in {st.phase}")


async def test_pause_resume_and_flatten_mid_cycle(make_session: Callable[..., Session]) -> None:
    s = make_session(two_venue_config(hold_seconds_min=30, hold_seconds_max=30, max_cycles=3))
    await s.start()
    try:
        engine = s.engine
        await wait_for(s, Phase.HOLDING)
        st = strategy(s)
        assert st.maker_position() != 0 and st.matched()
        engine.pause_strategy("hc")
        await s.run_for(40)  # the hold ends while paused: nothing happens
        assert engine.runner("hc").orders() == [] and st.phase is Phase.HOLDING
        assert "paused" in str(engine.runner("hc").telemetry.values["state"])
        engine.resume_strategy("hc")
        await s.run_for(1)
        assert st.phase in (Phase.CLOSING_MAKER, Phase.CLOSING_HEDGE, Phase.COOLDOWN)
        await wait_for(s, Phase.HOLDING)
        report = await engine.flatten(strategy="hc")
        assert report.ok, [str(line) for line in report.lines]
        assert_flat(s)
        engine.resume_strategy("hc")
        worst = await run_watching(s, 90)
        assert worst <= 0.4
        assert st.cycles_aborted == 1  # the flattened cycle
        assert st.phase is Phase.DONE and st.cycles_started == 3
        assert_flat(s)
    finally:
        await s.stop()


async def test_a_close_nobody_takes_ends_at_market(make_session: Callable[..., Session]) -> None:
    """The takers leave the maker venue during the hold: the reduce-only close
    limit is re-priced, then -- attempts used up -- the rest goes at market
    (``close_mkt``), the hedge is bought back, the cycle completes flat. A
    reduce-only close is never left resting."""
    s = make_session(two_venue_config(max_cycles=1, max_reprice_attempts=1))
    await s.start()
    try:
        await wait_for(s, Phase.HOLDING)
        st = strategy(s)
        assert st.maker_position() != 0
        venue: Any = s.world.venues["a"]  # type: ignore[union-attr]
        venue.background.flow = replace(venue.flow, taker_rate=0.0)  # nobody takes
        await wait_for(s, Phase.CLOSING_MAKER, limit=10)
        await wait_for(s, Phase.DONE, limit=30)
        tel = s.engine.runner("hc").telemetry.counters
        assert tel["market_closes"] == 1 and tel["reprices"] >= 1
        assert st.cycles_completed == 1 and st.cycles_aborted == 0
        assert_flat(s)
    finally:
        await s.stop()


async def test_kill_switch_while_opening(make_session: Callable[..., Session]) -> None:
    s = make_session(two_venue_config())
    await s.start()
    try:
        await wait_for(s, Phase.OPENING)
        report = await s.engine.kill_switch()
        assert report.ok
        assert_flat(s)
        await s.run_for(10)
        assert s.engine.runner("hc").state is StrategyState.PAUSED
        assert s.engine.orders.live_count() == 0
    finally:
        await s.stop()


async def test_restart_while_holding_rebuilds_and_closes_both(
    make_session: Callable[..., Session], restart_session: Callable[..., Any]
) -> None:
    cfg = two_venue_config(max_cycles=2, hold_seconds_min=20, hold_seconds_max=20)
    cfg.journal.enabled = True
    s = make_session(cfg)
    await s.start()
    await wait_for(s, Phase.HOLDING)
    await s.run_for(1)  # the journal writer catches up (see the report: core gap)
    held = venue_size(s, "a")
    assert held != 0 and venue_size(s, "b") == -held
    s2 = await restart_session(s)
    try:
        st = strategy(s2)
        assert st.maker_position() == held and st.hedge_position() == -held
        assert st.phase is Phase.HOLDING  # picked up from the positions
        worst = await run_watching(s2, 60)
        assert worst <= 0.4
        assert st.phase is Phase.DONE
        assert_flat(s2)
    finally:
        await s2.stop()


async def test_restart_while_opening_adopts_the_maker_order(
    make_session: Callable[..., Session], restart_session: Callable[..., Any]
) -> None:
    # a venue with no takers: the open order rests
    cfg = two_venue_config(max_cycles=1, reprice_after_seconds=10)
    cfg.venues["a"].flow.taker_rate = 0  # type: ignore[union-attr]
    cfg.journal.enabled = True
    s = make_session(cfg)
    await s.start()
    await wait_for(s, Phase.OPENING)
    await s.run_for(1)
    assert len(s.engine.runner("hc").orders("a")) == 1
    s2 = await restart_session(s)
    try:
        st = strategy(s2)
        adopted = s2.engine.runner("hc").orders("a")
        assert [o.tag for o in adopted] == ["open"]
        assert st.phase is Phase.OPENING and st.side is adopted[0].side
        await s2.run_for(40)  # it never fills: the cycle is abandoned, nothing to undo
        assert st.cycles_aborted == 1 and st.phase is Phase.DONE
        assert_flat(s2)
    finally:
        await s2.stop()


async def test_limits_block_cycles(make_session: Callable[..., Session]) -> None:
    s = make_session(two_venue_config(max_notional_per_cycle=10))
    await s.start()
    try:
        await s.run_for(10)
        tel = s.engine.runner("hc").telemetry.values
        assert "notional" in str(tel["blocked"]) and strategy(s).cycles_started == 0
        assert s.engine.orders.live_count() == 0
    finally:
        await s.stop()


async def test_loss_cap_stops_new_cycles(make_session: Callable[..., Session]) -> None:
    s = make_session(two_venue_config(loss_cap="0.01"))
    await s.start()
    try:
        await run_watching(s, 60)
        st = strategy(s)
        assert st.phase is Phase.DONE and "loss cap" in st.stop_reason
        assert st.cycles_started == 1
        assert_flat(s)
    finally:
        await s.stop()


async def test_preview_plans_maker_then_hedge(make_session: Callable[..., Session]) -> None:
    s = make_session(two_venue_config())
    await s.start()
    try:
        await s.run_for(2)
        plan = s.engine.preview_strategy("hedged_cycle", "a", SYM, dict(FAST))
        assert [(o.venue, o.reduce_only) for o in plan] == [("a", False), ("b", False), ("a", True)]
        assert plan[0].side is plan[1].side.opposite and plan[0].price is not None
        assert plan[1].price is None and plan[0].size == plan[1].size
    finally:
        await s.stop()
