"""How the console holds up: event-loop lag under book load, and launch to first frame.

Run from the repository root::

    .venv/bin/python benchmarks/bench_ui.py            # about a minute
    .venv/bin/python benchmarks/bench_ui.py --quick    # shorter phases, 3 launches

(a) The real ``MMApp`` runs headless at 160x48 on the bundled example config
(sim at 1x real time, Avellaneda-Stoikov quoting, journal in a temp dir). A
task writes level updates straight into the sim connector's ``OrderBook``
(``set_bid``/``set_ask``, never at or through the touch, ~30% deletes) at a
target rate, and tells the engine with one ``BookChanged`` per batch, at most
``BATCH_HZ`` times a second, as a connector coalescing a busy feed would. A
probe task sleeps 10 ms again and again; how late it wakes up is the loop lag
everything in the console (orders, cancels, keys) would see. Phases: idle (the
sim's own updates only), 1k and 20k injected updates/s. The frame count is
``MainScreen.renders``: the panes render on the ``ui.refresh_hz`` timer, so it
stays the same whatever the update rate. Headless Textual skips only the last
step of a frame (encoding it for the terminal); (b) covers a real terminal.

(b) ``python -m mmtui.cli`` on the bundled example config in an 80x24
pseudo-terminal: the time from spawning the process to the book pane title
"BTC-PERP @ sim" appearing in its output, median of ``LAUNCHES`` runs (each
then gets SIGTERM and is waited for; that part is not timed).
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import logging
import os
import random
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from textual.screen import Screen  # noqa: E402

from connectors.base import BookChanged  # noqa: E402
from connectors.book import OrderBook  # noqa: E402
from mmtui.app import MainScreen, MMApp  # noqa: E402
from mmtui.config import bundled_example, load_config  # noqa: E402
from mmtui.logsetup import LogBuffer, add_handler, remove_handler  # noqa: E402
from mmtui.session import Session, build_session  # noqa: E402

VENUE, SYMBOL = "sim", "BTC-PERP"
SIZE = (160, 48)
PROBE_S = 0.010
BATCH_HZ = 200  # BookChanged events per second at most
SEED = 20240601
DELETE_FRACTION = 0.30
MAX_OWN_LEVELS = 400  # per side; beyond that the injector deletes
MEAN_DISTANCE_TICKS = 40.0
BOOK_TITLE = b"BTC-PERP @ sim"


@dataclass
class Phase:
    label: str
    rate: int  # injected level updates per second
    seconds: float


@dataclass
class PhaseResult:
    phase: Phase
    lags_ms: list[float]
    frames: int
    updates: int
    book_changes: int
    elapsed: float
    paint_ms: list[float]


class PaintTimer:
    """Times Textual's screen update (compositor + widget renders): where the lag comes from.

    Wraps a private Textual method; if it is gone, nothing is timed.
    """

    def __init__(self) -> None:
        self.samples_ms: list[float] = []
        self._original = getattr(Screen, "_on_timer_update", None)

    def __enter__(self) -> PaintTimer:
        original = self._original
        if original is not None:
            samples = self.samples_ms

            def timed(screen: Screen[object]) -> None:
                t0 = time.perf_counter()
                original(screen)
                samples.append((time.perf_counter() - t0) * 1000)

            Screen._on_timer_update = timed  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        if self._original is not None:
            Screen._on_timer_update = self._original  # type: ignore[method-assign]


def _pct(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[i]


# -- (a) loop lag under book load ------------------------------------------------


async def _probe(lags_ms: list[float], stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        t0 = loop.time()
        await asyncio.sleep(PROBE_S)
        lags_ms.append(max(0.0, (loop.time() - t0 - PROBE_S) * 1000))


class Injector:
    """Level updates into the connector's book at a target rate, coalesced per batch."""

    def __init__(self, session: Session) -> None:
        engine = session.engine
        book = engine.connectors[VENUE].book(SYMBOL)
        assert isinstance(book, OrderBook), "the app did not subscribe the book"
        self.book = book
        self.clock = session.clock
        self.sink = engine._make_sink(VENUE)  # the sink the connector itself delivers to
        self.rng = random.Random(SEED)
        self.own: tuple[set[int], set[int]] = (set(), set())  # bids, asks we added
        self.updates = 0
        self.book_changes = 0

    def _one(self, best_bid: int, best_ask: int) -> None:
        rng = self.rng
        is_bid = rng.random() < 0.5
        own = self.own[0 if is_bid else 1]
        setter = self.book.set_bid if is_bid else self.book.set_ask
        if own and (len(own) >= MAX_OWN_LEVELS or rng.random() < DELETE_FRACTION):
            price = rng.choice(tuple(own)) if len(own) < 64 else own.pop()
            own.discard(price)
            setter(price, 0)
            return
        distance = 1 + int(rng.expovariate(1 / MEAN_DISTANCE_TICKS))
        price = best_bid - distance if is_bid else best_ask + distance
        setter(price, rng.randint(1, 2_000))
        own.add(price)

    async def run(self, rate: int, stop: asyncio.Event) -> None:
        if rate <= 0:
            await stop.wait()
            return
        loop = asyncio.get_running_loop()
        start = loop.time()
        done = 0
        book = self.book
        while not stop.is_set():
            await asyncio.sleep(1 / BATCH_HZ)
            due = int((loop.time() - start) * rate) - done
            best_bid, best_ask = book.best_bid_ticks(), book.best_ask_ticks()
            if due <= 0 or best_bid is None or best_ask is None:
                continue
            for _ in range(due):
                self._one(best_bid, best_ask)
            done += due
            self.updates += due
            self.book_changes += 1
            self.sink(BookChanged(VENUE, SYMBOL, self.clock.now_ms()))


