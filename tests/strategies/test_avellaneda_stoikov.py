"""Avellaneda–Stoikov quote math against hand-computed values and the paper's
simulation, its rules at every inventory, then its behaviour on the sim venue."""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable
from decimal import Decimal as D
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from connectors.base import Instrument, Side, TimeInForce
from mmtui.core.risk import RiskState
from mmtui.core.runner import StrategyRunner, StrategyState
from mmtui.session import Session
from strategies.avellaneda_stoikov import (
    ASParams,
    AvellanedaStoikov,
    QuoteTarget,
    apply_min_spread,
    finite_horizon_quotes,
    infinite_horizon_quotes,
    session_time_left,
    to_book_prices,
)
from strategies.volatility import RealizedVolatility

from ..conftest import AS_PARAMS, btc_sim_config

INST = Instrument("v", "X-PERP", "X", "USDC", D("0.01"), D("0.001"), D("0.001"))


def test_finite_horizon_by_hand() -> None:
    # gamma*sigma^2*(T-t) = 0.1*0.25*10 = 0.25; r = 100 - 2*0.25 = 99.5
    # spread = 0.25 + (2/0.1)*ln(1 + 0.1/1.5) = 0.25 + 20*0.0645385211 = 1.5407704228
    t = finite_horizon_quotes(mid=100.0, q=2.0, sigma=0.5, gamma=0.1, k=1.5, time_left=10.0)
    assert t.reservation == pytest.approx(99.5)
    assert t.spread == pytest.approx(1.5407704228)
    assert t.bid == pytest.approx(98.7296147886)
    assert t.ask == pytest.approx(100.2703852114)


def test_finite_horizon_flat_inventory_is_symmetric() -> None:
    t = finite_horizon_quotes(mid=50.0, q=0.0, sigma=0.2, gamma=0.5, k=2.0, time_left=6.0)
    assert t.reservation == 50.0
    assert 50.0 - t.bid == pytest.approx(t.ask - 50.0)


def test_infinite_horizon_by_hand() -> None:
    # g2s2 = 0.0025, omega = 0.5*0.0025*16 = 0.02, denom = 0.04 - 0.0025 = 0.0375
    # r_ask = 100 + 10 ln(1 - 0.0025/0.0375) = 99.3100707; r_bid = 100 + 10 ln(0.8) = 97.7685645
    # half = 10 ln(1 + 0.1/1.5) = 0.6453852
    t = infinite_horizon_quotes(mid=100.0, q=1.0, sigma=0.5, gamma=0.1, k=1.5, q_max=3.0)
    assert t.ask == pytest.approx(99.3100707 + 0.6453852, abs=1e-6)
    assert t.bid == pytest.approx(97.7685645 - 0.6453852, abs=1e-6)
    # sigma cancels out with the paper's omega: the same quotes at any sigma, 0 included
    for sigma in (0.0, 5.0):
        same = infinite_horizon_quotes(mid=100.0, q=1.0, sigma=sigma, gamma=0.1, k=1.5, q_max=3.0)
        assert same.ask == pytest.approx(t.ask) and same.bid == pytest.approx(t.bid)


def test_long_inventory_skews_quotes_down() -> None:
    flat = finite_horizon_quotes(100.0, 0.0, 0.5, 0.1, 1.5, 10.0)
    long = finite_horizon_quotes(100.0, 3.0, 0.5, 0.1, 1.5, 10.0)
    short = finite_horizon_quotes(100.0, -3.0, 0.5, 0.1, 1.5, 10.0)
    assert long.bid < flat.bid and long.ask < flat.ask
    assert short.bid > flat.bid and short.ask > flat.ask


def test_min_spread_floor() -> None:
    t = apply_min_spread(QuoteTarget(100.0, 99.9, 100.1), 1.0)
    assert t.bid == pytest.approx(99.5) and t.ask == pytest.approx(100.5)


