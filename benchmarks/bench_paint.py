"""What the console costs while it paints: CPU per second, paint time, layouts, GC
pauses and RSS, of the real ``MMApp`` at 160x48.

Run from the repository root::

    .venv/bin/python benchmarks/bench_paint.py                 # 30 s, sim 1x
    .venv/bin/python benchmarks/bench_paint.py --seconds 600   # the 10-minute console run
    .venv/bin/python benchmarks/bench_paint.py --rate 1000     # plus 1k book updates/s
    .venv/bin/python benchmarks/bench_paint.py --profile       # plus the top functions
    .venv/bin/python benchmarks/bench_paint.py --gc off        # without mmtui.gc_policy
    .venv/bin/python benchmarks/bench_paint.py --gc freeze     # gc.freeze, default thresholds

The app runs headless (``App.run_test``: everything but writing the frame to a
terminal) on the bundled example config (sim at 1x real time, Avellaneda-Stoikov
quoting, journal in a temp dir), after a warm-up. ``--rate`` adds bench_ui's
injector (level updates straight into the sim connector's book, one BookChanged
per batch). Printed:

- CPU: process CPU seconds per wall second (core, sim and console together; one
  core is 100%);
- paint: Textual's screen update (``Screen._on_timer_update``: layout, widget
  renders, compositor), p50 / p99 / max and its share of the wall time;
- layouts: full-screen relayouts (``Screen._refresh_layout``) per second;
- GC: collections per generation, gen-2 pause p50 / max and how often;
- loop lag: a 10 ms sleep's lateness, p50 / p99 / max;
- RSS at the start and the end of the measured window, and its growth per hour.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import ctypes
import gc
import io
import logging
import os
import pstats
import sys
import tempfile
import time
import tracemalloc
from collections import Counter, deque
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "benchmarks"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from bench_ui import PROBE_S, Injector, _pct, _probe  # noqa: E402
from samples import Samples  # noqa: E402
from textual.screen import Screen  # noqa: E402

from mmtui import gc_policy  # noqa: E402
from mmtui.app import MainScreen, MMApp  # noqa: E402
from mmtui.config import bundled_example, load_config  # noqa: E402
from mmtui.logsetup import LogBuffer, add_handler, remove_handler  # noqa: E402
from mmtui.session import build_session  # noqa: E402

SIZE = (160, 48)
_LIBC = ctypes.CDLL("libc.so.6")  # --trim: glibc's malloc_trim; mallinfo2
_SQLITE = ctypes.CDLL("libsqlite3.so.0")  # the library Python's sqlite3 links
_SQLITE.sqlite3_memory_used.restype = ctypes.c_int64


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


_LIBC.mallinfo2.restype = _MallInfo2


def pymalloc_line() -> str:
    """pymalloc's arenas and blocks (``sys._debugmallocstats``, which writes to fd 2)."""
    with tempfile.TemporaryFile() as out:
        saved = os.dup(2)
        try:
            sys.stderr.flush()
            os.dup2(out.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        text = out.read().decode()
    stats = {}
    for line in text.splitlines():
        if line.startswith("# ") and "=" in line:
            key, value = line[2:].split("=", 1)
            stats[key.strip()] = int(value.strip().replace(",", ""))
    return (
        f"pymalloc {stats.get('arenas allocated current', 0)} arenas, "
        f"blocks in use {stats.get('bytes in allocated blocks', 0) / 2**20:.1f} MB, "
        f"free blocks {stats.get('bytes in available blocks', 0) / 2**20:.1f} MB"
    )


def heap_line() -> str:
    """Where the native memory is: SQLite's allocations, glibc's heap in use / free."""
    info = _LIBC.mallinfo2()
    return (
        f"sqlite {_SQLITE.sqlite3_memory_used() / 2**20:.1f} MB, "
        f"malloc in use {(info.uordblks + info.hblkhd) / 2**20:.1f} MB, "
        f"free in heap {info.fordblks / 2**20:.1f} MB"
    )


def rss_mb() -> float:
    """Resident set size of this process (Linux /proc)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096 / 2**20


class Timed:
    """Wraps a method of a class to time (and count) its calls."""

    def __init__(self, cls: type, name: str, capacity: int = 50_000) -> None:
        self.cls, self.name = cls, name
        # preallocated: the samples must not grow the RSS this benchmark reports
        self.samples_ms = Samples(capacity)
        self.cpu_ms = Samples(capacity)  # the same calls in this thread's CPU time
        self._original: Callable[..., object] | None = getattr(cls, name, None)

    def __enter__(self) -> Timed:
        original = self._original
        if original is not None:
            samples, cpu = self.samples_ms, self.cpu_ms

            def timed(*args: object, **kwargs: object) -> object:
                t0, c0 = time.perf_counter(), time.thread_time()
                try:
                    return original(*args, **kwargs)
                finally:
                    samples.append((time.perf_counter() - t0) * 1000)
                    cpu.append((time.thread_time() - c0) * 1000)

            setattr(self.cls, self.name, timed)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._original is not None:
            setattr(self.cls, self.name, self._original)


class GcWatch:
    """Collections per generation and their pauses (``gc.callbacks``)."""

    def __init__(self, capacity: int = 200_000) -> None:
        # preallocated: the samples must not grow the RSS this benchmark reports
        self.pauses_ms = {gen: Samples(capacity) for gen in (0, 1, 2)}
        self.cpu_ms = {gen: Samples(capacity) for gen in (0, 1, 2)}
        self._t0 = self._c0 = 0.0
        self.on = False

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if not self.on:
            return
        if phase == "start":
            self._t0, self._c0 = time.perf_counter(), time.thread_time()
            return
        gen = info["generation"]
        self.pauses_ms[gen].append((time.perf_counter() - self._t0) * 1000)
        self.cpu_ms[gen].append((time.thread_time() - self._c0) * 1000)

    def __enter__(self) -> GcWatch:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


async def run(args: argparse.Namespace) -> None:
    tmp = tempfile.TemporaryDirectory(prefix="mmtui-bench-paint-")
    config, _ = load_config(bundled_example(), env={})
    config.journal.path = Path(tmp.name) / "journal.sqlite"
    buffer = LogBuffer(capacity=5000)
    add_handler(buffer)
    logging.getLogger().setLevel(logging.INFO)
    if args.gc == "policy":
        gc_policy.install(args.thresholds or gc_policy.THRESHOLDS)
    session = build_session(config, speed=args.speed)
    app = MMApp(session, buffer, refresh_hz=config.ui.refresh_hz)
    loop = asyncio.get_running_loop()
    span = args.seconds + args.warmup
    lags = Samples.for_rate(1 / PROBE_S, args.seconds)
    try:
        with (
            Timed(Screen, "_on_timer_update", int(30 * span) + 1_000) as paints,
            Timed(Screen, "_refresh_layout", int(30 * span) + 1_000) as layouts,
            GcWatch(int(100 * span) + 1_000) as gcw,
        ):
            async with app.run_test(headless=True, size=SIZE) as pilot:
                for _ in range(500):
                    if isinstance(app.screen, MainScreen):
                        break
                    await pilot.pause(0.01)
                if args.tab:
                    app.main.query_one("#panes").active = f"tab-{args.tab}"  # type: ignore[attr-defined]
                if args.gc != "off":  # MMApp.on_mount did, when installed
                    gc_policy.after_start(force=True)
                await asyncio.sleep(args.warmup)
                for timed in (paints, layouts):
                    timed.samples_ms.clear()
                    timed.cpu_ms.clear()
                stop = asyncio.Event()
                tasks = [loop.create_task(_probe(lags, stop))]  # type: ignore[arg-type]
                if args.rate:
                    tasks.append(loop.create_task(Injector(session).run(args.rate, stop)))
                gc.collect()
                rss0 = rss_mb()
                frames0 = app.main.renders
                profiler = cProfile.Profile() if args.profile else None
                gcw.on = True
                cpu0, t0 = time.process_time(), time.perf_counter()
                if profiler is not None:
                    profiler.enable()
                if args.tracemalloc:
                    tracemalloc.start(25)
                rss_marks = await _watch_rss(args.seconds, args.tracemalloc, args.trim, args.types)
                if profiler is not None:
                    profiler.disable()
                cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
                gcw.on = False
                frames = app.main.renders - frames0
                stop.set()
                await asyncio.gather(*tasks)
                gc.collect()
                rss1 = rss_mb()
                await session.stop()
    finally:
        remove_handler(buffer)
        tmp.cleanup()
    _report(args, cpu, wall, frames, paints, layouts, gcw, lags, rss0, rss1, rss_marks)
    if profiler is not None:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
        stats.print_stats(35)
        print(out.getvalue())


async def _watch_rss(
    seconds: float, traced: bool = False, trim: bool = False, types: bool = False
) -> list[tuple[float, float]]:
    """Sleep ``seconds``; an RSS sample every minute. With ``traced`` (tracemalloc
    running), print each minute the tracebacks whose allocations grew the most
    since the first minute's snapshot, and the traced total."""
    marks: list[tuple[float, float]] = []
    start = time.perf_counter()
    first: tracemalloc.Snapshot | None = None
    counts: Counter[str] | None = None
    while (left := seconds - (time.perf_counter() - start)) > 0:
        await asyncio.sleep(min(60.0, left))
        if left > 60.0:
            if trim:
                gc.collect()
                _LIBC.malloc_trim(0)
            marks.append((time.perf_counter() - start, rss_mb()))
            print(
                f"[{marks[-1][0]:.0f} s] rss {marks[-1][1]:.1f} MB; {heap_line()}; "
                f"{pymalloc_line()}",
                flush=True,
            )
            if traced:
                first = _trace_report(first, marks[-1])
            if types:
                counts = _type_report(counts)
    return marks


_SIZED = (dict, list, set, deque)
_LENGTHS: dict[int, int] = {}


@contextlib.contextmanager
def every_object() -> Iterator[list[object]]:
    """The objects the collector tracks, the frozen ones too (those made before the
    freeze), collected first and frozen again after. Unfreeze, then collect: a freeze
    with cyclic garbage alive keeps it for good (the ``--types`` reports' own leak,
    measured as the process's growth, before)."""
    gc.unfreeze()
    gc.collect()
    try:
        yield gc.get_objects()
    finally:
        gc.freeze()


def _type_report(first: Counter[str] | None, top: int = 12) -> Counter[str]:
    """``--types``: objects the collector tracks, by type, and the containers (dicts,
    lists, sets, deques; frozen ones too) whose length grew most since the first
    minute, each with a sample entry and who holds it (cheap: no tracing)."""
    with every_object() as objects:
        now: Counter[str] = Counter(type(o).__qualname__ for o in objects)
        lengths = {id(o): (len(o), o) for o in objects if isinstance(o, _SIZED)}
        del objects
        if first is None:
            _LENGTHS.update({k: n for k, (n, _) in lengths.items()})
            return now
        grown = sorted(((now[k] - first[k], k) for k in now), reverse=True)[:top]
        print(
            "  tracked objects grown since the first minute: "
            + ", ".join(f"{name} {diff:+d}" for diff, name in grown if diff > 0),
            flush=True,
        )
        rising = sorted(
            ((n - _LENGTHS[k], o) for k, (n, o) in lengths.items() if k in _LENGTHS),
            key=lambda x: -x[0],
        )[:top]
        for diff, o in rising:
            if diff <= 0:
                break
            sample = next(iter(o.items() if isinstance(o, dict) else o), None)
            holders = [type(r).__qualname__ for r in gc.get_referrers(o)][:3]
            print(
                f"    {type(o).__qualname__} +{diff} (now {len(o)}): "
                f"{repr(sample)[:90]}  held by {holders}",
                flush=True,
            )
        return first


def _trace_report(
    first: tracemalloc.Snapshot | None, mark: tuple[float, float]
) -> tracemalloc.Snapshot:
    """The first snapshot, or the top growers since it (by traceback)."""
    gc.collect()
    snap = tracemalloc.take_snapshot().filter_traces(
        (tracemalloc.Filter(False, tracemalloc.__file__),)
    )
    traced, _peak = tracemalloc.get_traced_memory()
    print(f"[{mark[0]:.0f} s] rss {mark[1]:.1f} MB, traced {traced / 2**20:.1f} MB", flush=True)
    if first is None:
        return snap
    growers = sorted(snap.compare_to(first, "traceback"), key=lambda s: -s.size_diff)
    for stat in growers[:8]:
        if stat.size_diff <= 0:
            continue
        print(f"  {stat.size_diff / 1024:+.0f} KiB, {stat.count_diff:+d} blocks:")
        frames = [
            f for f in stat.traceback if "/mmtui/" in f.filename or "site-packages" in f.filename
        ]
        for frame in (frames or list(stat.traceback))[-12:]:
            print(f"      {frame.filename.split('site-packages/')[-1]}:{frame.lineno}")
    sys.stdout.flush()
    return first


def _report(
    args: argparse.Namespace,
    cpu: float,
    wall: float,
    frames: int,
    paints: Timed,
    layouts: Timed,
    gcw: GcWatch,
    lags: Samples,
    rss0: float,
    rss1: float,
    rss_marks: list[tuple[float, float]],
) -> None:
    policy = f"gc {args.gc}, thresholds {gc.get_threshold()}"
    print(
        f"console {SIZE[0]}x{SIZE[1]} headless, sim {args.speed:g}x, "
        f"tab {args.tab or 'positions'}, {args.rate} injected updates/s, {policy}: "
        f"{wall:.0f} s measured"
    )
    print(f"cpu: {cpu / wall * 100:.1f}% of a core ({cpu:.1f} s in {wall:.0f} s)")
    paint, paint_cpu = sorted(paints.samples_ms), sorted(paints.cpu_ms)
    if paint:
        print(
            f"paint: {len(paint) / wall:.1f}/s, p50 {_pct(paint, 0.5):.2f} ms, "
            f"p99 {_pct(paint, 0.99):.2f} ms, max {paint[-1]:.1f} ms; "
            f"{sum(paint) / wall / 10:.1f}% of the wall time; {frames / wall:.1f} renders/s"
        )
        print(
            f"paint cpu: p50 {_pct(paint_cpu, 0.5):.2f} ms, p99 {_pct(paint_cpu, 0.99):.2f} ms, "
            f"{sum(paint_cpu) / wall / 10:.1f}% of a core"
        )
    lay = sorted(layouts.samples_ms)
    print(
        f"layouts: {len(lay) / wall:.1f}/s"
        + (f", p50 {_pct(lay, 0.5):.2f} ms, total {sum(lay) / wall / 10:.1f}%" if lay else "")
    )
    counts = ", ".join(f"gen{g} {len(p)}" for g, p in gcw.pauses_ms.items())
    print(f"gc: {counts} in {wall:.0f} s")
    for label, gens in (("gen-2", (2,)), ("gen-1", (1,)), ("gen-0", (0,))):
        pauses = sorted(p for g in gens for p in gcw.pauses_ms[g])
        cpu_pauses = sorted(p for g in gens for p in gcw.cpu_ms[g])
        if pauses:
            print(
                f"    {label} pause: p50 {_pct(pauses, 0.5):.2f} ms, p99 {_pct(pauses, 0.99):.2f}, "
                f"max {pauses[-1]:.1f} (cpu p50 {_pct(cpu_pauses, 0.5):.2f}, "
                f"max {cpu_pauses[-1]:.1f}); one every {wall / len(pauses):.2f} s; "
                f"{sum(pauses) / wall / 10:.2f}% of the wall time"
            )
    lag = sorted(lags)
    if lag:
        print(
            f"loop lag: p50 {_pct(lag, 0.5):.1f} ms, p99 {_pct(lag, 0.99):.1f} ms, "
            f"max {lag[-1]:.1f} ms"
        )
    growth = (rss1 - rss0) / wall * 3600
    print(f"rss: {rss0:.1f} -> {rss1:.1f} MB ({growth:+.1f} MB/h over {wall / 60:.1f} min)")
    if rss_marks:
        print("rss per minute: " + ", ".join(f"{m:.1f}" for _, m in rss_marks))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before measuring")
    parser.add_argument("--speed", type=float, default=1.0, help="sim speed (x real time)")
    parser.add_argument("--rate", type=int, default=0, help="injected book level updates/s")
    parser.add_argument(
        "--tab", choices=("positions", "orders", "telemetry", "log"), help="the tab shown"
    )
    parser.add_argument(
        "--thresholds",
        type=lambda text: tuple(int(x) for x in text.split(",")),
        help="with --gc policy: gen0,gen1,gen2 thresholds instead of gc_policy's",
    )
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="trace allocations (25 frames); each minute print the top growers",
    )
    parser.add_argument(
        "--types",
        action="store_true",
        help="each minute, the object types (collector-tracked) whose count grew most",
    )
    parser.add_argument(
        "--trim",
        action="store_true",
        help="malloc_trim(0) before each RSS sample: what the C heap can give back",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the measured window")
    parser.add_argument(
        "--gc",
        choices=("off", "freeze", "policy"),
        default="policy",
        help="off: Python's defaults; freeze: gc_policy.after_start only; policy: all of it",
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
