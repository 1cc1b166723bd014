"""``mmtui backtest``: a config's strategies, headless, on recorded data (or the sim), as
fast as the machine goes; then the safe shutdown and the report.

    mmtui backtest --data DIR --config FILE [--out DIR] [--speed max|X] [--no-chart]
    mmtui backtest --config sim.yaml --duration S      (the embedded sim, no data)

With ``--data`` (or a config whose mode is replay) the run plays the data until it
ends; the config's mode is taken as ``replay`` whatever it says (nothing is ever sent
to a venue). The journal of the run is ``OUT/journal.sqlite`` (a new one each run);
the report is ``OUT/report.json`` (the same bytes for the same data and config),
``OUT/report.png`` and ``OUT/run.json`` (run id, wall-clock times, paths). Progress goes
to stderr (a bar on a terminal, a line per 10 % otherwise); the summary to stdout.

Exit codes as ``mmtui``'s: 0 ok, 1 the run ended badly (a FAIL in the shutdown, an
interrupted run), 2 bad input.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mmtui.config import Config, ConfigError, load_config
from mmtui.logsetup import file_log_error
from mmtui.report.output import JOURNAL_FILE, OUTPUTS, RUN_FILE

log = logging.getLogger("mmtui.backtest")

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
SIM_START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z: a sim backtest's first instant


def build_parser() -> argparse.ArgumentParser:
    from mmtui.cli import _positive_float, _speed

    parser = argparse.ArgumentParser(
        prog="mmtui backtest",
        description="Run a config's strategies headless on recorded data (Tardis CSV files) "
        "or on the sim, then write the report (report.json, report.png, run.json).",
    )
    parser.add_argument("--config", "-c", metavar="FILE", required=True, help="config (YAML)")
    parser.add_argument("--data", metavar="DIR", help="recorded data (default: replay.data)")
    parser.add_argument(
        "--out", metavar="DIR", default="backtest", help="report directory (default: ./backtest)"
    )
    parser.add_argument(
        "--speed",
        type=_speed,
        default=None,
        metavar="X",
        help="X times real time, or 'max' (default: max)",
    )
    parser.add_argument(
        "--duration",
        type=_positive_float,
        metavar="S",
        help="stop after S seconds of session time (required on the sim; optional on data)",
    )
    parser.add_argument("--no-chart", action="store_true", help="skip report.png")
    parser.add_argument("--json", action="store_true", help="print report.json, not the text")
    return parser


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    out = Path(args.out).expanduser()
    try:
        check_out(out)
        config, source = load_backtest_config(args.config, args.data, out)
        if config.mode == "sim" and args.duration is None:
            raise ConfigError(
                f"config error: {source}: mode sim has no end: pass --duration S "
                "(or --data DIR to replay recorded data)"
            )
        prepare_out(out)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_INPUT
    error = file_log_error(config.logging.level, config.logging.dir, source)
    if error is not None:
        print(error, file=sys.stderr)
        return EXIT_BAD_INPUT
    return asyncio.run(
        run_backtest(
            config,
            out,
            speed=args.speed,
            duration=args.duration,
            chart=not args.no_chart,
            as_json=args.json,
            run_info={"config": str(source), "data": str(config.replay.data or "")},
        )
    )


def load_backtest_config(path: str, data: str | None, out: Path) -> tuple[Config, Path]:
    """The config as a backtest runs it: mode replay (unless a sim config without data),
    ``--data`` as ``replay.data``, the journal at ``OUT/journal.sqlite``; every check a
    start runs."""
    from mmtui.startup_checks import check_start

    env = dict(os.environ)
    env["MMTUI_JOURNAL__ENABLED"] = "true"
    env["MMTUI_JOURNAL__PATH"] = str(out / JOURNAL_FILE)
    if data is not None:
        env["MMTUI_MODE"] = "replay"
        env["MMTUI_REPLAY__DATA"] = str(Path(data).expanduser())
    config, source = load_config(path, env)
    if config.mode in ("live", "paper"):  # a backtest never trades: it replays
        env["MMTUI_MODE"] = "replay"
        config, source = load_config(path, env)
    check_start(config, source)
    return config, source


def check_out(out: Path) -> None:
    """A journal in ``out`` that no backtest wrote is never touched: refused."""
    if (out / JOURNAL_FILE).exists() and not (out / RUN_FILE).exists():
        raise ConfigError(
            f"config error: --out {out}: holds a {JOURNAL_FILE} that no backtest wrote "
            "(choose another directory)"
        )


def prepare_out(out: Path) -> None:
    """A fresh output directory: an earlier backtest's files there are replaced."""
    check_out(out)
    for name in (*OUTPUTS, JOURNAL_FILE, f"{JOURNAL_FILE}-wal", f"{JOURNAL_FILE}-shm"):
        with contextlib.suppress(FileNotFoundError):
            (out / name).unlink()


class Progress:
    """Progress on stderr: a rich bar on a terminal, else a line every 10 %."""

    def __init__(self, what: str) -> None:
        self._bar: Any = None
        self._task: Any = None
        self._next_line = 0.1
        self._what = what
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>5.1f}%"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task(what, total=1.0)

    def update(self, done: float) -> None:
        done = min(max(done, 0.0), 1.0)
        if self._bar is not None:
            self._bar.update(self._task, completed=done)
            return
        while done >= self._next_line - 1e-9:
            print(f"{self._what}: {self._next_line:.0%}", file=sys.stderr, flush=True)
            self._next_line += 0.1

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


