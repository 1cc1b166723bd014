"""Builds a running trading session from a config: clock, venues, engine, strategies.

Both the console and ``--headless`` use this, so they trade the same way.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from connectors.base import Connector, VenueError
from connectors.sim.connector import SimConnector
from connectors.sim.world import SimWorld
from mmtui.config import Config, SimVenueConfig
from mmtui.core.clock import Clock, SimClock, WallClock, pace
from mmtui.core.engine import Engine
from mmtui.core.inflight import InflightPolicy
from mmtui.core.journal import Journal
from mmtui.core.orders import new_run_prefix
from mmtui.core.ratelimit import RateLimiter
from mmtui.core.recorder import RecordSummary
from mmtui.core.summary import FlattenReport, RunSummary, describe_kept
from mmtui.metrics.server import MetricsServer, start_metrics, stop_metrics
from mmtui.venue_factory import SessionError, venue_connector

log = logging.getLogger("mmtui.session")


def default_journal_path() -> Path:
    return platformdirs.user_state_path("mmtui") / "journal.sqlite"


def default_recording_dir() -> Path:
    return platformdirs.user_state_path("mmtui") / "recordings"


@dataclass
class Session:
    config: Config
    engine: Engine
    clock: Clock
    world: SimWorld | None = None
    speed: float | None = 1.0
    manual: bool = False
    _stop_pacer: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    shutdown_report: FlattenReport | None = None
    started: bool = False
    config_path: Path | None = None
    """The config file the session came from (shown in the console's health view)."""
    metrics: MetricsServer | None = None
    """The Prometheus endpoint (config ``metrics``), up from start to the end of stop."""

    async def start(self) -> None:
        """Start the market (sim), connect venues, add and autostart strategies."""
        if self.started:
            return
        self.started = True
        self.metrics = await start_metrics(self.config.metrics, self.engine)
        if self.world is not None:
            loop = asyncio.get_running_loop()
            self.world.prime(self.clock.now_ms())
            self._tasks.append(
                loop.create_task(
                    self.world.run(self.clock, self.config.sim.step_ms), name="sim world"
                )
            )
            if isinstance(self.clock, SimClock) and not self.manual:
                self._tasks.append(
                    loop.create_task(
                        pace(
                            self.clock,
                            self.config.sim.step_ms,
                            self.speed,
                            self._stop_pacer,
                            self._journal_gate(),
                        ),
                        name="sim pacer",
                    )
                )
        try:
            await self.engine.start()
        except VenueError as exc:
            # nothing was placed yet: stop the sim tasks and make stop() a no-op
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await stop_metrics(self.metrics)
            self.shutdown_report = FlattenReport(action="start failed")
            raise SessionError(f"could not start: {exc}") from None
        for spec in self.config.strategies:
            self.engine.add_strategy(spec.name, spec.kind, spec.venue, spec.symbol, spec.params)
        await self.engine.settle_earlier_orders()
        for spec in self.config.strategies:
            if spec.autostart:
                await self.engine.start_strategy(spec.name)

    def _journal_gate(self) -> Callable[[], Awaitable[None]] | None:
        """The sim's virtual time waits for the journal's writer (nothing is lost at
        ``--speed max``): the pacer awaits this after every step."""
        journal = self.engine.journal
        return journal.keep_up if journal is not None else None

    async def run_for(self, seconds: float) -> None:
        """Let the session run for ``seconds`` of its own clock (sim time in sim mode).

        A manual session has no pacer: this call moves its clock, step by step.
        """
        if not self.manual:
            await self.clock.sleep(seconds)
            return
        assert isinstance(self.clock, SimClock)
        step = self.config.sim.step_ms
        remaining = round(seconds * 1000)
        gate = self._journal_gate()
        while remaining > 0:
            await self.clock.advance(min(step, remaining))
            remaining -= step
            await asyncio.sleep(0)
            if gate is not None:
                await gate()

    async def abandon(self) -> None:
        """Drop the session without the safe shutdown, as a crash would (tests only):
        orders stay resting on the venues; the journal keeps what was written."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for conn in self.engine.connectors.values():
            await conn.close()
        self.engine.running = False
        await stop_metrics(self.metrics)
        if self.engine.journal is not None:
            await self.engine.journal.aclose()
        self.shutdown_report = FlattenReport(action="abandoned")

    async def stop(self) -> FlattenReport:
        """The safe shutdown: stop strategies, cancel our orders everywhere, report."""
        if self.shutdown_report is not None:
            return self.shutdown_report
        if self.manual and isinstance(self.clock, SimClock):
            # Timers (rate limits, latency) must still run while we shut down.
            self._tasks.append(
                asyncio.get_running_loop().create_task(
                    pace(
                        self.clock,
                        self.config.sim.step_ms,
                        None,
                        self._stop_pacer,
                        self._journal_gate(),
                    ),
                    name="sim pacer (shutdown)",
                )
            )
        report = await self.engine.shutdown(self.config.shutdown_timeout_s)
        self._stop_pacer.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await stop_metrics(self.metrics)
        self.shutdown_report = report
        return report

    def toggle_recording(self) -> Path | RecordSummary | None:
        """The console's record toggle: start recording the books and trades in use into
        a new folder under ``record.dir`` (returned), or stop (what was written).
        ``OSError`` / ``ValueError`` when the folder cannot be made."""
        recording = self.engine.recording
        if recording.active:
            return recording.stop()
        base = self.config.record.dir
        base = base.expanduser() if base is not None else default_recording_dir()
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.clock.now_ms() / 1000))
        out = base / stamp
        recording.start(out, {name: v.type for name, v in self.config.venues.items()})
        return out

    def summary(self) -> RunSummary:
        report = self.shutdown_report
        summary = self.engine.summary(
            open_orders_left=report.open_orders_left if report is not None else None
        )
        if report is not None:
            summary.shutdown = [str(line) for line in report.lines] + report.notes
            summary.orders_unverified = report.orders_unverified
            summary.exits_kept = [describe_kept(o) for o in report.kept]
        return summary


def build_session(
    config: Config,
    *,
    speed: float | str | None = "config",
    journal_path: Path | None = None,
    run_prefix: str | None = None,
    start_ms: int | None = None,
    world: SimWorld | None = None,
    clock: SimClock | None = None,
) -> Session:
    """Wire a session; nothing runs until ``Session.start()`` (inside the event loop).

    ``speed``: "config" (the config's sim.speed), a factor, None (as fast as
    possible), or "manual" (no pacer: ``run_for`` moves the clock; for tests).
    ``world``/``clock``: reuse a running sim (tests: a restart on the same venues).
    """
    manual = speed == "manual"
    sim_speed = config.sim.speed if speed in ("config", "manual") else speed
    run_prefix = run_prefix or new_run_prefix()
    real = {n: v for n, v in config.venues.items() if not isinstance(v, SimVenueConfig)}
    if real:
        # A real venue dialect (even an emulator on loopback) runs on wall time.
        if manual:
            raise SessionError("a session with real venue connectors cannot run on manual time")
        clock = WallClock()
        sim_speed = 1.0
    elif clock is None:
        clock = SimClock(start_ms=start_ms if start_ms is not None else time.time_ns() // 1_000_000)
    sim_specs = config.sim_venue_specs()
    if world is None and sim_specs:
        world = SimWorld(config.asset_specs(), sim_specs, seed=config.sim.seed)
    connectors: dict[str, Connector] = {}
    for name, venue_cfg in config.venues.items():
        if isinstance(venue_cfg, SimVenueConfig):
            assert world is not None
            connectors[name] = SimConnector(
                world.venues[name], latency_ms=venue_cfg.latency_ms, sleep=clock.sleep
            )
        else:
            connectors[name] = venue_connector(name, venue_cfg, run_prefix)
    limiters: dict[str, RateLimiter] = {}
    for name, venue_cfg in config.venues.items():
        if venue_cfg.rate_limit is not None:
            rl = venue_cfg.rate_limit
            limiters[name] = RateLimiter(
                rl.capacity,
                rl.per_seconds,
                weights=rl.weights,
                time_fn=lambda: clock.now_ms() / 1000,
                sleep_fn=clock.sleep,
            )
    journal = None
    if config.journal.enabled:
        path = journal_path or config.journal.path or default_journal_path()
        journal = Journal(path, run_id=run_prefix)
    engine = Engine(
        clock=clock,
        connectors=connectors,
        risk_limits=config.risk,
        journal=journal,
        rate_limiters=limiters,
        run_prefix=run_prefix,
        mode=config.mode,
        reconcile_interval_s=config.orders.reconcile_interval_s,
        inflight=InflightPolicy(
            grace_s=config.orders.lookup_after_s,
            misses_to_lost=config.orders.lost_after_lookups,
        ),
        inventory_policy=config.inventory_at_start,
    )
    return Session(
        config=config,
        engine=engine,
        clock=clock,
        world=world,
        speed=sim_speed,  # type: ignore[arg-type]
        manual=manual,
    )


__all__ = ["Session", "SessionError", "build_session", "default_journal_path"]
