"""The stale-position guard on the sim: after a reconnect the venue holds a position
our fills do not show (its history does not return the fill yet). The strategy on
that market is paused -- not quoting on an inventory that is not there -- until
venue and fills agree again; the operator may override."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal as D
from typing import Any

import pytest

from connectors.base import Side, TimeInForce
from mmtui.core.runner import StrategyRunner, StrategyState
from mmtui.session import Session

from .conftest import sim_config

SYM = "BTC-PERP"


def _quotes(runner: StrategyRunner) -> list[Any]:
    return [o for o in runner.orders() if not o.cancel_requested]


def _events(s: Session, kind: str) -> list[str]:
    return [detail for _, k, detail in s.engine.events if k == kind]


async def _missed_fill(
    s: Session, runner: StrategyRunner, monkeypatch: pytest.MonkeyPatch
) -> Callable[[], None]:
    """A fill the stream drops and the venue's history does not show yet; returns the
    call that lets the history catch up."""
    conn: Any = s.engine.connectors["sim"]
    history = conn.fills_since

    async def blind(since_ms: int, symbol: str | None = None) -> list[Any]:
        return []

    monkeypatch.setattr(conn, "fills_since", blind)
    conn.drop_stream_on_next_fill = True
    book = s.engine.book("sim", SYM)
    ask = book.best_ask() if book is not None else None
    assert ask is not None
    runner.place("sim", SYM, Side.BUY, D("0.01"), ask + 50, time_in_force=TimeInForce.IOC)
    await s.run_for(2)  # the stream drops around the fill and is back after 0.5 s
    return lambda: monkeypatch.setattr(conn, "fills_since", history)


@pytest.fixture
async def quoting(make_session: Callable[..., Session]) -> AsyncIterator[Session]:
    """AS quoting on the sim, reconciling every 5 s."""
    s = make_session(sim_config(orders={"reconcile_interval_s": 5}))
    await s.start()
    try:
        await s.run_for(7)
        assert s.engine.runner("as_btc").orders()
        yield s
    finally:
        await s.stop()


async def test_a_mismatch_after_a_reconnect_pauses_until_reconciled(
    quoting: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    s, engine = quoting, quoting.engine
    runner = engine.runner("as_btc")
    catch_up = await _missed_fill(s, runner, monkeypatch)
    venue_size = s.world.venues["sim"].positions("me")[0].size  # type: ignore[union-attr]
    assert engine.positions.get(("sim", SYM)).size != venue_size  # our fills miss one
    assert runner.state is StrategyState.PAUSED, runner.reason
    assert "position mismatch" in runner.reason and _quotes(runner) == []
    assert any(a.startswith("position sim BTC-PERP") for a in engine.attention())
    placed = engine.orders.counters.placed
    await s.run_for(12)  # two periodic checks, still blind: still paused
    assert runner.state is StrategyState.PAUSED and _quotes(runner) == []
    assert engine.orders.counters.placed == placed  # nothing quoted meanwhile
    catch_up()  # the venue's history shows the fill now
    await s.run_for(6)
    assert runner.state is StrategyState.RUNNING, runner.reason
    now_held = s.world.venues["sim"].positions("me")[0].size  # type: ignore[union-attr]
    assert engine.positions.get(("sim", SYM)).size == now_held
    assert engine.guard.mismatches == {} and not engine.attention()
    await s.run_for(2)
    assert runner.orders()  # quoting again
    guard = _events(s, "position_guard")
    assert guard[0].startswith("holding") and "resumed as_btc" in guard[-1]


async def test_an_operators_pause_is_theirs_and_a_resume_overrides(
    quoting: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    s, engine = quoting, quoting.engine
    runner = engine.runner("as_btc")
    catch_up = await _missed_fill(s, runner, monkeypatch)
    assert runner.state is StrategyState.PAUSED and "position mismatch" in runner.reason
    engine.pause_strategy("as_btc")  # the operator's now: the guard will not undo it
    assert runner.reason == "paused by operator"
    catch_up()
    await s.run_for(6)
    assert engine.guard.mismatches == {}
    assert runner.state is StrategyState.PAUSED and runner.reason == "paused by operator"
    engine.resume_strategy("as_btc")
    await s.run_for(2)
    catch_up = await _missed_fill(s, runner, monkeypatch)  # held again
    assert runner.state is StrategyState.PAUSED and "position mismatch" in runner.reason
    engine.resume_strategy("as_btc")  # an override: noted, not paused again for it
    await s.run_for(6)
    assert runner.state is StrategyState.RUNNING and engine.guard.mismatches
    assert any("resumed over" in e for e in _events(s, "position_guard"))
    catch_up()
    await s.run_for(6)
    assert engine.guard.mismatches == {} and runner.state is StrategyState.RUNNING