def test_rounding_is_passive_and_never_crosses_opposite_touch() -> None:
    bid, ask = to_book_prices(QuoteTarget(100, 99.987, 100.013), INST, D("99.99"), D("100.01"))
    assert (bid, ask) == (D("99.98"), D("100.02"))
    # a target through the opposite touch is pulled back one tick behind it
    bid, ask = to_book_prices(QuoteTarget(100, 100.5, 100.9), INST, D("99.99"), D("100.01"))
    assert bid == D("100.00") and ask == D("100.90")
    bid, ask = to_book_prices(QuoteTarget(100, 99.0, 99.5), INST, D("99.99"), D("100.01"))
    assert ask == D("100.00") and bid == D("99.00")


def test_params_validation() -> None:
    with pytest.raises(ValidationError, match="gamma_max"):
        ASParams(gamma=0.1, gamma_max=0.05)
    with pytest.raises(ValidationError, match="max_position"):
        ASParams(horizon="infinite")
    for bad in ("24:00", "9:30", "12:60", "noon"):
        with pytest.raises(ValidationError, match="session_end_utc"):
            ASParams(horizon="session", session_end_utc=bad)
    assert ASParams(session_end_utc="16:30:15").session_end_offset_s == 16 * 3600 + 30 * 60 + 15
    with pytest.raises(ValidationError):
        ASParams(k=0)
    with pytest.raises(ValidationError, match="extra"):
        ASParams.model_validate({"gama": 0.1})


def test_volatility_warmup_and_units() -> None:
    vol = RealizedVolatility(window_ms=60_000, warmup_ms=5_000, min_samples=5)
    # mid alternates +-1 every second: variance per second = 1 -> sigma = 1
    for i in range(4):
        vol.add(i * 1000, 100.0 + (i % 2))
    assert vol.sigma() is None  # warming up
    for i in range(4, 30):
        vol.add(i * 1000, 100.0 + (i % 2))
    assert vol.sigma() == pytest.approx(1.0)
    # samples closer than min_gap are ignored; a window drops old samples
    vol.add(29_050, 500.0)
    assert vol.sigma() == pytest.approx(1.0)
    for i in range(30, 200):
        vol.add(i * 1000, 100.0)
    assert vol.sigma() == pytest.approx(0.0)


# -- every inventory, every horizon -----------------------------------------------

Q_MAX = 3.0
# the limits exactly, around them, beyond them, and fractions (partial fills)
EDGES = [s * Q_MAX + d for s in (-1, 1) for d in (-1, -1e-9, 0.0, 1e-9, 0.5, 2)] + [0.0, 0.37]


def _check_sides(t: QuoteTarget) -> None:
    for price in (t.bid, t.ask, t.reservation):
        assert price is None or math.isfinite(price)
    if t.bid is not None and t.ask is not None:
        assert t.bid < t.ask


@pytest.mark.parametrize("q", EDGES)
@pytest.mark.parametrize("sigma", [0.0, 0.5, 40.0])
def test_every_horizon_quotes_at_every_inventory(q: float, sigma: float) -> None:
    """No inventory raises or gives a non-number, the limits included (the paper's
    reservation bid is -infinity at q_max: no bid there, the ask still quoted)."""
    inf = infinite_horizon_quotes(100.0, q, sigma, 0.1, 1.5, Q_MAX)
    _check_sides(inf)
    assert inf.ask is not None
    assert (inf.bid is None) is (q >= Q_MAX)
    for time_left in (0.0, 6.0, 86_400.0, -5.0):  # rolling, a session's start and end
        fin = finite_horizon_quotes(100.0, q, sigma, 0.1, 1.5, time_left)
        _check_sides(fin)
        assert fin.bid is not None and fin.ask is not None
    for t in (inf, fin):
        bid, ask = to_book_prices(t, INST, D("99.99"), D("100.01"))
        assert ask is not None and ask > 0
        assert bid is None or D(0) < bid < ask


