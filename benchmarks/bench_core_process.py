"""The core's event-loop lag while the console paints at 160x48: the core in the
console's process (today's ``mmtui``) against the core in a child process behind
its socket (``ui.core: process``: ``mmtui serve`` + the console attached as owner).

Run from the repository root::

    .venv/bin/python benchmarks/bench_core_process.py             # ~2 x 40 s
    .venv/bin/python benchmarks/bench_core_process.py --seconds 15 --rate 5000

Both arrangements run the same thing in a real 160x48 pseudo-terminal (the
console's output drained by this process, as a terminal would): the bundled
example config (sim at 1x real time, Avellaneda-Stoikov with a 10 ms tick,
journal in a temp dir), a busy feed injected into the core's book
(``bench_ui.Injector``: ``--rate`` level updates a second, one ``BookChanged``
per batch at most 200 times a second), and a probe task *in the core's process*
that sleeps 10 ms again and again: how late it wakes is the loop lag every
order, cancel and book event of the core sees. The console's render count is
printed too, to show it painted all along. Each process's RSS is sampled once a
minute after the warm-up (the console's and, with the core in a child process,
the core's) and printed with its slope: a long run (``--only process --seconds
600 --rate 0``) shows whether either grows; ``--tab log`` keeps the console on
another tab. ``--types`` (each minute: the console's collector-tracked objects
that grew, the containers that grew, who holds its ``Strip``s) and ``--trace``
(tracemalloc, slows the console several times) say what grows in the console's
process, printed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import gc
import json
import logging
import os
import select
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
import tracemalloc
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "benchmarks"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from bench_paint import (  # noqa: E402
    GcWatch,
    _trace_report,
    _type_report,
    every_object,
    heap_line,
    pymalloc_line,
)
from bench_ui import PROBE_S, Injector, _pct  # noqa: E402
from samples import Samples  # noqa: E402

from mmtui import gc_policy  # noqa: E402
from mmtui.config import Config, bundled_example, load_config  # noqa: E402
from mmtui.logsetup import LogBuffer, add_handler  # noqa: E402
from mmtui.session import Session, build_session  # noqa: E402

COLS, ROWS = 160, 48
VENUE, SYMBOL = "sim", "BTC-PERP"


def _config(folder: Path) -> Config:
    config, _ = load_config(bundled_example(), env={})
    config.journal.path = folder / "journal.sqlite"
    for spec in config.strategies:
        if spec.kind == "avellaneda_stoikov":
            spec.params["tick_interval_ms"] = 10
    return config


async def _probe(lags: Samples, stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        t0 = loop.time()
        await asyncio.sleep(PROBE_S)
        lags.append(max(0.0, (loop.time() - t0 - PROBE_S) * 1000))


async def _measure_core(session: Session, args: argparse.Namespace) -> list[float]:
    """Warm up, then probe the loop for ``args.seconds`` under the injected feed."""
    engine = session.engine
    while engine.connectors[VENUE].book(SYMBOL) is None:
        await asyncio.sleep(0.1)
    # allocated (and touched) before the warm-up ends: the probe's samples must not
    # grow the RSS this benchmark reports
    lags = Samples.for_rate(1 / PROBE_S, args.seconds)
    await asyncio.sleep(args.warmup)
    injector = Injector(session)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(_probe(lags, stop)), loop.create_task(injector.run(args.rate, stop))]
    await asyncio.sleep(args.seconds)
    stop.set()
    await asyncio.gather(*tasks)
    return lags.tolist()


def _write(path: str, **values: object) -> None:
    Path(path).write_text(json.dumps(values), encoding="utf-8")


# -- roles (each runs in its own process) --------------------------------------------


async def role_inprocess(args: argparse.Namespace) -> None:
    from mmtui.app import MMApp

    folder = Path(tempfile.mkdtemp(prefix="mmtui-bench-"))
    config = _config(folder)
    buffer = LogBuffer(capacity=5000)
    add_handler(buffer)
    logging.getLogger().setLevel(logging.INFO)
    session = build_session(config)
    await session.start()
    app = MMApp(session, buffer, refresh_hz=config.ui.refresh_hz)

    async def drive() -> None:
        while not hasattr(app, "main"):
            await asyncio.sleep(0.05)
        lags = await _measure_core(session, args)
        _write(args.out, lags=lags, renders=app.main.renders)
        app.safe_exit()

    task = asyncio.get_running_loop().create_task(drive())
    try:
        await app.run_async()
    finally:
        task.cancel()
        await session.stop()


async def role_core(args: argparse.Namespace) -> None:
    from mmtui.remote.server import CoreServer

    folder = Path(tempfile.mkdtemp(prefix="mmtui-bench-"))
    config = _config(folder)
    buffer = LogBuffer(capacity=5000)
    add_handler(buffer)
    logging.getLogger().setLevel(logging.INFO)
    session = build_session(config)
    await session.start()
    server = CoreServer(session, Path(args.socket), buffer, refresh_hz=config.ui.refresh_hz)
    await server.start()
    gc_policy.after_start()  # as ``mmtui serve`` does: freeze what lives from now on
    gcw = GcWatch(int(100 * (args.seconds + args.warmup)) + 1_000)
    gc.callbacks.append(gcw)

    publish_ms = Samples.for_rate(30, args.seconds + args.warmup + 120)
    publish = server.publish

    def timed_publish(*, force: bool = False) -> None:
        t0 = time.perf_counter()
        publish(force=force)
        publish_ms.append((time.perf_counter() - t0) * 1000)

    server.publish = timed_publish  # type: ignore[method-assign]

    async def measure() -> None:
        gcw.on = True
        lags = await _measure_core(session, args)
        _write(
            args.out,
            lags=lags,
            publish_ms=publish_ms.tolist()[-len(lags) :],
            gc2_ms=gcw.pauses_ms[2].tolist(),
        )

    task = asyncio.get_running_loop().create_task(measure())
    await server.stop_requested.wait()
    task.cancel()
    await session.stop()
    await server.finish(session.summary())


async def role_console(args: argparse.Namespace) -> None:
    from mmtui.app import MMApp
    from mmtui.remote.client import RemoteCore

    child = subprocess.Popen(
        [sys.executable, __file__, "--role", "core", "--out", args.out, "--socket", args.socket]
        + [f"--{k}={getattr(args, k)}" for k in ("seconds", "rate", "warmup")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=open(args.out + ".stderr", "w"),  # noqa: SIM115
        start_new_session=True,
    )
    buffer = LogBuffer(capacity=5000)
    core = RemoteCore(Path(args.socket), role="owner", logs=buffer)
    core.attached = False
    while True:
        try:
            await core.connect()
            break
        except OSError:
            if child.poll() is not None:
                raise RuntimeError("the core process ended") from None
            await asyncio.sleep(0.1)
    add_handler(buffer)
    app = MMApp(core, buffer)

    async def drive() -> None:
        while not hasattr(app, "main"):
            await asyncio.sleep(0.05)
        if args.tab:
            app.main.query_one("#panes").active = f"tab-{args.tab}"  # type: ignore[attr-defined]
        while not Path(args.out).exists():
            await asyncio.sleep(0.2)
            if core.ended:
                return
        _write(args.out + ".console", renders=app.main.renders)
        app.safe_exit()

    task = asyncio.get_running_loop().create_task(drive())
    watch = None
    if args.types or args.trace:
        watch = asyncio.get_running_loop().create_task(_watch_console(args))
    try:
        await app.run_async()
    finally:
        task.cancel()
        if watch is not None:
            watch.cancel()
        if not Path(args.out + ".console").exists():  # why it ended early (its tty is gone)
            Path(args.out + ".why").write_text(f"console ended: {core.ended or 'exit'}")
        child.wait(60)


async def _watch_console(args: argparse.Namespace) -> None:
    """``--types`` / ``--trace``: the console process's own growers, each minute after
    the warm-up, written to ``<out>.growth`` (its stdout is the terminal it paints:
    redirected only while a report prints, never across an await)."""
    await asyncio.sleep(args.warmup + 20)
    if args.trace:
        tracemalloc.start(10)
    counts, first, holders = None, None, None
    started = time.monotonic()
    with open(args.out + ".growth", "w") as sink:
        while True:
            mark = (time.monotonic() - started, float("nan"))
            with contextlib.redirect_stdout(sink):
                try:
                    print(f"[{mark[0]:.0f} s] {heap_line()}; {pymalloc_line()}", flush=True)
                    if args.types:
                        counts = _type_report(counts)
                        holders = _holder_report("Strip", holders)
                    if args.trace:
                        first = _trace_report(first, mark)
                except Exception as exc:  # a diagnostic: say it, keep the console running
                    print(f"  report failed: {exc!r}", flush=True)
            await asyncio.sleep(60.0)


def _describe(holder: object, held: object) -> str:
    """The holder's type, and for a dict the (text) key ``held`` is under."""
    name = type(holder).__qualname__
    if isinstance(holder, dict):
        key = next((k for k, v in holder.items() if v is held), None)
        if isinstance(key, str):
            name += f"[{key!r}]"
    return name


