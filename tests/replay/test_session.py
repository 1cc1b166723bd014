"""A replay through the real core: the session built with a ReplayWorld in place of the
sim's world (``build_session(world=...)``), the Avellaneda–Stoikov strategy quoting on
the replay venue through SimConnector, the engine, risk and order path."""

from __future__ import annotations

from decimal import Decimal as D

from connectors.replay.spec import LatencySpec, ReplayVenueSpec
from connectors.replay.world import ReplayWorld
from mmtui.config import Config
from mmtui.core.clock import SimClock
from mmtui.session import build_session

from .recording import SYMBOL, Recording


def _config() -> Config:
    return Config.model_validate(
        {
            "sim": {"seed": 1, "speed": None, "step_ms": 100},
            "venues": {"sim": {"type": "sim"}},
            "strategies": [
                {
                    "name": "as_btc",
                    "kind": "avellaneda_stoikov",
                    "venue": "sim",
                    "symbol": SYMBOL,
                    "params": {
                        "gamma": 0.01,
                        "k": 5,
                        "size": 0.002,
                        "max_position": 0.02,
                        "tick_interval_ms": 200,
                        "requote_ticks": 3,
                    },
                }
            ],
            "journal": {"enabled": False},
        }
    )


async def _backtest(recording: Recording) -> tuple[list[tuple[object, ...]], D]:
    world = ReplayWorld(
        recording.out_dir,
        [ReplayVenueSpec("sim", symbols=(SYMBOL,), latency=LatencySpec(entry_ms=10, cancel_ms=10))],
    )
    session = build_session(
        _config(),
        speed="manual",
        world=world,  # type: ignore[arg-type]  # a replay world stands in for the sim's
        clock=SimClock(start_ms=world.start_ms),
    )
    await session.start()
    while not world.finished:
        await session.run_for(1.0)
    venue = world.venues["sim"]
    fills = [
        (f.side, f.price, f.size, f.fee, f.liquidity, f.ts_ms) for f in venue.fills_since("me", 0)
    ]
    position = session.engine.positions.get(("sim", SYMBOL)).size
    report = await session.stop()
    assert report.ok, [str(line) for line in report.lines]
    assert venue.open_orders("me") == []
    return fills, position


async def test_the_as_strategy_backtests_through_the_core_deterministically(
    recording: Recording,
) -> None:
    fills, position = await _backtest(recording)
    assert fills, "the strategy's quotes must fill for the test to mean something"
    venue_position = sum((f[2] if f[0].value == "buy" else -f[2] for f in fills), D(0))
    assert position == venue_position  # type: ignore[operator]
    assert await _backtest(recording) == (fills, position)