@given(
    q=st.floats(-50, 50),
    q_max=st.floats(0.01, 20),
    sigma=st.floats(0, 1e3),
    gamma=st.floats(1e-6, 10),
    k=st.floats(1e-4, 100),
)
def test_infinite_horizon_never_raises(
    q: float, q_max: float, sigma: float, gamma: float, k: float
) -> None:
    t = infinite_horizon_quotes(100.0, q, sigma, gamma, k, q_max)
    _check_sides(t)
    assert (t.bid is None) is (q >= q_max) or t.bid is None  # -inf, or a log too deep


def test_session_time_left_counts_down_to_the_session_end() -> None:
    day = 86_400_000
    midnight = 1_700_006_400_000  # a UTC midnight
    assert midnight % day == 0
    end = 16 * 3600  # sessions end at 16:00 UTC
    assert session_time_left(midnight + end * 1000 - 1000, 86_400, end) == 1.0
    assert session_time_left(midnight + end * 1000, 86_400, end) == 86_400  # a new one starts
    assert session_time_left(midnight, 86_400, end) == end
    # 5-minute sessions ending on the hour and every 5 minutes after it
    assert session_time_left(midnight + 61_000, 300, 0) == 239
    left = [session_time_left(midnight + i * 7_000, 300, 0) for i in range(100)]
    assert all(0 < x <= 300 for x in left)


def _paper_run(paths: int, inventory: bool, seed: int) -> tuple[float, float, float]:
    """Section 3.3 of the paper: s0 = 100, T = 1, sigma = 2, dt = 0.005, gamma = 0.1,
    k = 1.5, A = 140; quotes from T - t counting down. Returns mean and std of the
    final profit and the std of the final inventory."""
    rng = random.Random(seed)
    T, sigma, dt, gamma, k, A = 1.0, 2.0, 0.005, 0.1, 1.5, 140.0
    step = sigma * math.sqrt(dt)
    profits, inventories = [], []
    for _ in range(paths):
        s, q, cash = 100.0, 0, 0.0
        for i in range(round(T / dt)):
            t = finite_horizon_quotes(s, q, sigma, gamma, k, T - i * dt)
            assert t.bid is not None and t.ask is not None
            if not inventory:  # the symmetric benchmark: same spread around the mid
                half = (t.ask - t.bid) / 2
                t = QuoteTarget(s, s - half, s + half)
                assert t.bid is not None and t.ask is not None
            if rng.random() < A * math.exp(-k * (t.ask - s)) * dt:
                q, cash = q - 1, cash + t.ask
            if rng.random() < A * math.exp(-k * (s - t.bid)) * dt:
                q, cash = q + 1, cash - t.bid
            s += step if rng.random() < 0.5 else -step
        profits.append(cash + q * s)
        inventories.append(q)
    return statistics.mean(profits), statistics.pstdev(profits), statistics.pstdev(inventories)


def test_the_papers_simulation_inventory_against_symmetric() -> None:
    """Table 1 (gamma = 0.1): the inventory strategy earns about as much as the
    symmetric one with a far smaller spread of profit and of final inventory.
    Paper: profit 62.94 (std 5.89), inventory std 2.80; symmetric 67.21 (13.43),
    8.66. Here, 1000 paths: about 65 (6.6), 2.9; symmetric 68 (13), 8.6."""
    profit, profit_std, q_std = _paper_run(1000, inventory=True, seed=3)
    sym_profit, sym_std, sym_q_std = _paper_run(1000, inventory=False, seed=3)
    assert profit == pytest.approx(62.94, rel=0.06)
    assert profit_std == pytest.approx(5.89, rel=0.2)
    assert q_std == pytest.approx(2.80, rel=0.1)
    assert sym_profit == pytest.approx(67.21, rel=0.05)
    assert sym_std == pytest.approx(13.43, rel=0.1)
    assert sym_q_std == pytest.approx(8.66, rel=0.1)