def _holder_report(kind: str, first: Counter[str] | None, levels: int = 12) -> Counter[str]:
    """``--types``: who holds the objects of type ``kind`` (a chain of holders,
    ``levels`` up; the first referrer at each), counted; printed as growth since
    the first minute."""
    with every_object() as objects:
        targets = [o for o in objects if type(o).__qualname__ == kind]
        chains: dict[int, list[str]] = {id(t): [] for t in targets}
        current = {id(t): id(t) for t in targets}
        for _ in range(levels):
            wanted: dict[int, list[int]] = {}
            for target, at in current.items():
                wanted.setdefault(at, []).append(target)
            found: dict[int, tuple[object, object]] = {}
            for o in objects:
                for r in gc.get_referents(o):
                    if id(r) in wanted and id(r) not in found and r is not o:
                        found[id(r)] = (o, r)
            current = {}
            for at, group in wanted.items():
                holder, held = found.get(at, (None, None))
                text = "-" if holder is None else _describe(holder, held)
                for target in group:
                    chains[target].append(text)
                    if holder is not None and not isinstance(holder, type):
                        current[target] = id(holder)
        now = Counter(" <- ".join(chain) for chain in chains.values())
        del objects, targets
        if first is None:
            print(f"  {kind}: {sum(now.values())} held", flush=True)
            return now
        grown = sorted(((now[k] - first[k], k) for k in now | first), reverse=True)[:8]
        print(f"  {kind}: {sum(now.values())} held; grown since the first minute:", flush=True)
        for diff, chain in grown:
            if diff > 0:
                print(f"    +{diff} (now {now[chain]}): {chain}", flush=True)
        return first


