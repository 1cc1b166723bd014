"""Telemetry through the core: the strategy writes, the core publishes, and the
console (the read model) and any exporter read the same values."""

from __future__ import annotations

import pytest

from mmtui.core.telemetry import TelemetryFrame
from mmtui.session import Session


async def test_the_console_and_an_exporter_read_the_same_values(session: Session) -> None:
    engine = session.engine
    runner = engine.runner("as_btc")
    frames: list[TelemetryFrame] = []
    engine.telemetry.add_exporter(frames.append)
    await session.run_for(10)
    assert 9 <= len(frames) <= 11  # one a second
    assert runner.telemetry is engine.telemetry.store("as_btc")  # one store, the core's
    frame = engine.telemetry.publish()
    assert frame is not None and frames[-1] is frame
    console = engine.view.telemetry("as_btc")
    exported = frame.view("as_btc")
    assert console is not None and exported is not None
    assert console.values == exported.values and console.counters == exported.counters
    assert console.series == exported.series and console.ts_ms == exported.ts_ms == frame.ts_ms
    assert dict(exported.values)["state"] == "quoting" and exported.points("mid")
    (row,) = engine.view.strategies()
    assert row.telemetry == exported.values  # the strategies table reads it too
    assert engine.view.telemetry("nobody") is None


async def test_a_failing_exporter_is_dropped_and_trading_goes_on(session: Session) -> None:
    engine = session.engine
    frames: list[TelemetryFrame] = []

    def broken(frame: TelemetryFrame) -> None:
        raise OSError("disk full")

    engine.telemetry.add_exporter(broken)
    remove = engine.telemetry.add_exporter(frames.append)
    await session.run_for(3)
    assert len(frames) == 3  # the broken one went at the first frame, the other stayed
    assert engine.runner("as_btc").tick_errors == 0
    count = len(frames)
    await session.stop()
    assert len(frames) == count + 1  # the last frame, at shutdown
    remove()
    assert engine.telemetry.publish() is None  # nobody left to publish to


async def test_a_strategy_that_cannot_be_added_leaves_no_telemetry(session: Session) -> None:
    engine = session.engine
    with pytest.raises(ValueError, match="other_venue is required"):
        engine.add_strategy("bad", "cross_arbitrage", "sim", "BTC-PERP", {})
    assert engine.telemetry.view("bad") is None
    assert [v.strategy for v in engine.telemetry.frame().views] == ["as_btc"]