# -- on the sim -----------------------------------------------------------------

SYM = "BTC-PERP"
# the `mmtui emulate` parameters: quotes +-9.5 USD inside a crowd at +-15 (1.5 bp)
EMULATE: dict[str, Any] = dict(AS_PARAMS)


def as_config(params: dict[str, Any], *, takers: bool = False, volatility: float = 0.0) -> Any:
    strategy = {"name": "as", "kind": "avellaneda_stoikov", "params": params}
    return btc_sim_config(strategy, takers=takers, volatility=volatility, seed=4)


def quotes(runner: StrategyRunner, side: Side) -> list[Any]:
    return [o for o in runner.orders() if o.side is side and not o.cancel_requested]


async def give_position(s: Session, runner: StrategyRunner, size: D) -> None:
    """Move the strategy's inventory by ``size`` with an IOC through its own context."""
    book = s.engine.book("sim", SYM)
    assert book is not None
    before = runner.position("sim", SYM).size
    side = Side.BUY if size > 0 else Side.SELL
    touch = book.best_ask() if size > 0 else book.best_bid()
    assert touch is not None
    price = touch + 50 if size > 0 else touch - 50
    runner.place("sim", SYM, side, abs(size), price, time_in_force=TimeInForce.IOC, tag="test")
    await s.run_for(0.2)
    assert runner.position("sim", SYM).size == before + size


async def test_infinite_horizon_at_the_limit_keeps_quoting_the_reducing_side(
    make_session: Callable[..., Session],
) -> None:
    """The issue's halt: at q = q_max the reservation bid is -infinity. It quotes the
    ask (reduce-only) and no bid, tick after tick, never an error; both ways."""
    s = make_session(as_config({**EMULATE, "horizon": "infinite", "max_position": 0.01}))
    await s.start()
    try:
        runner = s.engine.runner("as")
        await s.run_for(7)  # warmed up, quoting
        assert quotes(runner, Side.BUY) and quotes(runner, Side.SELL)
        for size, kept, pulled in (
            (D("0.01"), Side.SELL, Side.BUY),
            (D("-0.02"), Side.BUY, Side.SELL),
        ):
            await give_position(s, runner, size)
            await s.run_for(10)
            assert runner.tick_errors == 0 and runner.state is StrategyState.RUNNING
            assert quotes(runner, pulled) == []
            live = quotes(runner, kept)
            assert len(live) == 1 and live[0].reduce_only
            assert "only" in str(runner.telemetry.values["state"])
    finally:
        await s.stop()


async def test_inventory_cap_stops_the_side_that_would_pass_it(
    make_session: Callable[..., Session],
) -> None:
    """Finite horizon, at max_position: the bid is pulled and none is placed while
    there (the model alone would still quote both sides); the ask goes reduce-only,
    and back to a plain quote once the position is under the limit again."""
    # requote_ticks wide: a quote is replaced here only for its reduce-only flag
    s = make_session(as_config({**EMULATE, "max_position": 0.02, "requote_ticks": 500}))
    await s.start()
    engine = s.engine
    try:
        runner = engine.runner("as")
        await s.run_for(7)
        await give_position(s, runner, D("0.02"))
        await s.run_for(1)
        placed = {o.client_id for o in engine.orders.all()}
        await s.run_for(10)
        new = [o for o in engine.orders.all() if o.client_id not in placed]
        assert [o for o in new if o.side is Side.BUY] == []
        assert quotes(runner, Side.BUY) == []
        (ask,) = quotes(runner, Side.SELL)
        assert ask.reduce_only and ask.size == D("0.01")
        await give_position(s, runner, D("-0.01"))
        await s.run_for(2)
        (ask,) = quotes(runner, Side.SELL)
        assert not ask.reduce_only  # not left over from the limit
        assert len(quotes(runner, Side.BUY)) == 1
    finally:
        await s.stop()