# -- the parent: a pty per arrangement ------------------------------------------------


def run_in_pty(role: str, args: argparse.Namespace, out: Path) -> bytes:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMTUI_")}
    for var in ("COLUMNS", "LINES"):
        env.pop(var, None)
    work = out.parent
    env.update(
        TERM="xterm-256color",
        XDG_STATE_HOME=str(work / "state"),
        XDG_CONFIG_HOME=str(work / "config"),
        MMTUI_LOG_DIR=str(work / "logs"),
        PYTHONPATH=str(ROOT),
    )
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    argv = [sys.executable, __file__, "--role", role, "--out", str(out)]
    argv += ["--socket", str(work / "core.sock")]
    argv += [f"--{k}={getattr(args, k)}" for k in ("seconds", "rate", "warmup")]
    argv += [f"--{k}" for k in ("types", "trace") if getattr(args, k)]
    argv += [f"--tab={args.tab}"] if args.tab else []
    proc = subprocess.Popen(
        argv, stdin=slave, stdout=slave, stderr=slave, cwd=work, env=env, start_new_session=True
    )
    os.close(slave)
    tail = bytearray()
    deadline = time.monotonic() + args.seconds + args.warmup + 180
    next_rss = time.monotonic() + args.warmup + 20  # the first sample: warm-up done
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if time.monotonic() >= next_rss:
                RSS_MARKS.append(_rss_tree(proc.pid))
                next_rss += 60.0
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    tail = (tail + os.read(master, 65536))[-4000:]
                except OSError:
                    break
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(master)
    if not out.exists():
        why = Path(str(out) + ".why")
        reason = why.read_text() if why.exists() else ""
        raise RuntimeError(f"{role}: no result ({reason}); output tail: {bytes(tail)[-800:]!r}")
    return bytes(tail)


RSS_MARKS: list[list[float]] = []  # per minute: RSS (MB) of the role's process, its children


