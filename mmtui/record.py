"""`mmtui record`: a venue's public books and trades to Tardis.dev CSV files.

    mmtui record --venue V --symbols A,B --out DIR [--config F] [--seconds N]

``V`` names a venue of the config (the default config's ``sim``, or an emulator's
from ``mmtui emulate``): a real venue is read through its public feed only — no key
file is read, nothing is signed (``venue_factory.public_feed``); a sim venue runs
its synthetic market in-process on the sim clock (no network at all). Stops after
``N`` seconds (sim time for a sim venue), or on SIGINT / SIGTERM / SIGHUP, closing
the files and printing one line: rows, gaps, files. Exit codes: 0 ok, 1 the feed
failed (could not connect, a write failed), 2 bad input. Docs: docs/recording.md.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.base import Connector, VenueError
from connectors.common.public import PublicFeed
from mmtui.config import Config, ConfigError, SimVenueConfig, load_config
from mmtui.core.recorder import Recorder, RecordSummary

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass
class Feed:
    """A venue's public feed and the clock its recording is stamped with."""

    connector: Connector
    exchange: str
    now_us: Callable[[], int]
    sleep: Callable[[float], Any] = asyncio.sleep
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    stop_pacer: asyncio.Event = field(default_factory=asyncio.Event)

    async def close(self) -> None:
        await self.connector.close()
        self.stop_pacer.set()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def open_feed(config: Config, venue: str) -> Feed:
    """The public feed of ``venue`` (a name in the config); a sim venue starts its
    market on a sim clock paced at the config's ``sim.speed``. ``ValueError`` (one line)
    for a venue the config does not have."""
    cfg = config.venues.get(venue)
    if cfg is None:
        names = ", ".join(sorted(config.venues)) or "none"
        raise ValueError(f"venue {venue!r} is not in the config (its venues: {names})")
    if isinstance(cfg, SimVenueConfig):
        return _sim_feed(config, venue)
    from mmtui.venue_factory import public_feed

    return Feed(public_feed(venue, cfg), cfg.type, lambda: time.time_ns() // 1000)


def _sim_feed(config: Config, venue: str) -> Feed:
    from connectors.sim.connector import SimConnector
    from connectors.sim.world import SimWorld
    from mmtui.core.clock import SimClock, pace

    specs = [s for s in config.sim_venue_specs() if s.name == venue]
    world = SimWorld(config.asset_specs(), specs, seed=config.sim.seed)
    clock = SimClock(start_ms=time.time_ns() // 1_000_000)
    conn = PublicFeed(SimConnector(world.venues[venue], account="recorder", sleep=clock.sleep))
    feed = Feed(conn, "sim", lambda: clock.now_ms() * 1000, clock.sleep)
    loop = asyncio.get_running_loop()
    step = config.sim.step_ms
    world.prime(clock.now_ms())
    feed.tasks.append(loop.create_task(world.run(clock, step), name="sim world"))
    feed.tasks.append(
        loop.create_task(pace(clock, step, config.sim.speed, feed.stop_pacer), name="sim pacer")
    )
    return feed


async def record(
    config: Config,
    venue: str,
    symbols: list[str],
    out_dir: Path,
    seconds: float | None,
    *,
    stop: asyncio.Event | None = None,
    announce: Callable[[str], None] = print,
) -> RecordSummary:
    """Record until ``seconds`` pass on the feed's clock or ``stop`` is set.
    Raises ``VenueError`` when the feed cannot connect, ``ValueError`` for bad input."""
    stop = stop or asyncio.Event()
    feed = open_feed(config, venue)
    conn = feed.connector
    recorder = Recorder(out_dir, lambda _venue, symbol: conn.book(symbol), feed.now_us)
    try:
        await conn.connect(recorder.on_event)
        instruments = await conn.instruments()
        unknown = [s for s in symbols if s not in instruments]
        if unknown:
            known = ", ".join(sorted(instruments)[:20])
            raise ValueError(f"venue {venue}: unknown symbol(s) {', '.join(unknown)} ({known})")
        await conn.subscribe_books(symbols)
        for symbol in symbols:
            recorder.add_market(venue, feed.exchange, instruments[symbol])
        announce(f"recording {venue} {', '.join(symbols)} to {out_dir} (Ctrl-C stops)")
        loop = asyncio.get_running_loop()
        waiters = [loop.create_task(stop.wait())]
        if seconds is not None:
            waiters.append(loop.create_task(feed.sleep(seconds)))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
    finally:
        summary = recorder.close()  # first: the books the close empties are no gap
        await feed.close()
    return summary


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="mmtui record",
        description="Record a venue's public books and trades as Tardis.dev CSV files "
        "(incremental_book_L2, trades; gzip). Needs no keys.",
    )
    parser.add_argument("--venue", required=True, help="a venue of the config (e.g. sim)")
    parser.add_argument("--symbols", required=True, help="comma separated, e.g. BTC-PERP,ETH-PERP")
    parser.add_argument("--out", required=True, metavar="DIR", help="where the files go")
    parser.add_argument("--config", "-c", metavar="FILE", help="config file (YAML)")
    parser.add_argument("--seconds", type=_positive, metavar="N", help="stop after N seconds")
    args = parser.parse_args(list(argv))
    symbols = [s.strip() for s in args.symbols.split(",") if s.strip()]
    if not symbols:
        print("record: --symbols names no symbol", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        config, source = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_INPUT
    from mmtui.logsetup import file_log_error

    error = file_log_error(config.logging.level, config.logging.dir, source)
    if error is not None:
        print(error, file=sys.stderr)
        return EXIT_BAD_INPUT
    return asyncio.run(_run(config, args.venue, symbols, Path(args.out), args.seconds))


async def _run(
    config: Config, venue: str, symbols: list[str], out_dir: Path, seconds: float | None
) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    try:
        summary = await record(
            config,
            venue,
            symbols,
            out_dir,
            seconds,
            stop=stop,
            announce=lambda line: print(line, flush=True),
        )
    except ValueError as exc:
        print(f"record: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (VenueError, OSError) as exc:
        print(f"record: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        for sig in SIGNALS:
            loop.remove_signal_handler(sig)
    print(summary.line(), flush=True)
    return EXIT_FAILED if summary.error else EXIT_OK


__all__ = ["Feed", "main", "open_feed", "record"]
