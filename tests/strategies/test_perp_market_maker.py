"""Perp market maker: ladder math by hand, then its behaviour on the sim venue."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.base import Instrument, Side, TimeInForce
from mmtui.config import Config, ConfigError, load_config
from mmtui.core.risk import RiskState
from mmtui.core.runner import StrategyRunner, StrategyState
from mmtui.session import Session
from strategies.external_book import external_touch
from strategies.perp_market_maker import (
    PerpMarketMakerParams,
    ladder_prices,
    match_levels,
    normalized_inventory,
)

from ..conftest import btc_sim_config

INST = Instrument("v", "X-PERP", "X", "USDC", D("0.01"), D("0.001"), D("0.001"))
SYM = "BTC-PERP"
NAME = "pmm"

# -- pure helpers ---------------------------------------------------------------


def test_ladder_prices_by_hand() -> None:
    # centre 100, half spread 0.1 % (base_spread_pct 0.2), spacing 5 bps
    bids, asks = ladder_prices(D(100), 3, D("0.001"), D("0.0005"), INST, D("99.99"), D("100.01"))
    assert bids == [D("99.90"), D("99.85"), D("99.80")]
    assert asks == [D("100.10"), D("100.15"), D("100.20")]
    # passive rounding: bids down, asks up
    bids, asks = ladder_prices(D("100.003"), 1, D("0.001"), D("0.0005"), INST, None, None)
    assert bids == [D("99.90")] and asks == [D("100.11")]


def test_ladder_stays_behind_the_opposite_touch_and_levels_stay_distinct() -> None:
    # a centre skewed through the ask: every bid at least a tick under it, a tick apart
    bids, asks = ladder_prices(D(101), 3, D("0.0001"), D("0.00001"), INST, D("99.99"), D("100.01"))
    assert bids == [D("100.00"), D("99.99"), D("99.98")]
    assert asks[0] > D("100.01")
    bids, asks = ladder_prices(D(99), 3, D("0.0001"), D("0.00001"), INST, D("99.99"), D("100.01"))
    assert asks == [D("100.00"), D("100.01"), D("100.02")]


def test_inventory_is_signed_against_the_target() -> None:
    assert normalized_inventory(D("0.5"), D(0), D(1)) == D("0.5")
    # short target, flat: "too long" by 0.5 -> quotes shift down, selling is favoured
    assert normalized_inventory(D(0), D("-0.5"), D(1)) == D("0.5")
    # at the short target: on target, no skew (the original counted |-0.5| as +0.5)
    assert normalized_inventory(D("-0.5"), D("-0.5"), D(1)) == 0
    assert normalized_inventory(D(-3), D(0), D(1)) == D(-1)


def test_external_touch_skips_our_own_size() -> None:
    levels = [(1000, 5), (999, 7)]
    assert external_touch(levels, {}) == 1000
    assert external_touch(levels, {1000: 5}) == 999
    assert external_touch(levels, {1000: 2}) == 1000
    assert external_touch(levels, {1000: 5, 999: 7}) is None


@dataclass
class _O:
    price: D
    created_ms: int = 0


def test_match_levels_keeps_orders_across_levels() -> None:
    live = [_O(D("99.90"), 1), _O(D("99.85"), 2), _O(D("99.80"), 3)]
    # mid up by one spacing: old L0 serves as L1, old L1 as L2, old L2 goes
    wanted = [D("99.95"), D("99.90"), D("99.85")]
    kept, leftovers = match_levels(wanted, live, D("0.02"))  # type: ignore[arg-type]
    assert {j: o.price for j, o in kept.items()} == {1: D("99.90"), 2: D("99.85")}
    assert [o.price for o in leftovers] == [D("99.80")]
    # within tolerance is kept, outside is not
    kept, leftovers = match_levels([D("99.91")], [_O(D("99.90"))], D("0.01"))  # type: ignore[list-item]
    assert 0 in kept and not leftovers
    kept, leftovers = match_levels([D("99.92")], [_O(D("99.90"))], D("0.01"))  # type: ignore[list-item]
    assert not kept and len(leftovers) == 1


def test_params_validation() -> None:
    with pytest.raises(ValidationError, match="max_position"):
        PerpMarketMakerParams(target_position=D("-1"), max_position=D(1))
    with pytest.raises(ValidationError, match="position_threshold"):
        PerpMarketMakerParams(position_threshold=D(2), max_position=D(1))
    with pytest.raises(ValidationError, match="order_quantity"):
        PerpMarketMakerParams(order_quantity=D(2), max_position=D(1))
    with pytest.raises(ValidationError, match="requote_bps"):
        PerpMarketMakerParams(requote_bps=D(3), level_spacing_bps=D(5))
    with pytest.raises(ValidationError, match="inventory_skew_bps"):
        PerpMarketMakerParams.model_validate({"inventory_skew": 0.01})
    with pytest.raises(ValidationError, match="tick_interval_ms"):
        PerpMarketMakerParams.model_validate({"tick_interval_secs": 15})
    for bad in ({"max_position": 0}, {"order_quantity": 0}, {"max_orders": 0}, {"oops": 1}):
        with pytest.raises(ValidationError):
            PerpMarketMakerParams.model_validate(bad)
    p = PerpMarketMakerParams(target_position=D("-0.5"))  # a signed target is fine
    assert p.target_position == D("-0.5") and p.tick_interval_ms == 1000


def test_bad_param_in_a_config_file_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "strategies:\n"
        "  - {name: pmm, kind: perp_market_maker, venue: sim, symbol: BTC-PERP,\n"
        "     params: {target_position: 2, max_position: 1}}\n"
    )
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    msg = str(err.value)
    assert "\n" not in msg
    assert "strategies[0] (pmm).params" in msg and "target_position" in msg


def test_example_config_is_valid() -> None:
    example = Path(__file__).parents[2] / "examples" / "perp_market_maker.yaml"
    config, _ = load_config(example, env={})
    assert [s.kind for s in config.strategies] == ["perp_market_maker"]


# -- on the sim ---------------------------------------------------------------

# Tight ladder: level 0 one bp from mid, inside the sim crowd (1.5 bp), so it fills.
TIGHT: dict[str, Any] = {
    "order_quantity": 0.01,
    "max_position": 0.05,
    "position_threshold": 0.03,
    "base_spread_pct": 0.02,
    "level_spacing_bps": 2,
    "requote_bps": 0.5,
}
# Wide ladder: 10 bps and more from mid, behind the crowd: no fills.
WIDE: dict[str, Any] = {"order_quantity": 0.01, "max_position": 0.05}


def pmm_config(
    params: dict[str, Any],
    *,
    volatility: float = 0.0,
    takers: bool = True,
    journal: bool = False,
    seed: int = 5,
) -> Config:
    strategy = {"name": NAME, "kind": "perp_market_maker", "params": params}
    return btc_sim_config(
        strategy, takers=takers, volatility=volatility, seed=seed, journal=journal
    )


def _ladder(runner: StrategyRunner, side: Side) -> list[Any]:
    return sorted(
        (
            o
            for o in runner.orders()
            if o.side is side and not o.cancel_requested and o.tag.startswith("L")
        ),
        key=lambda o: o.price,
    )


def _venue(s: Session) -> Any:
    return s.world.venues["sim"]  # type: ignore[union-attr]


def _counts(runner: StrategyRunner) -> dict[str, int]:
    return dict(runner.telemetry.counters)


async def test_still_mid_keeps_queue_priority(make_session: Callable[..., Session]) -> None:
    """Held mid, takers trading against the ladder: filled levels are re-placed,
    nothing is cancelled or replaced, unfilled quotes keep their client ids."""
    s = make_session(pmm_config({**TIGHT, "max_position": 1, "position_threshold": 0.5}))
    await s.start()
    try:
        runner = s.engine.runner(NAME)
        await s.run_for(2)
        survivors = {o.client_id for o in runner.orders()}
        assert len(survivors) >= 4  # level 0 may have filled already
        for _ in range(60):
            await s.run_for(1)
            live = runner.orders()
            survivors &= {o.client_id for o in live}
            assert len(_ladder(runner, Side.BUY)) <= 3 and len(_ladder(runner, Side.SELL)) <= 3
        c = s.engine.orders.counters
        assert c.fills > 20  # takers did trade with it
        assert c.cancel_requests == 0
        assert _counts(runner).get("cancels", 0) == 0
        # every order it ever placed either filled completely or is still resting
        assert c.placed == c.filled + len(runner.orders())
        assert survivors  # the outer levels never moved in the queue
    finally:
        report = await s.stop()
    assert report.ok and report.open_orders_left == 0


async def test_ladder_walks_when_mid_moves(make_session: Callable[..., Session]) -> None:
    # the sim's crowd refills its levels over several 100 ms steps after a jump: the
    # cycle after a hold comes a second later, on the settled book
    s = make_session(pmm_config({**WIDE, "requote_min_interval_ms": 1000}, takers=False))
    await s.start()
    try:
        runner = s.engine.runner(NAME)
        c = s.engine.orders.counters
        await s.run_for(3)
        bids0 = [o.price for o in _ladder(runner, Side.BUY)]
        asks0 = [o.price for o in _ladder(runner, Side.SELL)]
        assert bids0 == [D("99800.0"), D("99850.0"), D("99900.0")]
        assert asks0 == [D("100100.0"), D("100150.0"), D("100200.0")]
        ids0 = {o.client_id: o.price for o in runner.orders()}
        await s.run_for(10)
        assert (c.placed, c.cancel_requests) == (6, 0)

        # up by exactly one level spacing (5 bps): each side drops one level and
        # adds one; the other two quotes keep their place in the queue
        s.world.market.shock("BTC", 0.0005)  # type: ignore[union-attr]
        await s.run_for(5)
        assert (c.placed, c.cancel_requests) == (8, 2)
        kept = {o.client_id for o in runner.orders()} & set(ids0)
        assert {ids0[i] for i in kept} == {
            D("99850.0"),
            D("99900.0"),
            D("100150.0"),
            D("100200.0"),
        }
        assert max(o.price for o in _ladder(runner, Side.BUY)) == D("99949.9")  # new level 0
        assert max(o.price for o in _ladder(runner, Side.SELL)) == D("100250.1")  # new level 2

        # a 20 bps drop: nothing fits any more, the whole ladder walks, once
        s.world.market.shock("BTC", -0.002)  # type: ignore[union-attr]
        await s.run_for(5)
        assert (c.placed, c.cancel_requests) == (14, 8)
        assert _counts(runner).get("cancels_requote") == 8
        mid = D(str(s.world.market.mid("sim", "BTC")))  # type: ignore[union-attr]
        bids = [o.price for o in _ladder(runner, Side.BUY)]
        asks = [o.price for o in _ladder(runner, Side.SELL)]
        assert len(bids) == len(asks) == 3
        tolerance = mid * 2 / 10_000  # requote_bps
        assert abs(max(bids) - mid * D("0.999")) <= tolerance
        assert abs(min(asks) - mid * D("1.001")) <= tolerance
        await s.run_for(10)
        assert (c.placed, c.cancel_requests) == (14, 8)  # and then it sits still again
    finally:
        await s.stop()


async def test_quotes_at_the_touch_follow_the_market_not_themselves(
    make_session: Callable[..., Session],
) -> None:
    """Level 0 one bp from mid is inside the crowd (1.5 bp): its quotes are the touch.
    A 1 bp move of the market moves the plain book's mid by a quarter of that (half
    of it is ours); the mid it quotes around is the market's without its own orders,
    so the ladder re-centres on the new price."""
    s = make_session(pmm_config({**TIGHT, "max_orders": 1}, takers=False))
    await s.start()
    try:
        runner = s.engine.runner(NAME)
        await s.run_for(3)
        book = s.engine.book("sim", SYM)
        assert book is not None
        (bid,), (ask,) = _ladder(runner, Side.BUY), _ladder(runner, Side.SELL)
        assert (book.best_bid(), book.best_ask()) == (bid.price, ask.price)  # we are the touch
        s.world.market.shock("BTC", 0.0001)  # type: ignore[union-attr]
        fair = D(str(s.world.market.mid("sim", "BTC")))  # type: ignore[union-attr]
        await s.run_for(4)  # the median window (2 s) turns over
        (bid,), (ask,) = _ladder(runner, Side.BUY), _ladder(runner, Side.SELL)
        assert abs((bid.price + ask.price) / 2 - fair) <= D(1)
    finally:
        await s.stop()


async def test_stays_within_max_position(make_session: Callable[..., Session]) -> None:
    params = {**TIGHT, "inventory_skew_bps": 1}
    s = make_session(pmm_config(params, volatility=0.6, seed=3))
    await s.start()
    try:
        runner = s.engine.runner(NAME)
        limit = D("0.05")
        worst = D(0)
        for _ in range(240):
            await s.run_for(0.5)
            pos = runner.position("sim", SYM).size
            worst = max(worst, abs(pos))
            assert abs(pos) <= limit
            for side in Side:
                # the limit counts open orders: everything on a side filling stays inside
                exposure = side.sign * pos + sum(
                    (o.remaining for o in runner.orders() if o.side is side), D(0)
                )
                assert exposure <= limit
                assert len(_ladder(runner, side)) <= 3
        assert worst >= D("0.04")  # it was pushed against the limit
        assert s.engine.summary().fills > 50
        assert runner.tick_errors == 0 and runner.state is StrategyState.RUNNING
        venue_pos = {p.symbol: p.size for p in _venue(s).positions("me")}
        assert venue_pos.get(SYM, D(0)) == runner.position("sim", SYM).size
    finally:
        await s.stop()


async def test_negative_target_accumulates_a_short(make_session: Callable[..., Session]) -> None:
    params = {**TIGHT, "target_position": -0.03, "position_threshold": 0.01}
    s = make_session(pmm_config(params))
    await s.start()
    try:
        runner = s.engine.runner(NAME)
        await s.run_for(0.5)
        # flat and 0.03 too long for the target: no bids, a plain (not reduce-only) sell
        control = [o for o in runner.orders() if o.tag == "target"]
        assert len(control) == 1
        assert control[0].side is Side.SELL and not control[0].reduce_only
        assert control[0].size == D("0.03")
        assert _ladder(runner, Side.BUY) == []
        highest = lowest = D(0)
        for _ in range(60):
            await s.run_for(1)
            pos = runner.position("sim", SYM).size
            highest, lowest = max(highest, pos), min(lowest, pos)
        assert highest <= 0  # never long
        assert lowest <= D("-0.03")
        assert abs(runner.position("sim", SYM).size + D("0.03")) <= D("0.02")
    finally:
        await s.stop()


async def _buy_position(s: Session, runner: StrategyRunner, size: D) -> None:
    """Give the strategy inventory: an IOC buy through its own context."""
    book = s.engine.book("sim", SYM)
    assert book is not None
    ask = book.best_ask()
    assert ask is not None
    runner.place("sim", SYM, Side.BUY, size, ask + 50, time_in_force=TimeInForce.IOC, tag="test")
    await s.run_for(0.2)
    assert runner.position("sim", SYM).size == size


async def test_reduce_only_past_threshold_then_escalation(
    make_session: Callable[..., Session],
) -> None:
    params = {**WIDE, "position_threshold": 0.005, "reduce_escalate_secs": 10}
    s = make_session(pmm_config(params, takers=False))
    await s.start()
    try:
        runner = s.engine.runner(NAME)
        await s.run_for(2)
        await _buy_position(s, runner, D("0.02"))
        await s.run_for(1.5)
        reduce = [o for o in runner.orders() if o.tag == "reduce"]
        assert len(reduce) == 1
        r = reduce[0]
        assert r.side is Side.SELL and r.reduce_only and r.post_only and r.size == D("0.02")
        book = s.engine.book("sim", SYM)
        assert book is not None and r.price == book.best_ask()  # passive, at the touch
        assert _ladder(runner, Side.BUY) == []  # the side moving away from target is pulled
        assert 1 <= len(_ladder(runner, Side.SELL)) <= 2  # max_orders - 1 next to the control
        assert runner.telemetry.values["state"] == "reducing to target"
        # no taker ever comes: after reduce_escalate_secs it crosses, reduce-only IOC
        await s.run_for(10)
        assert runner.position("sim", SYM).size == 0
        assert _counts(runner).get("escalations") == 1
        assert [o for o in runner.orders() if o.reduce_only] == []
        await s.run_for(3)
        assert len(_ladder(runner, Side.BUY)) == len(_ladder(runner, Side.SELL)) == 3
    finally:
        await s.stop()


async def test_pause_resume_flatten(make_session: Callable[..., Session]) -> None:
    s = make_session(pmm_config(TIGHT))
    await s.start()
    engine = s.engine
    try:
        runner = engine.runner(NAME)
        for _ in range(60):
            await s.run_for(1)
            if runner.position("sim", SYM).size != 0:
                break
        assert runner.position("sim", SYM).size != 0
        engine.pause_strategy(NAME)
        await s.run_for(2)
        assert runner.orders() == [] and _venue(s).open_orders("me") == []
        assert runner.telemetry.values["state"] == "paused"
        await s.run_for(5)
        assert runner.orders() == []  # nothing placed while paused
        engine.resume_strategy(NAME)
        await s.run_for(1.5)
        assert len(_ladder(runner, Side.BUY)) >= 1 and len(_ladder(runner, Side.SELL)) >= 1
        report = await engine.flatten(strategy=NAME)
        assert report.ok, [str(line) for line in report.lines]
        assert runner.position("sim", SYM).size == 0
        assert runner.state is StrategyState.PAUSED
        assert _venue(s).open_orders("me") == []
    finally:
        report = await s.stop()
    assert report.ok and report.open_orders_left == 0


async def test_kill_switch_while_working_a_control_order(
    make_session: Callable[..., Session],
) -> None:
    s = make_session(pmm_config({**WIDE, "position_threshold": 0.005}, takers=False))
    await s.start()
    try:
        runner = s.engine.runner(NAME)
        await s.run_for(2)
        await _buy_position(s, runner, D("0.02"))
        await s.run_for(1.5)
        assert any(o.tag == "reduce" for o in runner.orders())
        report = await s.engine.kill_switch()
        assert report.ok, [str(line) for line in report.lines]
        assert runner.state is StrategyState.PAUSED
        assert s.engine.positions.get(("sim", SYM)).size == 0
        assert all(p.size == 0 for p in _venue(s).positions("me"))
        assert _venue(s).open_orders("me") == []
        await s.run_for(3)
        assert runner.orders() == []
    finally:
        await s.stop()


async def test_rejects_back_off_instead_of_retrying_every_cycle(
    make_session: Callable[..., Session],
) -> None:
    s = make_session(pmm_config(WIDE, takers=False))
    await s.start()
    engine = s.engine
    try:
        runner = engine.runner(NAME)
        await s.run_for(2)
        engine.pause_strategy(NAME)
        engine.risk.set_state(RiskState.REDUCING, "test")  # only reducing orders pass
        engine.resume_strategy(NAME)
        await s.run_for(30)
        rejects = _counts(runner).get("rejects", 0)
        # 30 cycles of 6 levels would be 180 attempts; it backs off 1, 2, 4, 8, 10 s
        assert 3 <= rejects <= 8
        assert _counts(runner).get("backoffs", 0) >= 2
        assert runner.state is StrategyState.RUNNING and runner.orders() == []
        engine.reset_risk()
        await s.run_for(12)
        assert len(_ladder(runner, Side.BUY)) == len(_ladder(runner, Side.SELL)) == 3
    finally:
        await s.stop()


async def test_restart_rebuilds_from_its_live_orders(
    make_session: Callable[..., Session], restart_session: Callable[..., Any]
) -> None:
    cfg = pmm_config(WIDE, takers=False, journal=True)
    old = make_session(cfg)
    await old.start()
    await old.run_for(5)
    before = {o.client_id: (o.side, o.price, o.tag) for o in old.engine.runner(NAME).orders()}
    assert len(before) == 6
    assert {tag for _, _, tag in before.values()} == {"L0", "L1", "L2"}
    new = await restart_session(old)
    try:
        runner = new.engine.runner(NAME)
        assert runner.telemetry.values["adopted"] == 6
        assert {o.client_id: (o.side, o.price, o.tag) for o in runner.orders()} == before
        await new.run_for(5)
        c = new.engine.orders.counters
        assert (c.placed, c.cancel_requests) == (0, 0)  # kept, not cancelled and reposted
        assert {o.client_id for o in _venue(new).open_orders("me")} == set(before)
        # rebuilt, not frozen: a move still walks the adopted ladder
        new.world.market.shock("BTC", 0.0005)  # type: ignore[union-attr]
        await new.run_for(5)
        assert (c.placed, c.cancel_requests) == (2, 2)
    finally:
        report = await new.stop()
    assert report.ok and report.open_orders_left == 0


async def test_preview_shows_the_ladder_and_the_control_order(session: Session) -> None:
    await session.run_for(2)
    engine = session.engine
    book = engine.book("sim", SYM)
    assert book is not None
    mid = book.mid()
    assert mid is not None
    planned = engine.preview_strategy("perp_market_maker", "sim", SYM, WIDE)
    assert [(p.side, p.note) for p in planned] == [
        (Side.BUY, "L0"),
        (Side.BUY, "L1"),
        (Side.BUY, "L2"),
        (Side.SELL, "L0"),
        (Side.SELL, "L1"),
        (Side.SELL, "L2"),
    ]
    assert all(p.post_only and p.size == D("0.01") for p in planned)
    assert all((p.price < mid) is (p.side is Side.BUY) for p in planned)  # type: ignore[operator]
    short = engine.preview_strategy(
        "perp_market_maker", "sim", SYM, {**WIDE, "target_position": -0.03}
    )
    assert short[0].note == "target" and short[0].side is Side.SELL and not short[0].reduce_only
    assert [p.side for p in short[1:]] == [Side.SELL, Side.SELL]  # no bids: moving to a short
    assert not any((o.strategy or "").startswith("preview") for o in engine.orders.all())
