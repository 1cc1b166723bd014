"""Hedge ladder: pure pieces by hand, then the strategy on two sim venues whose
prices are correlated but not equal (manual clock, faster than real time)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.base import Instrument, OrderType, Side, TimeInForce
from mmtui.config import Config
from mmtui.core.runner import StrategyRunner, StrategyState
from mmtui.session import Session
from strategies.hedge_ladder import (
    HedgeLadder,
    HedgeLadderParams,
    hedge_target,
    next_hedge_state,
    parse_tp_tag,
    resolve_hedge_instrument,
    tp_tag,
)
from strategies.pairing import common_size

from ..conftest import sim_config

ROOT = Path(__file__).resolve().parents[2]
SYM = "BTC-PERP"
BTC_A = Instrument("a", "BTC_USDC_PERP", "BTC", "USDC", D("0.1"), D("0.00001"), D("0.00001"))
BTC_B = Instrument("b", "BTC", "BTC", "USD", D("0.1"), D("0.001"), D("0.002"))

BASE_PARAMS: dict[str, Any] = {
    "hedge_venue": "b",
    "quantity_base": "0.002",
    "take_profit_abs": 2000,  # far: lots stay open through the scenario
    "max_concurrent_positions": 3,
    "entry_interval_secs": 1,
    "hedge_trigger_ratio": "0.99",
    "hedge_release_ratio": "0.995",
    "hedge_min_hold_secs": 2,
    "net_delta_bound": "0.004",
    "tick_interval_ms": 250,
}


def _config(params: dict[str, Any] | None = None, **overrides: Any) -> Config:
    venue = {"type": "sim", "basis": {"sigma": 0.0003, "half_life_s": 20}}
    raw: dict[str, Any] = {
        "sim": {
            "seed": 3,
            "speed": None,
            "step_ms": 100,
            "assets": {
                "BTC": {
                    "start_price": 100_000,
                    "tick_size": "0.1",
                    "step_size": "0.001",
                    "min_size": "0.001",
                    "volatility": 1.0,
                }
            },
        },
        "venues": {"a": {**venue, "flow": {"taker_rate": 3.0, "taker_k": 0.3}}, "b": venue},
        "strategies": [
            {
                "name": "hl",
                "kind": "hedge_ladder",
                "venue": "a",
                "symbol": SYM,
                "params": {**BASE_PARAMS, **(params or {})},
            }
        ],
    }
    raw.update(overrides)
    return sim_config(**raw)


def _net(r: StrategyRunner) -> D:
    return r.position("a", SYM).size + r.position("b", SYM).size


def _hl(r: StrategyRunner) -> HedgeLadder:
    assert isinstance(r.strategy, HedgeLadder)
    return r.strategy


def _tagged(r: StrategyRunner, prefix: str) -> list[Any]:
    return [o for o in r.orders() if o.tag.startswith(prefix)]


async def _until(s: Session, cond: Callable[[], bool], secs: float, step: float = 0.25) -> None:
    waited = 0.0
    while not cond():
        assert waited < secs, "condition not reached in time"
        await s.run_for(step)
        waited += step


# -- pure pieces ----------------------------------------------------------------


def test_params_validate_with_clear_errors() -> None:
    HedgeLadderParams.model_validate(HedgeLadderParams().model_dump(mode="json"))
    with pytest.raises(ValidationError, match=r"hedge_release_ratio .* must be above"):
        HedgeLadderParams(hedge_trigger_ratio=D("0.99"), hedge_release_ratio=D("0.99"))
    with pytest.raises(ValidationError, match="max_resting_entries"):
        HedgeLadderParams(max_resting_entries=5, max_concurrent_positions=2)
    with pytest.raises(ValidationError, match="net_delta_bound"):
        HedgeLadderParams(quantity_base=D("0.01"), net_delta_bound=D("0.001"))
    with pytest.raises(ValidationError, match="now hedge_reduce_only_close"):
        HedgeLadderParams.model_validate({"lighter_reduce_only_close": True})
    with pytest.raises(ValidationError):
        HedgeLadderParams(hedge_trigger_ratio=D("1.01"))


def test_hysteresis_holds_the_hedge_between_trigger_and_release() -> None:
    trigger, release = D(99), D("99.5")
    path = [D(100), D("98.9"), D("99.2"), D(99), D("99.4"), D("99.5"), D("99.2"), D(99)]
    state, states = False, []
    for mid in path:
        state = next_hedge_state(state, mid, trigger, release)
        states.append(state)
    assert states == [False, True, True, True, True, False, False, True]


def test_sizes_are_converted_through_base_units() -> None:
    # entry venue steps 0.00001, hedge venue 0.001 with a 0.002 minimum
    size = common_size(BTC_A, BTC_B, D("0.0015"))
    assert size == D("0.002") and BTC_A.is_on_step(size) and BTC_B.is_on_step(size)
    # a partial fill of 0.00137 is hedged as 0.001 on b (rounded down to b's step) ...
    assert hedge_target(D("0.00137"), D("0.00137"), D(1), BTC_B) == D("0.001")
    # ... unless the bound forces it: then up, so the bound holds
    assert hedge_target(D(0), D("0.00537"), D("0.004"), BTC_B) == D("0.002")
    # never more than the long entry position
    assert hedge_target(D(5), D("0.003"), D(1), BTC_B) == D("0.003")
    assert hedge_target(D(0), D(0), D(1), BTC_B) == 0


def test_take_profit_tags_round_trip() -> None:
    assert parse_tp_tag(tp_tag("mmabc12-7", D("99812.3"))) == ("mmabc12-7", D("99812.3"))
    assert parse_tp_tag("entry") is None


class _Ctx:
    def __init__(self, markets: dict[tuple[str, str], Instrument]) -> None:
        self.markets = markets

    def instrument(self, venue: str, symbol: str) -> Instrument:
        return self.markets[(venue, symbol)]

    def instruments(self, venue: str) -> list[Instrument]:
        return [inst for (v, _), inst in self.markets.items() if v == venue]


def test_hedge_market_is_paired_by_base_asset() -> None:
    eth = Instrument("b", "ETH", "ETH", "USD", D("0.01"), D("0.01"), D("0.01"))
    ctx: Any = _Ctx({("b", "BTC"): BTC_B, ("b", "ETH"): eth})
    assert resolve_hedge_instrument(ctx, BTC_A, "b", None) is BTC_B
    assert resolve_hedge_instrument(ctx, BTC_A, "b", "BTC") is BTC_B
    with pytest.raises(ValueError, match="hedge_symbol"):
        resolve_hedge_instrument(ctx, BTC_A, "b", "SOL")
    with pytest.raises(ValueError, match="no BTC/USDC market found on 'c'"):
        resolve_hedge_instrument(ctx, BTC_A, "c", None)


# -- on the sim -------------------------------------------------------------------


async def test_missing_hedge_venue_is_a_clear_error(make_session: Callable[..., Session]) -> None:
    s = make_session(_config(strategies=[]))
    await s.start()
    try:
        with pytest.raises(ValueError, match=r"params\.hedge_venue is required"):
            s.engine.add_strategy("x", "hedge_ladder", "a", SYM, {})
        runner = s.engine.add_strategy("y", "hedge_ladder", "a", SYM, {"hedge_venue": "b"})
        assert runner.markets == [("a", SYM), ("b", SYM)]
    finally:
        await s.stop()


async def test_drop_and_recovery_keep_net_delta_in_bound_without_flapping(
    make_session: Callable[..., Session],
) -> None:
    s = make_session(_config())
    await s.start()
    r = s.engine.runner("hl")
    hl = _hl(r)
    worst = D(0)
    try:
        # build the ladder: the bound (2 lots) stops new entries while unhedged
        await _until(s, lambda: len(hl.lots) >= 2, 60)
        await s.run_for(5)
        assert r.position("b", SYM).size == 0
        lots_before = set(hl.lots)
        assert s.world is not None
        for _ in range(3):  # a synthetic drop in three legs: ~ -1.8 %
            s.world.market.shock("BTC", -0.006)
            for _ in range(8):
                await s.run_for(0.5)
                worst = max(worst, abs(_net(r)))
        for _ in range(40):  # hold there, in the noise, for 20 s
            await s.run_for(0.5)
            worst = max(worst, abs(_net(r)))
        assert all(hl.lots[k].hedged for k in lots_before)
        assert r.position("b", SYM).size <= -D("0.004")  # the first lots are hedged short
        for _ in range(3):  # recovery
            s.world.market.shock("BTC", 0.006)
            for _ in range(8):
                await s.run_for(0.5)
                worst = max(worst, abs(_net(r)))
        for _ in range(40):
            await s.run_for(0.5)
            worst = max(worst, abs(_net(r)))
        assert not any(hl.lots[k].hedged for k in lots_before)
        # released: bought back down to what the bound still needs (lots bought in the drop)
        entry = r.position("a", SYM).size
        assert entry > D("0.004")
        assert r.position("b", SYM).size == -(entry - hl.bound)
        assert r.telemetry.counters["unhedge_fills"] >= 1
        tel = r.telemetry
        assert worst <= hl.bound == D("0.004")
        # no flapping: every lot hedged at most once and released at most once
        assert all(lot.flips <= 2 for lot in hl.lots.values())
        assert tel.counters["hedge_orders"] <= 2 * tel.counters["entry_fills"]
        assert "hedge_failures" not in tel.counters
        assert tel.values["net_exposure"] == _net(r)
        assert len(tel.series["net_exposure"]) > 100
        assert r.tick_errors == 0 and r.state is StrategyState.RUNNING
    finally:
        await s.stop()


async def _one_lot(s: Session, r: StrategyRunner) -> str:
    hl = _hl(r)
    await _until(s, lambda: any(lot.open > 0 for lot in hl.lots.values()), 60)
    await s.run_for(0.5)
    return next(k for k, lot in hl.lots.items() if lot.open > 0)


async def test_resting_entries_stay_within_their_cap(make_session: Callable[..., Session]) -> None:
    """No takers, no interval: only the cap holds the entries back. At most
    ``max_resting_entries`` bids rest at once however many lots would still fit."""
    params = {
        "max_resting_entries": 2,
        "max_concurrent_positions": 10,
        "net_delta_bound": "0.02",
        "entry_interval_secs": 0,
        "requote_ticks": 1000,
        "entry_max_age_secs": None,
    }
    quiet = {"type": "sim", "flow": {"taker_rate": 0}, "basis": {"sigma": 0.0}}
    s = make_session(_config(params, venues={"a": quiet, "b": quiet}, risk={"stale_book_ms": None}))
    await s.start()
    try:
        r = s.engine.runner("hl")
        most = 0
        for _ in range(20):
            await s.run_for(0.25)
            most = max(most, len(_tagged(r, "entry")))
        assert most == 2 and len(_tagged(r, "entry")) == 2
        assert _hl(r).entry_room() is False
        assert r.tick_errors == 0
    finally:
        await s.stop()


async def test_hedge_counts_only_when_filled_and_is_retried(
    make_session: Callable[..., Session],
) -> None:
    s = make_session(_config({"max_concurrent_positions": 1, "hedge_retry_delay": 1}))
    await s.start()
    r = s.engine.runner("hl")
    try:
        await _one_lot(s, r)
        assert s.world is not None
        s.world.venues["b"].reject_next["me"] = "venue busy"
        s.world.market.shock("BTC", -0.015)
        await _until(s, lambda: r.telemetry.counters.get("hedge_failures", 0) == 1, 5, 0.1)
        assert r.position("b", SYM).size == 0  # an attempt is not a hedge
        assert r.telemetry.values["hedge_deficit"] == D("0.002")
        await s.run_for(0.5)
        assert r.position("b", SYM).size == 0  # back-off: hedge_retry_delay x attempt
        await _until(s, lambda: r.position("b", SYM).size == -D("0.002"), 3, 0.1)
        assert r.telemetry.counters["hedge_orders"] == 2
        assert _net(r) == 0
        orders = [o for o in s.engine.orders.all() if o.tag == "hedge"]
        assert all(
            o.type is OrderType.MARKET and o.time_in_force is TimeInForce.IOC for o in orders
        )
    finally:
        await s.stop()


async def test_lost_take_profit_is_placed_again(make_session: Callable[..., Session]) -> None:
    s = make_session(_config({"max_concurrent_positions": 1}))
    await s.start()
    r = s.engine.runner("hl")
    try:
        lot_id = await _one_lot(s, r)
        (tp,) = _tagged(r, "tp:")
        assert tp.tag == _hl(r).lots[lot_id].tag and tp.reduce_only and tp.post_only
        assert s.world is not None
        assert s.world.venues["a"].cancel("me", SYM, tp.client_id)  # the venue drops it
        await s.run_for(1)
        (again,) = _tagged(r, "tp:")
        assert again.client_id != tp.client_id and again.tag == tp.tag
        assert again.remaining == D("0.002") and r.telemetry.counters["tp_lost"] == 1
    finally:
        await s.stop()


async def test_pause_resume_and_kill_switch(make_session: Callable[..., Session]) -> None:
    s = make_session(_config({"max_concurrent_positions": 1}))
    await s.start()
    r = s.engine.runner("hl")
    try:
        await _one_lot(s, r)
        assert s.world is not None
        s.world.market.shock("BTC", -0.015)
        await _until(s, lambda: r.position("b", SYM).size == -D("0.002"), 5)
        s.engine.pause_strategy("hl")
        await s.run_for(1)
        assert r.orders() == [] and not r.running
        assert r.position("b", SYM).size == -D("0.002")  # the hedge stays while paused
        s.engine.resume_strategy("hl")
        await s.run_for(1)
        assert len(_tagged(r, "tp:")) == 1  # the lot's take-profit is back
        report = await s.engine.kill_switch()
        assert report.ok, report.lines
        assert s.engine.positions.get(("a", SYM)).size == 0
        assert s.engine.positions.get(("b", SYM)).size == 0
        assert r.state is not StrategyState.RUNNING and r.tick_errors == 0
    finally:
        await s.stop()


async def test_restart_rebuilds_lots_and_hedge_state(
    make_session: Callable[..., Session], restart_session: Callable[..., Any]
) -> None:
    cfg = _config({"max_concurrent_positions": 1}, journal={"enabled": True})
    old = make_session(cfg)
    await old.start()
    r = old.engine.runner("hl")
    lot_id = await _one_lot(old, r)
    assert old.world is not None
    old.world.market.shock("BTC", -0.012)
    await _until(old, lambda: r.position("b", SYM).size == -D("0.002"), 5)
    old.world.market.shock("BTC", 0.004)  # between trigger and release: stays hedged
    await old.run_for(3)
    assert _hl(r).lots[lot_id].hedged
    before = {o.client_id: o.tag for o in r.orders() if o.tag.startswith("tp:")}
    new = await restart_session(old)
    try:
        again = new.engine.runner("hl")
        hl = _hl(again)
        assert {o.client_id: o.tag for o in again.orders() if o.tag.startswith("tp:")} == before
        assert hl.lots[lot_id].open == D("0.002") and hl.lots[lot_id].hedged
        await new.run_for(3)
        assert again.position("b", SYM).size == -D("0.002")
        assert "hedge_orders" not in again.telemetry.counters  # nothing re-hedged or flipped
        assert len(_tagged(again, "tp:")) == 1
    finally:
        report = await new.stop()
    assert report.ok and report.open_orders_left == 0


async def test_preview_shows_entry_take_profit_and_hedge(
    make_session: Callable[..., Session],
) -> None:
    s = make_session(_config())  # a running strategy subscribes both books
    await s.start()
    try:
        await s.run_for(2)
        planned = s.engine.preview_strategy("hedge_ladder", "a", SYM, {"hedge_venue": "b"})
        entry, tp, hedge = planned
        book = s.engine.book("a", SYM)
        assert book is not None and entry.price == book.best_bid()
        assert (entry.venue, entry.side, entry.post_only) == ("a", Side.BUY, True)
        assert tp.reduce_only and tp.price == entry.price + 30  # type: ignore[operator]
        assert (hedge.venue, hedge.side, hedge.price) == ("b", Side.SELL, None)
        assert "mid <=" in hedge.note
    finally:
        await s.stop()


async def test_example_config_fills_on_both_venues(make_session: Callable[..., Session]) -> None:
    from mmtui.config import load_config

    config, _ = load_config(ROOT / "examples" / "hedge_ladder.yaml", env={})
    config = config.model_copy(
        update={"journal": config.journal.model_copy(update={"enabled": False})}
    )
    s = make_session(config)
    await s.start()
    r = s.engine.runner("hedge_btc")
    try:
        await s.run_for(30)
        assert r.telemetry.counters["entry_fills"] > 0 and r.telemetry.counters["hedge_fills"] > 0
        assert abs(_net(r)) <= _hl(r).bound
    finally:
        report = await s.stop()
    assert report.ok and s.summary().open_orders_left == 0
