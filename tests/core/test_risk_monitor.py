"""The risk monitor cannot be killed by a value: a PnL that is not a number, or a
PnL computation that raises, halts trading (fail closed) and the monitor goes on;
if the monitor's task ever dies, trading halts too. The real engine on the sim,
a market maker quoting."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal as D

import pytest

from mmtui.core.risk import RiskState
from mmtui.core.runner import StrategyState
from mmtui.session import Session

KEY = ("sim", "BTC-PERP")


@pytest.fixture
async def quoting(make_session: Callable[..., Session]) -> AsyncIterator[Session]:
    s = make_session()
    await s.start()
    for _ in range(30):
        await s.run_for(1)
        if s.engine.orders.live_count():
            break
    assert s.engine.orders.live_count() > 0
    yield s
    await s.stop()


async def _until_halted(s: Session) -> None:
    for _ in range(40):
        await s.run_for(0.25)
        if s.engine.risk.state is RiskState.HALTED and not s.engine.orders.live_count():
            return
    raise AssertionError(f"not halted: {s.engine.risk.state} {s.engine.risk.reason}")


def _closed(s: Session) -> None:
    """Failed closed: HALTED, the strategy paused, no order of ours live."""
    engine = s.engine
    assert engine.risk.state is RiskState.HALTED
    assert engine.runner("as_btc").state is StrategyState.PAUSED
    assert engine.orders.live_count() == 0
    assert s.world.venues["sim"].open_orders("me") == []  # type: ignore[union-attr]


async def _resume(s: Session) -> None:
    s.engine.reset_risk()
    s.engine.resume_strategy("as_btc")
    for _ in range(20):
        await s.run_for(0.5)
        if s.engine.orders.live_count():
            return
    raise AssertionError("the strategy did not quote again")


async def test_a_nan_in_the_pnl_halts_and_the_monitor_goes_on(quoting: Session) -> None:
    engine = quoting.engine
    state = engine.positions.get(KEY)
    state.realized_pnl = D("NaN")  # a value that got in (the max_loss check cannot work)
    await _until_halted(quoting)
    _closed(quoting)
    assert "session PnL: NaN is not a number" in engine.risk.reason
    # the monitor is still checking: fixed and reset, trading resumes; broken again,
    # it halts again
    state.realized_pnl = D(0)
    await _resume(quoting)
    state.realized_pnl = D("sNaN")  # adding a signalling NaN raises
    await _until_halted(quoting)
    _closed(quoting)
    assert engine.risk.reason.startswith("risk monitor failed: InvalidOperation")
    state.realized_pnl = D(0)
    await _resume(quoting)
    state.realized_pnl = D("NaN")
    await _until_halted(quoting)
    _closed(quoting)


async def test_an_exception_in_the_pnl_halts_and_the_monitor_goes_on(
    quoting: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = quoting.engine
    real_mark = engine.markets.mark

    def broken(venue: str, symbol: str) -> D:
        raise ZeroDivisionError("mark: a venue sent 0/0")

    monkeypatch.setattr(engine.markets, "mark", broken)
    await _until_halted(quoting)
    _closed(quoting)
    assert engine.risk.reason.startswith("risk monitor failed: ZeroDivisionError"), (
        engine.risk.reason
    )
    assert engine.monitor.failures >= 1
    monkeypatch.setattr(engine.markets, "mark", real_mark)
    await _resume(quoting)
    monkeypatch.setattr(engine.markets, "mark", broken)
    await _until_halted(quoting)
    _closed(quoting)


async def test_if_the_monitor_task_dies_trading_halts(quoting: Session) -> None:
    """A value outside the check (its own interval, NaN) kills the loop's sleep:
    the task ends with the error, and its end halts trading."""
    engine = quoting.engine
    engine.monitor.interval_s = float("nan")
    await _until_halted(quoting)
    _closed(quoting)
    assert engine.risk.reason.startswith("risk monitor stopped: ValueError"), engine.risk.reason