async def test_quotes_follow_the_market_not_themselves(
    make_session: Callable[..., Session],
) -> None:
    """The issue's case: its quotes are the touch (+-9.5 inside a crowd at +-15). A
    10 USD move of the market is followed within 3 s, centred on the market without
    our quotes (the plain book's mid is half ours and barely moves)."""
    s = make_session(as_config(EMULATE))
    await s.start()
    try:
        runner = s.engine.runner("as")
        await s.run_for(7)
        (bid,) = quotes(runner, Side.BUY)
        (ask,) = quotes(runner, Side.SELL)
        book = s.engine.book("sim", SYM)
        assert book is not None
        assert (book.best_bid(), book.best_ask()) == (bid.price, ask.price)  # we are the touch
        s.world.market.shock("BTC", 0.0001)  # type: ignore[union-attr]
        fair = D(str(s.world.market.mid("sim", "BTC")))  # type: ignore[union-attr]
        await s.run_for(3)
        (bid,) = quotes(runner, Side.BUY)
        (ask,) = quotes(runner, Side.SELL)
        assert abs((bid.price + ask.price) / 2 - fair) <= D(1)
    finally:
        await s.stop()


async def test_rejected_quotes_back_off(make_session: Callable[..., Session]) -> None:
    """Every quote refused (risk REDUCING, flat): it backs off 0.5, 1, 2 ... 10 s per
    side instead of retrying every tick (the issue: 120 rejects in 30 s), says so,
    and quotes again soon after the refusals stop."""
    s = make_session(as_config(EMULATE))
    await s.start()
    engine = s.engine
    try:
        runner = engine.runner("as")
        await s.run_for(7)
        engine.pause_strategy("as")
        engine.risk.set_state(RiskState.REDUCING, "test")
        engine.resume_strategy("as")
        await s.run_for(30)
        rejects = runner.telemetry.counters.get("rejects", 0)
        assert 4 <= rejects <= 16  # 2 sides x (0.5, 1, 2, 4, 8, 10, 10 s)
        assert "back-off" in str(runner.telemetry.values["state"])
        assert runner.state is StrategyState.RUNNING and runner.orders() == []
        engine.reset_risk()
        await s.run_for(11)
        assert len(quotes(runner, Side.BUY)) == len(quotes(runner, Side.SELL)) == 1
    finally:
        await s.stop()


async def test_session_horizon_narrows_toward_the_session_end(
    make_session: Callable[..., Session],
) -> None:
    """horizon: session -- T - t counts down to the end of each 60 s session: the
    variance term of the spread shrinks toward it and is back in full after it."""
    params = {
        **EMULATE,
        "horizon": "session",
        "session_secs": 60,
        "session_end_utc": "00:00",
        "gamma": 0.05,
        "max_position": 1,
        "window_secs": 20,
    }
    start = 1_700_006_400_000 + 40_000  # 40 s into a session (a UTC midnight + 40 s)
    s = make_session(as_config(params, takers=True, volatility=2.0), start_ms=start)
    await s.start()
    try:
        runner = s.engine.runner("as")
        strat: AvellanedaStoikov = runner.strategy  # type: ignore[assignment]
        spreads: dict[float, float] = {}
        for _ in range(80):
            await s.run_for(0.5)
            tel = runner.telemetry.values
            if tel.get("spread") is not None:
                spreads[float(tel["time_left_s"])] = float(tel["spread"])  # type: ignore[arg-type]
            left = strat.time_left(s.engine.clock.now_ms())
            assert left == session_time_left(s.engine.clock.now_ms(), 60, 0)
        near_end = [v for t, v in spreads.items() if t <= 3]
        fresh = [v for t, v in spreads.items() if t >= 55]
        assert near_end and fresh
        assert min(fresh) > max(near_end) * 1.5
        assert runner.tick_errors == 0
    finally:
        await s.stop()
