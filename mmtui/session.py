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
from mmtui.config_modes import MODES_ON_SIMULATED_FILLS
from mmtui.core.clock import Clock, SimClock, WallClock, pace
from mmtui.core.engine import Engine
from mmtui.core.inflight import InflightPolicy
from mmtui.core.journal import Journal
from mmtui.core.orders import new_run_prefix
from mmtui.core.ratelimit import RateLimiter
from mmtui.core.recorder import RecordSummary
from mmtui.core.summary import FlattenReport, RunSummary, describe_kept
from mmtui.metrics.server import MetricsServer, start_metrics, stop_metrics
from mmtui.report.sampler import Sampler
from mmtui.venue_factory import SessionError, venue_connector

log = logging.getLogger("mmtui.session")


def default_journal_path(mode: str = "sim") -> Path:
    """The journal's default file. Modes replay and paper keep their own: their fills
    (on a venue of the same name as a live one) must never count as a live strategy's
    inventory at a live start."""
    name = f"journal-{mode}.sqlite" if mode in MODES_ON_SIMULATED_FILLS else "journal.sqlite"
    return platformdirs.user_state_path("mmtui") / name


def default_recording_dir() -> Path:
    return platformdirs.user_state_path("mmtui") / "recordings"


@dataclass
class Session:
    config: Config
    engine: Engine
    clock: Clock
    world: Any = None
    """What the sim clock steps (``prime``, ``run``, ``venues``): a ``SimWorld``, or a
    ``ReplayWorld`` in mode replay (also ``finished``, ``progress()``); None on live venues."""
    speed: float | None = 1.0
    manual: bool = False
    _stop_pacer: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    shutdown_report: FlattenReport | None = None
    started: bool = False
    config_path: Path | None = None
    """The config file the session came from (shown in the console's health view)."""
    step_ms: int = 100
    """How far the pacer moves the sim clock at a time (sim.step_ms; replay.step_ms)."""
    sample_ms: int = 1000
    """How often a report samples PnL and mids (replay.sample_ms; paper.sample_ms)."""
    sampler: Sampler | None = None
    """Samples PnL and mids for a report (modes replay and paper; ``mmtui backtest``)."""
    report_dir: Path | None = None
    """Where ``stop`` writes the run's report (replay.report_dir, paper.report_dir)."""
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
                loop.create_task(self.world.run(self.clock, self.step_ms), name="sim world")
            )
            if hasattr(self.world, "finished"):
                self._tasks.append(loop.create_task(self._watch_replay_end(), name="replay end"))
            if isinstance(self.clock, SimClock) and not self.manual:
                self._tasks.append(
                    loop.create_task(
                        pace(
                            self.clock,
                            self.step_ms,
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
        if self.sampler is not None:
            self._tasks.append(
                asyncio.get_running_loop().create_task(self.sampler.run(), name="report sampler")
            )

    async def _watch_replay_end(self) -> None:
        """A replay's world plays on (its venues settle what is in flight) after its
        data ends: say when it did, in the events pane and the journal."""
        while not self.world.finished:
            await self.clock.sleep(1.0)
        self.engine.note_event("replay", "the recorded data ended: the books stand still")

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
        step = self.step_ms
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
                        self.step_ms,
                        None,
                        self._stop_pacer,
                        self._journal_gate(),
                    ),
                    name="sim pacer (shutdown)",
                )
            )
        if self.sampler is not None and self.engine.running:
            self.sampler.sample()  # the last instant before the shutdown
        report = await self.engine.shutdown(self.config.shutdown_timeout_s)
        self._stop_pacer.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await stop_metrics(self.metrics)
        self.shutdown_report = report
        if self.report_dir is not None:
            await self._write_report(report)
        return report

    async def _write_report(self, report: FlattenReport) -> None:
        from mmtui.report import ReportError, write_report

        assert self.report_dir is not None
        try:
            written = await write_report(self, self.sampler, self.report_dir)
        except (ReportError, OSError, ValueError) as exc:
            log.error("report not written to %s: %s", self.report_dir, exc)
            report.notes.append(f"report not written: {exc}")
            return
        report.notes.append("report: " + ", ".join(str(p) for p in written.paths))

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
    step_ms, sample_ms, report_dir = config.sim.step_ms, 1000, None
    if config.mode in MODES_ON_SIMULATED_FILLS:  # replay, paper: mmtui/modes.py
        from mmtui.modes import mode_parts

        parts = mode_parts(config, manual=manual, start_ms=start_ms)
        clock, world, connectors = parts.clock, parts.world, parts.connectors
        step_ms, sample_ms, report_dir = parts.step_ms, parts.sample_ms, parts.report_dir
        sim_speed = sim_speed if parts.paced else 1.0
    else:
        clock, world, connectors = _sim_or_live(config, run_prefix, manual, start_ms, world, clock)
        if isinstance(clock, WallClock):
            sim_speed = 1.0
    limiters: dict[str, RateLimiter] = {}
    for name, venue_cfg in config.venues.items():
        if venue_cfg.rate_limit is not None and name in connectors:
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
        path = journal_path or config.journal.path or default_journal_path(config.mode)
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
        step_ms=step_ms,
        sample_ms=sample_ms,
        sampler=Sampler(engine, sample_ms / 1000) if report_dir is not None else None,
        report_dir=report_dir,
    )


def _sim_or_live(
    config: Config,
    run_prefix: str,
    manual: bool,
    start_ms: int | None,
    world: SimWorld | None,
    clock: SimClock | None,
) -> tuple[Clock, SimWorld | None, dict[str, Connector]]:
    """Modes sim and live: the sim world and its venues, the real venues' connectors."""
    real = {n: v for n, v in config.venues.items() if not isinstance(v, SimVenueConfig)}
    use: Clock
    if real:
        # A real venue dialect (even an emulator on loopback) runs on wall time.
        if manual:
            raise SessionError("a session with real venue connectors cannot run on manual time")
        use = WallClock()
    else:
        use = clock or SimClock(
            start_ms=start_ms if start_ms is not None else time.time_ns() // 1_000_000
        )
    sim_specs = config.sim_venue_specs()
    if world is None and sim_specs:
        world = SimWorld(config.asset_specs(), sim_specs, seed=config.sim.seed)
    connectors: dict[str, Connector] = {}
    for name, venue_cfg in config.venues.items():
        if isinstance(venue_cfg, SimVenueConfig):
            assert world is not None
            connectors[name] = SimConnector(
                world.venues[name], latency_ms=venue_cfg.latency_ms, sleep=use.sleep
            )
        else:
            connectors[name] = venue_connector(name, venue_cfg, run_prefix)
    return use, world, connectors


__all__ = ["Session", "SessionError", "build_session", "default_journal_path"]
