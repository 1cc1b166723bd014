"""Tick-to-trade on the Backpack emulator: from a book change leaving the venue to our
first order request arriving there, with the stage breakdown and the floor.

Run from the repository root::

    .venv/bin/python benchmarks/bench_tick_to_trade.py [--triggers 60] [--tick-ms 500]
        [--tick-driven] [--runs 1] [--interval-ms MS] [--console COLSxROWS] [--json]

Three processes on 127.0.0.1, as in production:

- **the venue**: the Backpack emulator (``mmtui emulate backpack``'s, its own process).
  After a warm-up it stops stepping its market; then, every ``--interval-ms``
  (jittered ±50 %), it moves the fair value ±5 USD (50 ticks) and steps once: the
  crowd follows and a depth frame leaves. Its measurement hooks (off by default:
  ``SocketSet.on_send``, ``EmulatorHarness.on_request``) stamp every frame leaving
  and every HTTP request arriving.
- **the core**: the session ``mmtui --headless`` runs (``build_session`` on the
  config ``mmtui emulate`` writes): the real Backpack connector and an
  Avellaneda–Stoikov strategy (``requote_ticks`` 20, ``tick_interval_ms``
  ``--tick-ms``; ``--tick-driven``: ``requote_on_book: false``, the old behaviour).
  Probes stamp each depth frame received, each ``on_book``, and each request handed
  to the HTTP client; a task measures the loop's lag (a 1 ms sleep's overshoot).
  ``--console 160x48``: the same session under the real console (``MMApp``) on a
  pseudo-terminal of that size, its output read and dropped; with ``--attach`` the
  console runs in its own process (``mmtui attach`` on the core's socket: plain
  ``mmtui``'s ``ui.core: process``) and the core serves it read-model snapshots.
- **this process**, idle otherwise, measures the floor in the same run: a bare
  WebSocket client on the same depth stream (venue send -> received; the core's own
  socket's figure when less: the venue writes to the probe after the core), the
  frame's parse and an order's signature (median of many), and an HTTP request as
  prebuilt bytes on a kept socket (written -> arrived at the venue's handler; the
  same through aiohttp is printed beside it).

Per trigger: t2t = first order request (place or cancel) arriving at the venue -
the trigger's depth frame leaving for our connector. Stages: venue->connector (frame
received), connector->strategy (``on_book`` on that book), strategy->request sent (the
request handed to aiohttp: pricing, risk, gateway, signing), request->venue (aiohttp
and loopback). Clocks: ``time.time_ns()`` in every process (one machine).

Internal roles (``--role venue|core``) are how the script starts its own processes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(Path(__file__).resolve().parent))

from t2t_measure import (  # noqa: E402
    DEPTH,
    MOVE,
    PROBE_HEADER,
    analyse,
    floor_probe,
    is_stream,
    now_ns,
    report,
)

# -- the venue process -----------------------------------------------------------------


def run_venue(folder: Path) -> int:
    from connectors.backpack.emulator import backpack_emulator
    from connectors.sim.venue import FlowParams
    from mmtui.emulate import ACCOUNT, new_keypair, write_backpack_files

    # ``mmtui emulate backpack``'s emulator, with a crowd that refills every level at
    # once (one step after a move its whole ladder has moved: a trigger always moves
    # the touch by the full 50 ticks) and no takers
    api_key, api_secret = new_keypair()
    flow = FlowParams(refill_prob=1.0, taker_rate=0.0)  # nobody trades: no fills
    harness = backpack_emulator({api_key: ACCOUNT}, flow=flow).start()
    config = write_backpack_files(folder, harness.base_url, harness.ws_url, api_key, api_secret)
    sent: list[tuple[int, int, str]] = []  # (ns, client id, frame)
    arrived: list[tuple[int, str, str, str]] = []  # (ns, method, path, probe id)
    triggers: list[int] = []

    def on_send(conn: Any, text: str) -> None:
        if is_stream(text, DEPTH + '"') or is_stream(text, "account."):
            sent.append((now_ns(), id(conn), text))

    def on_request(request: Any) -> None:
        arrived.append(
            (now_ns(), request.method, request.path, request.headers.get(PROBE_HEADER, ""))
        )

    harness.dialect.sockets.on_send = on_send  # type: ignore[attr-defined]
    harness.on_request = on_request
    print(json.dumps({"config": str(config), "ws": harness.ws_url, "rest": harness.base_url}))
    sys.stdout.flush()
    market = harness.world.market
    for line in sys.stdin:  # commands from the driver
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == "pause":
            harness.pause()
        elif cmd[0] == "go":
            count, interval_ms, seed = int(cmd[1]), float(cmd[2]), int(cmd[3])
            rng = random.Random(seed)
            for k in range(count):
                time.sleep(interval_ms / 1000 * rng.uniform(0.5, 1.5))
                sign = 1 if k % 2 == 0 else -1

                def move(sign: int = sign) -> None:
                    # the fair value moves and the venue steps once (its crowd follows:
                    # one depth frame); the market's own random walk stays still, so
                    # every trigger moves the mid by the same 5 USD
                    triggers.append(now_ns())
                    market.shock("BTC", sign * MOVE)
                    harness._now_ms += harness.step_ms
                    harness.venue.step(harness._now_ms, harness.step_ms)

                harness.call(move)
            time.sleep(max(0.5, interval_ms / 1000 * 2))
            print(json.dumps({"done": True}))
            sys.stdout.flush()
        elif cmd[0] == "dump":
            Path(cmd[1]).write_bytes(
                orjson.dumps({"sent": sent, "arrived": arrived, "triggers": triggers})
            )
            print(json.dumps({"dumped": True}))
            sys.stdout.flush()
        elif cmd[0] == "stop":
            break
    harness.stop()
    return 0


# -- the core process ------------------------------------------------------------------


def run_core(config_path: Path, trace_path: Path, console: bool, serve: Path | None) -> int:
    return asyncio.run(_core(config_path, trace_path, console, serve))


def run_attach(socket_path: Path) -> int:
    """The console in its own process, attached to the core's socket (plain ``mmtui``'s
    arrangement: ``ui.core: process``)."""
    from mmtui.cli import main as mmtui_main

    return mmtui_main(["attach", "--socket", str(socket_path)])


async def _core(config_path: Path, trace_path: Path, console: bool, serve: Path | None) -> int:
    from connectors.backpack.ws import BackpackWs
    from connectors.common.http import HttpClient
    from mmtui.config import load_config
    from mmtui.session import build_session
    from strategies.avellaneda_stoikov import AvellanedaStoikov

    received: list[tuple[int, str]] = []
    books: list[tuple[int, int]] = []
    requests: list[tuple[int, str, str]] = []
    lags: list[float] = []

    handle = BackpackWs.handle

    def probe_handle(self: Any, ws: Any, raw: str | bytes) -> bool:
        t = now_ns()
        if isinstance(raw, str) and is_stream(raw, DEPTH + '"'):
            received.append((t, raw))
        return handle(self, ws, raw)

    on_book = AvellanedaStoikov.on_book

    def probe_on_book(self: Any, venue: str, symbol: str) -> None:
        book = self.ctx.book(venue, symbol)
        books.append((now_ns(), book.seq if book is not None else -1))
        on_book(self, venue, symbol)

    answer = HttpClient.answer

    async def probe_answer(self: Any, method: str, path: str, **kw: Any) -> Any:
        requests.append((now_ns(), method.upper(), path))
        return await answer(self, method, path, **kw)

    BackpackWs.handle = probe_handle  # type: ignore[method-assign]
    AvellanedaStoikov.on_book = probe_on_book  # type: ignore[method-assign]
    HttpClient.answer = probe_answer  # type: ignore[method-assign]

    config, _ = load_config(config_path, env={})
    session = build_session(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    ready_file = trace_path.with_suffix(".ready")

    async def lag_probe() -> None:
        while True:
            t0 = time.perf_counter()
            await asyncio.sleep(0.001)
            lags.append((time.perf_counter() - t0 - 0.001) * 1000)

    async def when_quoting() -> None:
        runner = next(iter(session.engine.strategies.values()))
        while len(runner.orders()) < 2:  # quoting: warmed up
            await asyncio.sleep(0.05)
        ready_file.write_text("ready")  # stdout may be the console's terminal
        await lag_probe()

    await session.start()
    probe = loop.create_task(when_quoting())
    server = None
    if serve is not None:  # the core served on a socket; the console attaches from outside
        from mmtui.logsetup import LogBuffer
        from mmtui.remote.server import CoreServer

        server = CoreServer(
            session, serve, LogBuffer(capacity=5000), refresh_hz=config.ui.refresh_hz
        )
        await server.start()
    if console:  # the real console, painting on the pty the driver gave us
        from mmtui.app import MMApp
        from mmtui.logsetup import LogBuffer

        app = MMApp(session, LogBuffer(capacity=5000), refresh_hz=config.ui.refresh_hz, bell=False)
        loop.add_signal_handler(signal.SIGTERM, lambda: app.call_later(app.safe_exit))
        await app.run_async()
    else:
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
    probe.cancel()
    await session.stop()
    if server is not None:
        await server.finish(session.summary())
    trace_path.write_bytes(
        orjson.dumps(
            {
                "received": received,
                "books": books,
                "requests": requests,
                "lags": lags,
                "rejections": dict(session.engine.risk.rejections),
            }
        )
    )
    return 0


# -- the driver ---------------------------------------------------------------------------


class Proc:
    """A child in its own process group, talking JSON lines on stdout (or, with
    ``pty`` = (cols, rows), on a pseudo-terminal of that size, read and dropped)."""

    def __init__(
        self, args: list[str], *, stdin: bool = False, pty: tuple[int, int] | None = None
    ) -> None:
        self._master: int | None = None
        if pty is None:
            self.p = subprocess.Popen(
                [sys.executable, __file__, *args],
                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                start_new_session=True,  # setsid: its own group, killed by its id only
                cwd=ROOT,
            )
            return
        import fcntl
        import pty as ptys
        import struct
        import termios

        master, slave = ptys.openpty()
        cols, rows = pty
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(cols), "LINES": str(rows)}
        self.p = subprocess.Popen(
            [sys.executable, __file__, *args],
            stdin=slave,
            stdout=slave,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            cwd=ROOT,
            env=env,
        )
        os.close(slave)
        self._master = master
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        """Read what the console paints (a terminal that never reads would stall it)."""
        assert self._master is not None
        with contextlib.suppress(OSError):
            while os.read(self._master, 65536):
                pass

    def send(self, line: str) -> None:
        assert self.p.stdin is not None
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()

    def read(self, timeout: float = 60.0) -> dict[str, Any]:
        assert self.p.stdout is not None
        result: dict[str, Any] = {}

        def read() -> None:
            line = self.p.stdout.readline()  # type: ignore[union-attr]
            if line:
                result.update(json.loads(line))

        t = threading.Thread(target=read, daemon=True)
        t.start()
        t.join(timeout)
        if not result:
            raise RuntimeError(f"child {self.p.args[2:]} said nothing in {timeout} s")
        return result

    def kill(self) -> None:
        if self.p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.p.pid, signal.SIGKILL)
        self.p.wait()


def _configure(config: Path, tick_ms: int, on_book: bool) -> None:
    data = yaml.safe_load(config.read_text())
    data["strategies"][0]["params"].update(
        tick_interval_ms=tick_ms, requote_on_book=on_book, warmup_secs=2
    )
    data["journal"] = {"enabled": False}
    config.write_text(yaml.safe_dump(data, sort_keys=False))


def one_run(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="t2t-") as tmp:
        folder = Path(tmp)
        venue = Proc(["--role", "venue", "--dir", str(folder)], stdin=True)
        core: Proc | None = None
        try:
            info = venue.read()
            config = Path(info["config"])
            _configure(config, args.tick_ms, not args.tick_driven)
            core_trace = folder / "core.json"
            role = ["--role", "core", "--config", str(config), "--trace", str(core_trace)]
            attach: Proc | None = None
            sock = folder / "core.sock"
            if args.attach:
                core = Proc([*role, "--serve", str(sock)])
            else:
                core = Proc(role + (["--console-core"] if args.console else []), pty=args.console)
            ready = core_trace.with_suffix(".ready")
            deadline = time.monotonic() + 90
            while not ready.exists():  # quoting
                if time.monotonic() > deadline or core.p.poll() is not None:
                    raise RuntimeError("the core did not start quoting")
                time.sleep(0.1)
            if args.attach:
                attach = Proc(["--role", "attach", "--socket", str(sock)], pty=args.console)
                time.sleep(3.0)  # the console starts and paints before the triggers
                if attach.p.poll() is not None:
                    raise RuntimeError("the attached console did not start")
            venue.send("pause")
            time.sleep(0.5)
            out: dict[str, Any] = {}
            stop = asyncio.Event()
            loop = asyncio.new_event_loop()
            probe = threading.Thread(
                target=loop.run_until_complete,
                args=(floor_probe(info["ws"], info["rest"], stop, out),),
                daemon=True,
            )
            probe.start()
            time.sleep(0.5)
            venue.send(f"go {args.triggers} {args.interval_ms} {seed}")
            venue.read(timeout=args.triggers * args.interval_ms / 500 + 60)
            loop.call_soon_threadsafe(stop.set)
            probe.join(10)
            if attach is not None:
                attach.kill()
            os.killpg(core.p.pid, signal.SIGTERM)
            core.p.wait(60)
            venue_trace = folder / "venue.json"
            venue.send(f"dump {venue_trace}")
            venue.read()
            venue.send("stop")
            venue.p.wait(30)
            return analyse(
                orjson.loads(venue_trace.read_bytes()), orjson.loads(core_trace.read_bytes()), out
            )
        finally:
            venue.kill()
            if core is not None:
                core.kill()


def _size(text: str) -> tuple[int, int]:
    cols, _, rows = text.lower().partition("x")
    if not (cols.isdigit() and rows.isdigit()) or int(cols) < 40 or int(rows) < 10:
        raise argparse.ArgumentTypeError(f"--console wants COLSxROWS (e.g. 160x48), got {text!r}")
    return int(cols), int(rows)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--role", choices=["venue", "core", "attach"], help=argparse.SUPPRESS)
    parser.add_argument("--socket", help=argparse.SUPPRESS)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument(
        "--attach",
        action="store_true",
        help="with --console: the console in its own process attached to the core's socket "
        "(plain mmtui's ui.core: process) instead of in the core's process",
    )
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--trace", help=argparse.SUPPRESS)
    parser.add_argument("--triggers", type=int, default=60)
    parser.add_argument("--tick-ms", type=int, default=500)
    parser.add_argument("--interval-ms", type=float, default=None, help="between triggers")
    parser.add_argument("--tick-driven", action="store_true", help="requote_on_book: false")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--console", type=_size, default=None, help="COLSxROWS: the real console in a pty"
    )
    parser.add_argument("--console-core", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role == "venue":
        return run_venue(Path(args.dir))
    if args.role == "core":
        serve = Path(args.serve) if args.serve else None
        return run_core(Path(args.config), Path(args.trace), args.console_core, serve)
    if args.role == "attach":
        return run_attach(Path(args.socket))
    if args.attach and args.console is None:
        parser.error("--attach needs --console COLSxROWS")
    if args.interval_ms is None:
        args.interval_ms = max(250.0, 2.0 * args.tick_ms if args.tick_driven else 250.0)
    runs = [one_run(args, seed) for seed in range(args.runs)]
    report(args, runs)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
