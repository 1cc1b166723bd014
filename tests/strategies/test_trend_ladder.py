"""Trend-adaptive ladder: pure pieces by hand, then the strategy on the sim venue
(manual clock, faster than real time). Fills on quiet books come from explicit
taker orders of another account."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.base import Instrument, OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from mmtui.config import Config, load_config
from mmtui.core.runner import StrategyRunner, StrategyState
from mmtui.session import Session, build_session
from strategies.base import OrderView
from strategies.trend_detector import Direction, TrendDetector
from strategies.trend_ladder import (
    TrendLadder,
    TrendLadderParams,
    entry_cooldown_secs,
    entry_price,
    passive_limit,
    take_profit_price,
)

from ..conftest import sim_config

ROOT = Path(__file__).resolve().parents[2]
INST = Instrument("v", "X-PERP", "X", "USDC", D("0.1"), D("0.001"), D("0.001"))
SYM = "BTC-PERP"
QUIET = {"taker_rate": 0.0}
START_MS = 1_700_000_000_000  # bar boundaries do not depend on the wall clock
_ids = itertools.count(1)


# -- pure pieces ----------------------------------------------------------------


def test_params_validation_is_clear() -> None:
    with pytest.raises(ValidationError, match="min_wait <= base_wait <= max_wait"):
        TrendLadderParams(min_wait=100, base_wait=50)
    with pytest.raises(ValidationError, match="min_wait <= base_wait <= max_wait"):
        TrendLadderParams(base_wait=1000, max_wait=900)
    with pytest.raises(ValidationError, match="slope_up"):
        TrendLadderParams(slope_up=-0.3, slope_down=-0.2)
    with pytest.raises(ValidationError, match="requote_skip_backoff_secs"):
        TrendLadderParams(requote_skip_backoff_secs=200)
    with pytest.raises(ValidationError, match="max_position"):
        TrendLadderParams(quantity_base=D("0.01"), max_position=D("0.005"))
    with pytest.raises(ValidationError, match="partial_tp_enabled is no longer"):
        TrendLadderParams.model_validate({"partial_tp_enabled": True})
    with pytest.raises(ValidationError, match="extra"):
        TrendLadderParams.model_validate({"take_profit": 5})
    with pytest.raises(ValidationError):
        TrendLadderParams(take_profit_abs=D(0))
    with pytest.raises(ValidationError):
        TrendLadderParams(fixed_direction="sideways")  # type: ignore[arg-type]
    # every default validates (the console's launcher dumps them)
    TrendLadderParams.model_validate(TrendLadderParams().model_dump(mode="json"))


def test_config_error_names_strategy_and_parameter() -> None:
    with pytest.raises(ValidationError) as err:
        sim_config(strategies=[_spec({"min_wait": 10, "base_wait": 5})])
    text = str(err.value)
    assert "strategies[0] (tl).params" in text and "min_wait <= base_wait" in text


def test_pacing_slows_as_exits_pile_up() -> None:
    p = TrendLadderParams(base_wait=100, min_wait=10, max_wait=150, idle_wait=5, max_orders=12)
    waits = [entry_cooldown_secs(n, p) for n in (0, 1, 2, 4, 8, 12)]
    # idle (clamped to min_wait), <1/6 idle, 1/6 -> base/2, 1/3 -> base, 2/3 -> 2*base (capped)
    assert waits == [10, 10, 50, 100, 150, 150]


def test_prices_one_tick_outside_and_never_crossing() -> None:
    bid, ask = D("100.0"), D("100.5")
    assert entry_price(Side.BUY, bid, ask, INST, 1) == D("99.9")
    assert entry_price(Side.SELL, bid, ask, INST, 1) == D("100.6")
    assert entry_price(Side.BUY, bid, ask, INST, 0) == D("100.0")
    assert entry_price(Side.BUY, None, ask, INST, 1) is None
    # take-profits round away from the entry
    assert take_profit_price(Side.BUY, D("99.9"), D("0.25"), INST) == D("100.2")
    assert take_profit_price(Side.SELL, D("100.6"), D("0.25"), INST) == D("100.3")

    class Book:
        def best_bid(self) -> D:
            return D("101.0")

        def best_ask(self) -> D:
            return D("101.2")

    # a sell below the best bid is pulled back behind it, a buy above the ask too
    assert passive_limit(Side.SELL, D("100.2"), Book(), INST.tick_size) == D("101.1")  # type: ignore[arg-type]
    assert passive_limit(Side.BUY, D("102"), Book(), INST.tick_size) == D("101.1")  # type: ignore[arg-type]
    assert passive_limit(Side.SELL, D("102"), Book(), INST.tick_size) == D("102")  # type: ignore[arg-type]


def _detector(**kw: Any) -> TrendDetector:
    args: dict[str, Any] = dict(
        bar_ms=1000, ema_len=4, atr_len=3, slope_up=0.2, slope_down=-0.2, warmup_bars=5
    )
    args.update(kw)
    return TrendDetector(**args)


def _feed(det: TrendDetector, prices: list[float], start_s: int = 0) -> list[Direction]:
    """One price per second (each finishes the previous bar); returns the switches."""
    out = []
    for i, price in enumerate(prices):
        switched = det.update((start_s + i) * 1000, price)
        if switched is not None:
            out.append(switched)
    return out


def test_detector_needs_warmup_and_ignores_a_flat_market() -> None:
    det = _detector(initial=Direction.LONG)
    assert _feed(det, [100.0] * 4) == [] and not det.ready and det.bars_to_ready == 2
    assert _feed(det, [100.0] * 20, 4) == []
    assert det.ready and det.slope == 0.0 and det.direction is Direction.LONG


def test_detector_switches_with_hysteresis_bars() -> None:
    det = _detector(initial=Direction.LONG, confirm_bars=3)
    noise = [100.0, 100.5] * 5
    assert _feed(det, noise) == []
    falling = [100.0 - i for i in range(1, 10)]
    first_vote = switched_at = None
    for i, price in enumerate(falling):
        got = _feed(det, [price], 10 + i)
        if first_vote is None and det.vote() is Direction.SHORT:
            first_vote = det.finished
        if got:
            assert got == [Direction.SHORT] and switched_at is None
            switched_at = det.finished
    assert det.direction is Direction.SHORT and det.slope is not None and det.slope < -0.2
    # the first bar below slope_down and two more: three bars in a row
    assert first_vote is not None and switched_at == first_vote + 2
    # back inside the band: no switch, whatever long it lasts
    assert _feed(det, [91.0, 91.1] * 10, 19) == []
    # a rally switches back
    assert _feed(det, [91.0 + 2 * i for i in range(12)], 39) == [Direction.LONG]
    assert det.flips == 2


def test_detector_margin_switches_at_once() -> None:
    slow = _detector(initial=Direction.LONG, confirm_bars=5)
    fast = _detector(initial=Direction.LONG, confirm_bars=5, margin=0.1)
    base = [100.0, 100.5] * 5
    _feed(slow, base)
    _feed(fast, base)
    drop = [100.0 - 3 * i for i in range(1, 4)]
    assert _feed(fast, drop, 10) == [Direction.SHORT]
    assert _feed(slow, drop, 10) == []
    with pytest.raises(ValueError, match="slope_up"):
        _detector(slope_up=-1.0)


# -- on the sim -------------------------------------------------------------------

BASE_PARAMS: dict[str, Any] = {
    "quantity_base": "0.005",
    "take_profit_abs": 20,
    "base_wait": 2,
    "min_wait": 0,
    "max_wait": 10,
    "idle_wait": 1,
    "max_orders": 10,
    "max_open_entries": 1,
    "requote_ticks": 0,
    "tick_interval_ms": 200,
}


def _spec(params: dict[str, Any], name: str = "tl") -> dict[str, Any]:
    return {
        "name": name,
        "kind": "trend_ladder",
        "venue": "sim",
        "symbol": SYM,
        "params": {**BASE_PARAMS, **params},
    }


def _config(params: dict[str, Any], flow: dict[str, Any] | None = None, **kw: Any) -> Config:
    return sim_config(
        sim={
            "seed": 5,
            "speed": None,
            "step_ms": 100,
            "assets": {
                "BTC": {
                    "start_price": 100000,
                    "tick_size": 0.1,
                    "step_size": 0.001,
                    "min_size": 0.001,
                    "volatility": kw.pop("volatility", 0.0),
                }
            },
        },
        venues={"sim": {"type": "sim", "flow": flow or QUIET, "basis": {"sigma": 0.0}}},
        # a quiet book never changes: the stale-book guard would refuse every entry
        risk={"stale_book_ms": None},
        strategies=[_spec(params)],
        **kw,
    )


def _venue(s: Session) -> Any:
    return s.world.venues["sim"]  # type: ignore[union-attr]


def _tagged(runner: StrategyRunner, prefix: str) -> list[OrderView]:
    return [o for o in runner.orders() if o.tag.startswith(prefix)]


def _exits(runner: StrategyRunner) -> D:
    return sum((o.remaining for o in runner.orders() if o.reduce_only), D(0))


def _pos(runner: StrategyRunner) -> D:
    return runner.position("sim", SYM).size


def take(s: Session, side: Side, price: D, lots_at_price: int) -> None:
    """A taker from another account: sweeps everything better than ``price`` and
    ``lots_at_price`` lots at it (IOC), so a resting order there fills by that much."""
    venue = _venue(s)
    inst = venue.instruments[SYM]
    bids, asks, _ = venue.snapshot(SYM)
    ticks = inst.price_to_ticks(price)
    if side is Side.SELL:
        ahead = sum(q for p, q in bids if p > ticks)
    else:
        ahead = sum(q for p, q in asks if p < ticks)
    size = inst.lots_to_size(ahead + lots_at_price)
    req = OrderRequest(f"x-{next(_ids)}", SYM, side, size, OrderType.LIMIT, price, TimeInForce.IOC)
    ack = venue.submit("other", req)
    assert ack.status is not OrderStatus.REJECTED, ack.reason


async def _resting_entry(s: Session, runner: StrategyRunner) -> OrderView:
    for _ in range(50):
        entries = [o for o in _tagged(runner, "entry") if o.status is OrderStatus.OPEN]
        if entries:
            return entries[0]
        await s.run_for(0.2)
    raise AssertionError("no entry rests on the book")


async def test_every_fill_of_an_entry_gets_its_own_take_profit(
    make_session: Callable[..., Session],
) -> None:
    waits = {"base_wait": 60, "idle_wait": 60, "max_wait": 60}  # only a closed exit hurries
    s = make_session(_config(waits), start_ms=START_MS)
    await s.start()
    runner = s.engine.runner("tl")
    try:
        entry = await _resting_entry(s, runner)
        book = s.engine.book("sim", SYM)
        assert book is not None and entry.side is Side.BUY and entry.post_only
        assert entry.price == book.best_bid() - D("0.1") or entry.price < book.best_bid()
        tp_price = take_profit_price(Side.BUY, entry.price, D(20), runner.strategy.inst)  # type: ignore[arg-type,attr-defined]
        tag = f"tp:{entry.client_id}"
        filled = []
        for lots in (2, 1, 2):  # three partial fills complete the 0.005 entry
            take(s, Side.SELL, entry.price, lots)  # type: ignore[arg-type]
            await s.run_for(0.2)
            filled.append(D(lots) / 1000)
            tps = [o for o in _tagged(runner, "tp:") if o.tag == tag]
            assert [o.size for o in tps] == filled  # one take-profit per fill, exactly its size
            assert all(o.reduce_only and o.post_only and o.side is Side.SELL for o in tps)
            assert all(o.price == tp_price for o in tps)
            assert _pos(runner) == sum(filled) == _exits(runner)
        assert entry.status is OrderStatus.FILLED
        # a partly filled take-profit: coverage counts what remains, so no top-up
        take(s, Side.BUY, tp_price, 1)
        await s.run_for(1)
        assert _pos(runner) == D("0.004") == _exits(runner)
        assert "coverage_topups" not in runner.telemetry.counters
        # the rest of the exits fill: the lot is closed, a new entry goes at once
        before = runner.telemetry.counters.get("entries", 0)
        assert before == 1 and _tagged(runner, "entry") == []  # still cooling down
        take(s, Side.BUY, tp_price, 4)
        await s.run_for(0.6)
        assert _pos(runner) == 0 and _tagged(runner, "tp:") == []
        assert runner.strategy.lots == {}  # type: ignore[attr-defined]
        assert runner.telemetry.counters["entries"] == 2 and len(_tagged(runner, "entry")) == 1
        assert runner.telemetry.counters["tp_fills"] == 4  # fill events: 1 partial + 3
        assert runner.tick_errors == 0
    finally:
        await s.stop()


async def test_caps_and_pairing_hold_under_busy_flow(make_session: Callable[..., Session]) -> None:
    params = {
        "quantity_base": "0.002",
        "max_orders": 6,
        "max_open_entries": 2,
        "max_position": "0.008",
        "take_profit_abs": 60,
        "base_wait": 1,
        "idle_wait": 0.5,
        "requote_ticks": 5,
    }
    flow = {"taker_rate": 4.0, "taker_k": 0.3, "level_notional": 1500}
    s = make_session(_config(params, flow, volatility=0.8), start_ms=START_MS)
    await s.start()
    runner = s.engine.runner("tl")
    worst_pos, worst_entries, worst_lots = D(0), 0, 0
    try:
        for _ in range(240):
            await s.run_for(0.5)
            pos = _pos(runner)
            worst_pos = max(worst_pos, abs(pos))
            worst_entries = max(worst_entries, len(_tagged(runner, "entry")))
            lots = sum(1 for lot in runner.strategy.lots.values() if lot.open > 0)  # type: ignore[attr-defined]
            worst_lots = max(worst_lots, lots)
            # every unit held has a resting reduce-only exit
            assert pos >= 0
            assert _exits(runner) >= pos, (pos, runner.orders())
        assert worst_pos <= D("0.008") and worst_entries <= 2 and worst_lots <= 6
        assert worst_pos == D("0.008") or worst_lots == 6  # the caps were reached, not idle
        c = runner.telemetry.counters
        assert c["entry_fills"] >= 5 and c["tp_fills"] >= 3
        assert runner.tick_errors == 0 and runner.state is StrategyState.RUNNING
    finally:
        report = await s.stop()
    assert report.ok and report.open_orders_left == 0


async def test_stop_loss_closes_and_cools_down(make_session: Callable[..., Session]) -> None:
    s = make_session(_config({"stop_loss_abs": 1, "stop_cooldown_secs": 20}), start_ms=START_MS)
    await s.start()
    runner = s.engine.runner("tl")
    try:
        entry = await _resting_entry(s, runner)
        take(s, Side.SELL, entry.price, 5)  # type: ignore[arg-type]
        await s.run_for(0.4)
        assert _pos(runner) == D("0.005") and _exits(runner) == D("0.005")
        s.world.market.shock("BTC", -0.003)  # type: ignore[union-attr]  # -300: loss 1.5 > 1
        await s.run_for(1.5)
        assert _pos(runner) == 0
        assert runner.telemetry.counters["stops"] == 1
        assert runner.telemetry.values["mode"] == "cool-down"
        assert "stopped out" in str(runner.telemetry.values["state"])
        assert "stop_loss_abs" in str(runner.telemetry.values["last_stop"])
        await s.run_for(10)
        assert runner.orders() == []  # no entries while cooling down
        await s.run_for(12)
        assert runner.telemetry.values["mode"] == "trading"
        assert _tagged(runner, "entry")
        assert runner.tick_errors == 0
    finally:
        await s.stop()


async def test_stop_loss_pct(make_session: Callable[..., Session]) -> None:
    params = {"stop_loss_pct": "0.2", "fixed_direction": "short", "idle_wait": 60, "base_wait": 60}
    s = make_session(_config({**params, "max_wait": 60}), start_ms=START_MS)
    await s.start()
    runner = s.engine.runner("tl")
    try:
        entry = await _resting_entry(s, runner)
        assert entry.side is Side.SELL
        take(s, Side.BUY, entry.price, 5)  # type: ignore[arg-type]
        await s.run_for(0.4)
        assert _pos(runner) == D("-0.005")
        tp = _tagged(runner, "tp:")
        assert tp and tp[0].side is Side.BUY and tp[0].price == entry.price - 20  # type: ignore[operator]
        s.world.market.shock("BTC", 0.001)  # type: ignore[union-attr]
        await s.run_for(1)
        assert _pos(runner) == D("-0.005")  # 0.085 % against: inside the stop
        s.world.market.shock("BTC", 0.0015)  # type: ignore[union-attr]
        await s.run_for(1.5)
        assert _pos(runner) == 0 and runner.telemetry.counters["stops"] == 1
    finally:
        await s.stop()


async def test_detector_flips_direction_under_a_synthetic_trend(
    make_session: Callable[..., Session],
) -> None:
    params = {
        "detector_enabled": True,
        "bar_secs": 1,
        "ema_len": 4,
        "atr_len": 3,
        "warmup_minutes": 5,
        "hysteresis_bars": 2,
        "flip_flush": "passive",
        "flush_timeout_secs": 3,
        "requote_ticks": 5,
    }
    s = make_session(_config(params, volatility=0.2), start_ms=START_MS)
    await s.start()
    runner = s.engine.runner("tl")
    market = s.world.market  # type: ignore[union-attr]
    try:
        entry = await _resting_entry(s, runner)
        take(s, Side.SELL, entry.price, 3)  # type: ignore[arg-type]
        await s.run_for(8)  # no trend: the detector warms up, no switch
        assert runner.telemetry.values["direction"] == "long"
        assert "flips" not in runner.telemetry.counters
        assert _pos(runner) == D("0.003")
        assert runner.telemetry.values["bars_to_ready"] == 0
        flipped_at = None
        for i in range(40):  # down 5 bps every half second
            market.shock("BTC", -0.0005)
            await s.run_for(0.5)
            if flipped_at is None and runner.telemetry.counters.get("flips"):
                flipped_at = i
                # old-side entries and exits are cancelled at once
                left = [o for o in runner.orders() if o.tag != "flush" and not o.cancel_requested]
                assert left == [], [(o.tag, o.side, o.status) for o in left]
        assert flipped_at is not None and flipped_at < 12
        assert runner.telemetry.values["direction"] == "short"
        assert runner.telemetry.values["mode"] == "trading"
        assert _pos(runner) <= 0  # the long was flushed (passive, then market on timeout)
        assert runner.telemetry.counters.get("flush_fills", 0) >= 1
        entries = _tagged(runner, "entry")
        assert entries and all(o.side is Side.SELL for o in entries)
        for _ in range(40):  # and back up
            market.shock("BTC", 0.0005)
            await s.run_for(0.5)
        assert runner.telemetry.counters["flips"] == 2
        assert runner.telemetry.values["direction"] == "long"
        assert all(o.side is Side.BUY for o in _tagged(runner, "entry"))
        assert runner.tick_errors == 0
    finally:
        report = await s.stop()
    assert report.ok and report.open_orders_left == 0


async def test_fixed_direction_stays_without_the_detector(
    make_session: Callable[..., Session],
) -> None:
    s = make_session(_config({"fixed_direction": "long"}), start_ms=START_MS)
    await s.start()
    runner = s.engine.runner("tl")
    try:
        for _ in range(20):
            s.world.market.shock("BTC", -0.0005)  # type: ignore[union-attr]
            await s.run_for(0.5)
        assert runner.telemetry.values["direction"] == "long"
        assert "flips" not in runner.telemetry.counters
        assert all(o.side is Side.BUY for o in _tagged(runner, "entry"))
    finally:
        await s.stop()


async def test_requote_follows_the_market(make_session: Callable[..., Session]) -> None:
    s = make_session(_config({"requote_ticks": 5, "max_requotes_per_tick": 1}), start_ms=START_MS)
    await s.start()
    runner = s.engine.runner("tl")
    try:
        first = await _resting_entry(s, runner)
        s.world.market.shock("BTC", 0.001)  # type: ignore[union-attr]  # +100: entry is stale
        await s.run_for(2)
        entries = _tagged(runner, "entry")
        assert len(entries) == 1 and entries[0].client_id != first.client_id
        book = s.engine.book("sim", SYM)
        assert book is not None and entries[0].price == book.best_bid() - D("0.1")  # type: ignore[operator]
        assert runner.telemetry.counters["requotes"] == 1
    finally:
        await s.stop()


async def test_requote_backs_off_when_cancels_are_not_confirmed(
    make_session: Callable[..., Session],
) -> None:
    params = {
        "requote_ticks": 5,
        "requote_wait_confirm_secs": 1,
        "requote_skip_backoff_secs": 4,
        "requote_skip_backoff_max_secs": 8,
    }
    s = make_session(_config(params), start_ms=START_MS)
    await s.start()
    runner = s.engine.runner("tl")
    try:
        await _resting_entry(s, runner)
        s.engine.connectors["sim"].latency_ms = 1500  # type: ignore[attr-defined]
        s.world.market.shock("BTC", 0.001)  # type: ignore[union-attr]
        await s.run_for(1.4)
        assert runner.telemetry.counters["requote_backoffs"] == 1  # not confirmed after 1 s
        await s.run_for(3)
        # the cancel landed late: one replacement, and no new requote during the back-off
        assert runner.telemetry.counters["requotes"] == 1
        assert len(_tagged(runner, "entry")) == 1
        s.world.market.shock("BTC", 0.001)  # type: ignore[union-attr]
        await s.run_for(1)
        assert runner.telemetry.counters["requotes"] == 1  # still backing off (4 s)
        await s.run_for(6)
        assert runner.telemetry.counters["requotes"] >= 2
    finally:
        await s.stop()


async def test_coverage_tops_up_a_position_without_exits(
    make_session: Callable[..., Session],
) -> None:
    s = make_session(_config({"imb_max_corr_in_10m": 1, "max_open_entries": 1}), start_ms=START_MS)
    await s.start()
    runner = s.engine.runner("tl")
    try:
        await _resting_entry(s, runner)
        # a position the ladder did not open (e.g. a manual trade under its name)
        runner.place("sim", SYM, Side.BUY, D("0.003"), None, order_type=OrderType.MARKET)
        await s.run_for(0.6)
        assert _pos(runner) == D("0.003")
        cov = _tagged(runner, "cov")
        assert [(o.size, o.side, o.reduce_only) for o in cov] == [(D("0.003"), Side.SELL, True)]
        assert _exits(runner) == _pos(runner)
        runner.place("sim", SYM, Side.BUY, D("0.002"), None, order_type=OrderType.MARKET)
        await s.run_for(1)
        assert len(_tagged(runner, "cov")) == 1  # rate cap: one top-up per 10 minutes
        assert "rate cap" in str(runner.telemetry.values["coverage"])
        assert runner.telemetry.values["coverage_deficit"] == D("0.002")
    finally:
        await s.stop()


async def test_pause_resume_flatten_and_kill_switch(make_session: Callable[..., Session]) -> None:
    s = make_session(_config({}), start_ms=START_MS)
    await s.start()
    engine = s.engine
    runner = engine.runner("tl")
    try:
        entry = await _resting_entry(s, runner)
        take(s, Side.SELL, entry.price, 3)  # type: ignore[arg-type]
        await s.run_for(0.4)
        tag = f"tp:{entry.client_id}"
        engine.pause_strategy("tl")
        await s.run_for(1)
        assert runner.orders() == [] and _venue(s).open_orders("me") == []
        # resume re-places the take-profit of the open lot, same pairing tag
        engine.resume_strategy("tl")
        await s.run_for(0.6)
        tps = _tagged(runner, "tp:")
        assert [o.tag for o in tps] == [tag] and _exits(runner) == D("0.003") == _pos(runner)
        report = await engine.flatten(strategy="tl")
        assert report.ok and _pos(runner) == 0 and runner.state is StrategyState.PAUSED
        engine.resume_strategy("tl")
        await s.run_for(1)
        assert _tagged(runner, "tp:") == [] and runner.strategy.lots == {}  # type: ignore[attr-defined]
        entry = await _resting_entry(s, runner)
        take(s, Side.SELL, entry.price, 2)  # type: ignore[arg-type]
        await s.run_for(0.4)
        report = await engine.kill_switch()
        assert report.ok and runner.orders() == []
        assert engine.positions.get(("sim", SYM)).size == 0  # the account is flat
        await s.run_for(2)
        assert runner.orders() == [] and runner.tick_errors == 0
        engine.reset_risk()
        engine.resume_strategy("tl")
        await s.run_for(1)
        # nothing left to close on the account: no exits, just a new entry
        assert [o.tag for o in runner.orders()] == ["entry"]
        engine.stop_strategy("tl")
        assert runner.state is StrategyState.STOPPED
    finally:
        await s.stop()


async def test_restart_adopts_its_orders_and_pairing(
    make_session: Callable[..., Session], restart_session: Callable[..., Any]
) -> None:
    cfg = _config({"max_open_entries": 1}, journal={"enabled": True})
    old = make_session(cfg, start_ms=START_MS)
    await old.start()
    runner = old.engine.runner("tl")
    entry = await _resting_entry(old, runner)
    take(old, Side.SELL, entry.price, 2)  # type: ignore[arg-type]  # partly filled, still resting
    await old.run_for(0.4)
    before = {o.client_id: o.tag for o in runner.orders()}
    assert sorted(before.values()) == ["entry", f"tp:{entry.client_id}"]
    new = await restart_session(old)
    try:
        again = new.engine.runner("tl")
        assert {o.client_id: o.tag for o in again.orders()} == before
        lot = again.strategy.lots[entry.client_id]  # type: ignore[attr-defined]
        assert lot.open == D("0.002") and not lot.entry_done
        await new.run_for(2)
        assert {o.client_id: o.tag for o in again.orders()} == before  # nothing re-placed
        assert "coverage_topups" not in again.telemetry.counters
        # the adopted entry keeps pairing its fills
        take(new, Side.SELL, entry.price, 3)  # type: ignore[arg-type]
        await new.run_for(0.4)
        tps = [o for o in again.orders() if o.tag == f"tp:{entry.client_id}"]
        assert sorted(o.remaining for o in tps) == [D("0.002"), D("0.003")]
        assert _pos(again) == D("0.005") == _exits(again)
    finally:
        report = await new.stop()
    assert report.ok and report.open_orders_left == 0


async def test_quit_keeps_the_take_profits_with_on_quit_keep_exits(
    make_session: Callable[..., Session], tmp_path: Path
) -> None:
    """The issue: quitting cancelled the take-profits and left the position with no
    exit. With ``on_quit: keep_exits`` the shutdown cancels the entry and leaves the
    take-profit resting on the venue, says so, and a restart takes it back."""
    cfg = _config({"on_quit": "keep_exits"}, journal={"enabled": True})
    old = make_session(cfg, start_ms=START_MS)
    await old.start()
    runner = old.engine.runner("tl")
    entry = await _resting_entry(old, runner)
    take(old, Side.SELL, entry.price, 2)  # type: ignore[arg-type]  # partly filled, resting
    await old.run_for(0.4)
    (tp,) = _tagged(runner, "tp:")
    assert tp.status is OrderStatus.OPEN and tp.reduce_only
    report = await old.stop()
    summary = old.summary()
    assert report.ok and report.open_orders_left == 0 and summary.open_orders_left == 0
    assert [o.client_id for o in _venue(old).open_orders("me")] == [tp.client_id]
    assert entry.status is OrderStatus.CANCELLED  # not an exit: cancelled
    assert [o.client_id for o in report.kept] == [tp.client_id]
    (line,) = summary.exits_kept
    assert tp.client_id in line and "reduce-only" in line and "of tl" in line
    assert "on_quit: keep_exits" in summary.render()
    assert not any("dead-man" in line for line in summary.shutdown)  # the sim has none
    # a restart on the same venue and journal hands the exit back to the strategy
    new = build_session(
        cfg, speed="manual", journal_path=tmp_path / "j.sqlite", world=old.world, clock=old.clock
    )
    await new.start()
    try:
        again = new.engine.runner("tl")
        assert [(o.client_id, o.tag) for o in again.orders()] == [(tp.client_id, tp.tag)]
        assert again.strategy.lots[entry.client_id].open == D("0.002")  # type: ignore[attr-defined]
        assert _pos(again) == D("0.002") == _exits(again)
    finally:
        report = await new.stop()
    assert report.ok and report.kept  # still its setting: kept again


async def test_restart_with_the_other_direction_flushes_the_old_position(
    make_session: Callable[..., Session], restart_session: Callable[..., Any]
) -> None:
    old = make_session(_config({}, journal={"enabled": True}), start_ms=START_MS)
    await old.start()
    runner = old.engine.runner("tl")
    entry = await _resting_entry(old, runner)
    take(old, Side.SELL, entry.price, 3)  # type: ignore[arg-type]
    await old.run_for(0.4)
    assert _pos(runner) == D("0.003")
    short = {"fixed_direction": "short", "flush_timeout_secs": 2}
    new = await restart_session(old, _config(short, journal={"enabled": True}))
    try:
        again = new.engine.runner("tl")
        await new.run_for(1)  # cancel the long's entry and exit, then the flush
        flush = _tagged(again, "flush")
        assert again.telemetry.values["mode"] == "flushing"
        assert [(o.side, o.post_only, o.reduce_only) for o in flush] == [(Side.SELL, True, True)]
        await new.run_for(3)  # no taker comes: the passive flush gives way to a market close
        assert _pos(again) == 0 and again.telemetry.values["direction"] == "short"
        assert [o.side for o in _tagged(again, "entry")] == [Side.SELL]
        assert again.tick_errors == 0
    finally:
        await new.stop()


async def test_preview_shows_entry_and_its_take_profit(session: Session) -> None:
    await session.run_for(1)
    planned = session.engine.preview_strategy(
        "trend_ladder", "sim", SYM, {**BASE_PARAMS, "fixed_direction": "short"}
    )
    book = session.engine.book("sim", SYM)
    assert book is not None and len(planned) == 2
    entry, tp = planned
    assert entry.side is Side.SELL and entry.post_only and not entry.reduce_only
    assert entry.price is not None and entry.price > book.best_ask()  # type: ignore[operator]
    assert tp.side is Side.BUY and tp.reduce_only and tp.price == entry.price - 20
    assert TrendLadder.kind == "trend_ladder"


async def test_example_config_runs_and_fills(make_session: Callable[..., Session]) -> None:
    config, _ = load_config(ROOT / "examples" / "trend_ladder.yaml", env={})
    assert [s.kind for s in config.strategies] == ["trend_ladder"]
    s = make_session(config)
    await s.start()
    await s.run_for(30)
    report = await s.stop()
    summary = s.summary()
    assert summary.fills > 0
    assert report.ok and summary.open_orders_left == 0