def _rss_tree(pid: int) -> list[float]:
    """RSS in MB of ``pid`` and its child processes (Linux /proc)."""
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    pids += [int(c) for c in children]
    sizes = []
    for p in pids:
        try:
            sizes.append(int(Path(f"/proc/{p}/statm").read_text().split()[1]) * 4096 / 2**20)
        except OSError:
            sizes.append(float("nan"))
    return sizes


def _report_rss(role: str) -> None:
    """Each process's RSS per minute after the warm-up (console, then core)."""
    if len(RSS_MARKS) < 2:
        return
    names = ["console + core"] if role == "inprocess" else ["console", "core"]
    for i, name in enumerate(names):
        column = [mark[i] for mark in RSS_MARKS if len(mark) > i]
        if len(column) >= 2:
            slope = (column[-1] - column[0]) / (len(column) - 1) * 60
            print(
                f"  rss {name}: "
                + ", ".join(f"{m:.1f}" for m in column)
                + f" MB per minute ({slope:+.1f} MB/h)",
                flush=True,
            )
    RSS_MARKS.clear()


def report(label: str, lags: list[float], renders: int) -> str:
    lags = sorted(lags)
    return (
        f"core loop lag, {label}: p50 {_pct(lags, 0.50):.1f} ms, p99 {_pct(lags, 0.99):.1f} ms, "
        f"max {lags[-1]:.1f} ms ({len(lags)} probes; console frames {renders})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--role", default="main", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--socket", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=30.0, help="measured, per arrangement")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--rate", type=int, default=5000, help="injected level updates/s")
    parser.add_argument("--only", choices=("inprocess", "process"), help="run one arrangement only")
    parser.add_argument(
        "--tab", choices=("positions", "orders", "telemetry", "log"), help="the console's tab"
    )
    parser.add_argument(
        "--types", action="store_true", help="the console's growing object types each minute"
    )
    parser.add_argument(
        "--trace", action="store_true", help="the console's growing allocations (tracemalloc)"
    )
    args = parser.parse_args()
    if args.role != "main":
        gc_policy.install()  # as the ``mmtui`` command does in every process
    if args.role == "inprocess":
        asyncio.run(role_inprocess(args))
        return
    if args.role == "core":
        asyncio.run(role_core(args))
        return
    if args.role == "console":
        asyncio.run(role_console(args))
        return
    print(
        f"160x48 console (tab {args.tab or 'positions'}), sim 1x, AS tick 10 ms, "
        f"{args.rate} injected updates/s, "
        f"{args.seconds:g} s measured after {args.warmup:g} s"
    )
    arrangements = (("in-process console", "inprocess"), ("core in a child process", "console"))
    for label, role in arrangements:
        if args.only and args.only != ("inprocess" if role == "inprocess" else "process"):
            continue
        with tempfile.TemporaryDirectory(prefix="mmtui-bcp-", dir="/tmp") as tmp:
            out = Path(tmp) / "result.json"
            tail = run_in_pty(role, args, out)
            result = json.loads(out.read_text())
            renders = result.get("renders")
            console = Path(str(out) + ".console")
            if console.exists():
                renders = json.loads(console.read_text())["renders"]
            elif role == "console":
                print(f"the console wrote no result; its output ended: {tail[-600:]!r}")
            print(report(label, result["lags"], renders or 0), flush=True)
            _report_rss(role)
            growth = Path(str(out) + ".growth")
            if growth.exists():
                print("  the console's growth (--types / --trace):\n" + growth.read_text())
            if result.get("gc2_ms"):
                pauses = sorted(result["gc2_ms"])
                print(
                    f"  the core's full collections (wall, from start, frozen heap): "
                    f"{len(pauses)}, p50 {_pct(pauses, 0.5):.1f} ms, max {pauses[-1]:.1f} ms",
                    flush=True,
                )
            if result.get("publish_ms"):
                cost = sorted(result["publish_ms"])
                print(
                    f"  the server's publish (views -> changed sections -> frame, per viewer "
                    f"write): p50 {_pct(cost, 0.5):.2f} ms, p99 {_pct(cost, 0.99):.2f} ms, "
                    f"max {cost[-1]:.2f} ms ({len(cost)} publishes)",
                    flush=True,
                )


if __name__ == "__main__":
    main()
