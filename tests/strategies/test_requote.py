"""Event-driven quoting: a book change that moves the reference requotes at once,
not on the next tick; cycles stay ``requote_min_interval_ms`` apart; a move under
``requote_move_ticks`` does nothing; both sides of a quote go in the same call."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from decimal import Decimal as D
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.base import Side
from mmtui.session import Session
from strategies.avellaneda_stoikov import ASParams
from strategies.perp_market_maker import PerpMarketMakerParams
from strategies.requote import RequoteGate
from strategies.telemetry import Telemetry

from ..conftest import AS_PARAMS, btc_sim_config

SLOW_TICK_MS = 60_000
"""A tick so slow that anything quoted between ticks was quoted by a book change."""
AS_TICK_MS = 2_000
"""AS needs ten mids to warm up: ticks of 2 s (a quiet sim has no book changes), and
each case starts right after a tick, so the next one is 2 s away."""


class Ctx:
    """The little of a StrategyContext the gate uses, with timers run by hand."""

    def __init__(self) -> None:
        self.now = 0
        self.running = True
        self.telemetry = Telemetry()
        self.timers: list[tuple[int, Callable[[], None]]] = []

    def now_ms(self) -> int:
        return self.now

    def call_later(self, delay_ms: int, callback: Callable[[], None]) -> None:
        self.timers.append((self.now + delay_ms, callback))

    def advance(self, to_ms: int) -> None:
        self.now = to_ms
        due = [t for t in self.timers if t[0] <= to_ms]
        self.timers = [t for t in self.timers if t[0] > to_ms]
        for _, callback in due:
            callback()


def _gate(interval_ms: int = 100, ticks: int = 2) -> tuple[RequoteGate, Ctx, list[int]]:
    ctx = Ctx()
    cycles: list[int] = []

    def cycle(now_ms: int) -> None:
        cycles.append(now_ms)
        gate.cycled(now_ms, D(mid[0]))

    mid = ["100.00"]
    gate = RequoteGate(
        ctx,  # type: ignore[arg-type]
        cycle,
        tick_size=D("0.01"),
        min_interval_ms=interval_ms,
        move_ticks=ticks,
    )
    gate.cycled(0, D("100.00"))  # a tick quoted at 0
    gate._mid = mid  # type: ignore[attr-defined]
    return gate, ctx, cycles


def _book(gate: RequoteGate, ctx: Ctx, at_ms: int, mid: str) -> None:
    ctx.advance(at_ms)
    gate._mid[0] = mid  # type: ignore[attr-defined]
    gate.on_book(at_ms, D(mid))


def test_gate_threshold_interval_and_deferral() -> None:
    gate, ctx, cycles = _gate(interval_ms=100, ticks=2)
    _book(gate, ctx, 150, "100.01")  # one tick: under the threshold
    assert cycles == []
    _book(gate, ctx, 160, "100.02")  # two ticks, the interval long over: now
    assert cycles == [160]
    _book(gate, ctx, 170, "100.05")  # moved, inside the interval: put off to 260
    _book(gate, ctx, 180, "100.09")  # one timer at a time
    assert cycles == [160] and [t for t, _ in ctx.timers] == [260]
    ctx.advance(260)  # the interval is over: the cycle runs on the book as it is now
    assert cycles == [160, 260] and gate.last_ref == D("100.09")
    _book(gate, ctx, 400, "100.10")  # one tick from the last quote: nothing
    assert cycles == [160, 260]
    assert gate.book_cycles == 2 and ctx.telemetry.counters["book_requotes"] == 2


def test_gate_off_paused_or_after_a_tick() -> None:
    gate, ctx, cycles = _gate(interval_ms=100, ticks=1)
    gate.enabled = False
    _book(gate, ctx, 500, "101.00")
    assert cycles == []
    gate.enabled, ctx.running = True, False
    _book(gate, ctx, 600, "102.00")
    assert cycles == []  # a paused strategy places nothing
    ctx.running = True
    _book(gate, ctx, 700, "103.00")
    gate.cycled(705, D("103.00"))  # a tick: it does not hold book changes back...
    _book(gate, ctx, 710, "103.00")  # ...but moves are measured from it: nothing
    assert cycles == [700] and ctx.timers == []
    _book(gate, ctx, 720, "104.00")  # put off to 800
    ctx.advance(800)
    assert cycles == [700, 800]


def test_params_are_validated() -> None:
    for cls in (ASParams, PerpMarketMakerParams):
        with pytest.raises(ValidationError, match="requote_move_ticks"):
            cls.model_validate({"requote_move_ticks": 0})
        with pytest.raises(ValidationError, match="requote_min_interval_ms"):
            cls.model_validate({"requote_min_interval_ms": -1})
        p = cls.model_validate({})
        assert (p.requote_on_book, p.requote_min_interval_ms, p.requote_move_ticks) == (
            True,
            100,
            1,
        )


# -- on the sim ---------------------------------------------------------------


def _as_config(volatility: float = 0.0, **params: Any) -> Any:
    strategy = {
        "name": "as",
        "kind": "avellaneda_stoikov",
        "params": {**AS_PARAMS, "tick_interval_ms": AS_TICK_MS, "warmup_secs": 0, **params},
    }
    if volatility:  # a moving market: its book changes every step
        return btc_sim_config(strategy, volatility=volatility, seed=4)
    return btc_sim_config(strategy, takers=False)


async def _first_quotes(s: Session, name: str) -> list[Any]:
    """Run until AS quotes (warmed up), then to just after a tick."""
    runner = s.engine.runner(name)
    for _ in range(400):
        if len(runner.orders()) == 2:
            break
        await s.run_for(0.1)
    ticks = runner.ticks
    while runner.ticks == ticks:
        await s.run_for(0.1)
    quotes = runner.orders()
    assert len(quotes) == 2
    return quotes


@pytest.mark.parametrize("on_book", [True, False])
async def test_as_requotes_on_a_book_move_without_the_tick(
    make_session: Callable[..., Session], on_book: bool
) -> None:
    s = make_session(_as_config(requote_on_book=on_book, requote_ticks=1))
    await s.start()
    try:
        runner = s.engine.runner("as")
        before = {o.client_id for o in await _first_quotes(s, "as")}
        shocked_ms = s.clock.now_ms()
        s.world.market.shock("BTC", 0.001)  # type: ignore[union-attr]  # +100: 1000 ticks
        ticks = runner.ticks
        await s.run_for(1)  # less than a tick
        assert runner.ticks == ticks
        fresh = [o for o in runner.orders() if o.client_id not in before]
        if not on_book:  # the tick-driven strategy waits for its next tick
            assert fresh == []
            return
        assert {o.side.value for o in fresh} == {"buy", "sell"}
        # both sides in the same call, within a step or two of the move
        assert len({o.created_ms for o in fresh}) == 1
        assert fresh[0].created_ms - shocked_ms <= 300
        assert runner.telemetry.counters["book_requotes"] >= 1
    finally:
        await s.stop()


async def test_as_holds_the_min_interval_on_a_busy_book(
    make_session: Callable[..., Session],
) -> None:
    """The market moves every 100 ms step; cycles come at most one per second."""
    s = make_session(_as_config(2.0, requote_min_interval_ms=1000, requote_ticks=1))
    await s.start()
    try:
        runner = s.engine.runner("as")
        strategy = runner.strategy
        await _first_quotes(s, "as")
        cycles: list[tuple[int, str]] = []
        original = strategy._quote  # type: ignore[attr-defined]

        def by(kind: str) -> Callable[[int], None]:
            def quote(now_ms: int) -> None:
                cycles.append((now_ms, kind))
                original(now_ms)

            return quote

        strategy.gate._cycle = by("book")  # type: ignore[attr-defined]
        strategy._quote = by("tick")  # type: ignore[attr-defined]  # what on_tick calls
        await s.run_for(6)
        books = [t for t, kind in cycles if kind == "book"]
        assert len(books) >= 4, cycles  # the book moves every step: a cycle a second
        # book-driven cycles are never within 1 s of each other (ticks run on their own)
        assert all(b - a >= 1000 for a, b in itertools.pairwise(books)), cycles
        assert len(books) <= 7  # 6 s
    finally:
        await s.stop()


async def test_as_ignores_moves_under_the_threshold(make_session: Callable[..., Session]) -> None:
    s = make_session(_as_config(requote_move_ticks=5000))
    await s.start()
    try:
        runner = s.engine.runner("as")
        before = {o.client_id for o in await _first_quotes(s, "as")}
        cycles = runner.telemetry.counters.get("book_requotes", 0)
        s.world.market.shock("BTC", 0.001)  # type: ignore[union-attr]  # 1000 ticks < 5000
        await s.run_for(1)  # less than a tick
        assert {o.client_id for o in runner.orders()} == before
        assert runner.telemetry.counters.get("book_requotes", 0) == cycles
    finally:
        await s.stop()


async def test_pmm_moves_both_sides_together_on_a_book_move(
    make_session: Callable[..., Session],
) -> None:
    """The ladder walks on the book change (no median window), both sides in one call;
    the levels the position limit held back while the old ones were on their way
    out are placed once those are gone, not a tick later."""
    params = {
        "order_quantity": 0.01,
        "max_position": 0.03,  # three levels fill the limit: a walk must wait for cancels
        "tick_interval_ms": SLOW_TICK_MS,
        "mid_window_ms": 0,
    }
    strategy = {"name": "pmm", "kind": "perp_market_maker", "params": params}
    s = make_session(btc_sim_config(strategy, takers=False))
    await s.start()
    try:
        runner = s.engine.runner("pmm")
        before = {o.client_id for o in runner.orders()}  # quoted at start
        assert len(before) == 6
        shocked_ms = s.clock.now_ms()
        # 8 bps down: inside the ladder's 10 bps, most levels move (the crowd's asks
        # come no nearer than 1.5 bps to the new mid: nothing crosses)
        s.world.market.shock("BTC", -0.0008)  # type: ignore[union-attr]
        await s.run_for(2)  # far less than a tick
        live = runner.orders()
        fresh = [o for o in live if o.client_id not in before]
        assert sorted(o.side.value for o in live) == ["buy"] * 3 + ["sell"] * 3
        first = {side: min(o.created_ms for o in fresh if o.side is side) for side in Side}
        assert first[Side.BUY] == first[Side.SELL]  # the sides went together
        assert max(o.created_ms for o in fresh) - shocked_ms < 1000
        assert runner.ticks == 0
    finally:
        await s.stop()