async def _measure(app: MMApp, injector: Injector, phase: Phase, paints: PaintTimer) -> PhaseResult:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    lags: list[float] = []
    updates0, changes0 = injector.updates, injector.book_changes
    frames0 = app.main.renders
    paints0 = len(paints.samples_ms)
    t0 = loop.time()
    tasks = [
        loop.create_task(_probe(lags, stop)),
        loop.create_task(injector.run(phase.rate, stop)),
    ]
    await asyncio.sleep(phase.seconds)
    stop.set()
    await asyncio.gather(*tasks)
    return PhaseResult(
        phase,
        lags,
        app.main.renders - frames0,
        injector.updates - updates0,
        injector.book_changes - changes0,
        loop.time() - t0,
        paints.samples_ms[paints0:],
    )


async def bench_lag(phases: list[Phase], warmup_s: float) -> list[PhaseResult]:
    tmp = tempfile.TemporaryDirectory(prefix="mmtui-bench-")
    config, _ = load_config(bundled_example(), env={})
    config.journal.path = Path(tmp.name) / "journal.sqlite"
    buffer = LogBuffer(capacity=5000)
    add_handler(buffer)
    logging.getLogger().setLevel(logging.INFO)
    session = build_session(config)
    app = MMApp(session, buffer, refresh_hz=config.ui.refresh_hz)
    results: list[PhaseResult] = []
    try:
        with PaintTimer() as paints:
            await _run_phases(app, session, phases, warmup_s, paints, results)
    finally:
        await session.stop()
        remove_handler(buffer)
        tmp.cleanup()
    return results


async def _run_phases(
    app: MMApp,
    session: Session,
    phases: list[Phase],
    warmup_s: float,
    paints: PaintTimer,
    results: list[PhaseResult],
) -> None:
    async with app.run_test(headless=True, size=SIZE) as pilot:
        for _ in range(500):
            if isinstance(app.screen, MainScreen):
                break
            await pilot.pause(0.01)
        await asyncio.sleep(warmup_s)  # book synced, strategy warming up / quoting
        injector = Injector(session)
        for phase in phases:
            results.append(await _measure(app, injector, phase, paints))
        book = injector.book
        if not book.is_valid():
            print(f"  warning: book invalid at the end: {book.resync_reason}")


# -- (b) launch to first frame ---------------------------------------------------


def _first_frame_s(workdir: Path, timeout: float = 60.0) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMTUI_")}
    for var in ("COLUMNS", "LINES"):
        env.pop(var, None)
    env.update(
        TERM="xterm-256color",
        XDG_STATE_HOME=str(workdir / "state"),
        XDG_CONFIG_HOME=str(workdir / "config"),
        MMTUI_LOG_DIR=str(workdir / "logs"),
        MMTUI_JOURNAL__PATH=str(workdir / "journal.sqlite"),
    )
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    out = bytearray()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mmtui.cli", "--config", str(bundled_example())],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=workdir,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    first: float | None = None
    try:
        deadline = t0 + timeout
        while first is None and time.perf_counter() < deadline:
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            out += data
            if BOOK_TITLE in out:
                first = time.perf_counter() - t0
        if first is None:
            tail = out[-500:].decode(errors="replace")
            raise RuntimeError(f"no first frame within {timeout:.0f}s; output tail: {tail!r}")
        proc.send_signal(signal.SIGTERM)
        end = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < end:  # keep the pty drained
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    os.read(master, 65536)
                except OSError:
                    break
        proc.wait(max(0.1, end - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return first


def bench_first_frame(launches: int) -> list[float]:
    times = []
    for i in range(launches):
        with tempfile.TemporaryDirectory(prefix=f"mmtui-launch{i}-") as tmp:
            times.append(_first_frame_s(Path(tmp)))
    return times


# -- main ------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short phases, 3 launches")
    args = parser.parse_args()
    seconds = 5.0 if args.quick else 20.0
    launches = 3 if args.quick else 5
    phases = [
        Phase("idle (sim only)", 0, seconds / 2),
        Phase("1k updates/s", 1_000, seconds),
        Phase("20k updates/s", 20_000, seconds),
    ]
    started = time.perf_counter()
    print(f"mmtui console benchmark (python {sys.version.split()[0]}, {os.cpu_count()} cpus)")
    print(
        f"(a) MMApp headless {SIZE[0]}x{SIZE[1]}, sim 1x, probe every {PROBE_S * 1000:.0f} ms, "
        f"BookChanged <= {BATCH_HZ}/s"
    )
    for r in asyncio.run(bench_lag(phases, warmup_s=3.0)):
        lags = sorted(r.lags_ms)
        p50, p99 = _pct(lags, 0.50), _pct(lags, 0.99)
        print(
            f"ui lag @ {r.phase.label}: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {lags[-1]:.1f} ms "
            f"(frames {r.frames} in {r.elapsed:.0f} s; injected {r.updates / r.elapsed:,.0f} "
            f"updates/s in {r.book_changes / r.elapsed:,.0f} BookChanged/s)"
        )
        if r.paint_ms:
            paint = sorted(r.paint_ms)
            print(
                f"    screen paint: p50 {_pct(paint, 0.5):.1f} ms, p99 {_pct(paint, 0.99):.1f} ms, "
                f"max {paint[-1]:.1f} ms; {sum(paint) / r.elapsed / 10:.0f}% of the loop"
            )
    print(f"(b) python -m mmtui.cli (bundled example config) in an 80x24 pty, {launches} launches")
    times = bench_first_frame(launches)
    print(
        f"launch to first frame: median {statistics.median(times) * 1000:.0f} ms "
        f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}; "
        + ", ".join(f"{t * 1000:.0f}" for t in times)
        + " ms)"
    )
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