async def run_backtest(
    config: Config,
    out: Path,
    *,
    speed: float | None = None,
    duration: float | None = None,
    chart: bool = True,
    as_json: bool = False,
    run_info: dict[str, Any] | None = None,
    progress: Callable[[str], Progress] = Progress,
    stop: asyncio.Event | None = None,
) -> int:
    """Build, run until the data ends (or ``duration``), shut down safely, report."""
    from mmtui.report import ReportError, Sampler, write_report
    from mmtui.session import SessionError, build_session

    wall_start = time.time()
    try:
        # the sim starts at a fixed instant (replay: at the data's first timestamp), so
        # the same config gives the same run
        # manual: the backtest drives the clock itself (``drive``), so nothing moves it
        # while the session starts
        session = build_session(config, speed="manual", start_ms=SIM_START_MS)
    except SessionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    bar = progress("backtest" if config.mode == "replay" else f"sim {duration:g}s")
    # the session samples (and takes a last sample as it stops); the report is ours
    sampler = session.sampler = Sampler(session.engine, session.sample_ms / 1000)
    session.report_dir = None
    completed = False
    try:
        try:
            await session.start()
        except SessionError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_FAILED
        completed = await drive(session, duration, speed, bar.update, stop)
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        bar.close()
        report = await shut_down(session)
    summary = session.summary()
    info = {
        **(run_info or {}),
        "complete": completed,
        "wall_started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(wall_start)),
        "wall_seconds": round(time.time() - wall_start, 3),
        "shutdown": summary.shutdown,
        "journal": str(out / JOURNAL_FILE),
    }
    info.update(_replay_stats(session, info["wall_seconds"]))
    try:
        written = await write_report(session, sampler, out, run_info=info, chart=chart)
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if as_json:
        print((out / "report.json").read_text(encoding="utf-8"), end="")
    else:
        print(written.text)
        for line in summary.shutdown:
            print(f"  {line}")
        print("report: " + ", ".join(str(p) for p in written.paths))
    if not completed:
        print("backtest interrupted: the report covers the data up to the stop", file=sys.stderr)
    ok = report.ok and summary.open_orders_left == 0 and completed
    return EXIT_OK if ok else EXIT_FAILED


async def drive(
    session: Any,
    duration: float | None,
    speed: float | None,
    progress: Callable[[float], None],
    stop: asyncio.Event,
) -> bool:
    """Move the session's sim clock step by step until the data ends (or ``duration``
    of session time passes); True when it did, False when ``stop`` was set.

    Deterministic: after every step the loop runs until nothing is ready (``settle``)
    before the journal's back-pressure may wait in real time, so what happens at a
    virtual instant never depends on how fast the machine or the disk was."""
    clock = session.clock
    world = session.world
    replaying = hasattr(world, "finished")
    step = session.step_ms
    gate = session.engine.journal.keep_up if session.engine.journal is not None else None
    loop = asyncio.get_running_loop()
    start, wall_start = clock.now_ms(), loop.time()
    end = start + round(duration * 1000) if duration is not None else None
    while not stop.is_set():
        now = clock.now_ms()
        if end is not None:
            progress((now - start) / (end - start))
            if now >= end:
                return True
        if replaying:
            if end is None:
                progress(world.progress())
            if world.finished:
                progress(1.0)
                return True
        await clock.advance(step)
        await settle(loop)
        if gate is not None:
            await gate()
        if speed is not None:
            due = wall_start + (clock.now_ms() - start) / 1000 / speed
            if due > loop.time():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), due - loop.time())
    return False


async def shut_down(session: Any) -> Any:
    """The safe shutdown, the clock still moved step by step with ``settle`` (the
    session's own shutdown pacer would not wait for the loop)."""
    session.manual = False  # stop() adds no pacer: the loop below is it
    loop = asyncio.get_running_loop()
    task = loop.create_task(session.stop(), name="backtest shutdown")
    clock = session.clock
    while not task.done():
        await clock.advance(session.step_ms)
        await settle(loop)
        if not task.done():
            await asyncio.sleep(0.001)  # the journal's close runs on its thread
    return task.result()


async def settle(loop: asyncio.AbstractEventLoop, rounds: int = 10_000) -> None:
    """Yield until the loop has nothing else ready to run (every task is waiting on
    the clock or on I/O). Reads the default loop's ready queue; on a loop without one,
    yields a fixed number of times."""
    ready = getattr(loop, "_ready", None)
    if ready is None:
        for _ in range(64):
            await asyncio.sleep(0)
        return
    for _ in range(rounds):
        if not ready:
            return
        await asyncio.sleep(0)


def _replay_stats(session: Any, wall_s: float) -> dict[str, Any]:
    """What the replay played, and how fast (run.json: it differs between runs)."""
    world = session.world
    messages = getattr(world, "messages", None)
    if not isinstance(messages, int):
        return {}
    return {
        "replay": {
            "messages": messages,
            "steps": getattr(world, "steps", 0),
            "messages_per_wall_second": round(messages / wall_s) if wall_s > 0 else None,
        }
    }


__all__ = [
    "Progress",
    "check_out",
    "drive",
    "load_backtest_config",
    "main",
    "prepare_out",
    "run_backtest",
    "settle",
    "shut_down",
]
