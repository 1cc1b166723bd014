"""``mmtui serve``: the trading core headless, behind a local control socket.

It trades exactly like ``--headless`` (same session, same safe shutdown on
SIGINT, SIGTERM and SIGHUP, same summary and exit code) and serves viewers
(``mmtui attach``) on a Unix socket. ``mmtui serve --stop`` asks a served core
for its safe shutdown and prints the summary it ends with.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from pathlib import Path

from mmtui import gc_policy
from mmtui.config import Config
from mmtui.logsetup import LogBuffer, add_handler, remove_handler
from mmtui.remote.server import CoreServer
from mmtui.remote.sockets import SocketError, check_path, clear_stale, private_dir
from mmtui.session import SessionError, build_session

log = logging.getLogger("mmtui.remote.serve")

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


async def run_serve(
    config: Config,
    source: Path | None,
    socket_path: Path,
    *,
    speed: float | str | None = "config",
    as_json: bool = False,
    owner: bool = False,
) -> int:
    try:
        # the socket first: a core already served there is refused before connecting
        private_dir(socket_path.parent)
        check_path(socket_path)
        clear_stale(socket_path)
        session = build_session(config, speed=speed)
    except (SessionError, SocketError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    session.config_path = source
    buffer = LogBuffer(capacity=5000)
    add_handler(buffer)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    server: CoreServer | None = None
    try:
        try:
            await session.start()
            server = CoreServer(session, socket_path, buffer, refresh_hz=config.ui.refresh_hz)
            await server.start()
            gc_policy.after_start()  # the core's process: freeze what lives from now on
        except (SessionError, SocketError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_FAILED
        print(f"mmtui serve: run {session.engine.run_prefix} on {socket_path}", flush=True)
        if not owner:
            print(
                f"attach with: mmtui attach --socket {socket_path}   "
                f"stop with: mmtui serve --stop --socket {socket_path} (or SIGTERM)",
                flush=True,
            )
        waiters = [
            loop.create_task(stop.wait()),
            loop.create_task(server.stop_requested.wait()),
        ]
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()
        if stop.is_set():
            server.request_stop("signal")
    finally:
        report = await session.stop()
        summary = session.summary()
        if server is not None:
            await server.finish(summary)
        remove_handler(buffer)
        for sig in SIGNALS:
            loop.remove_signal_handler(sig)
    try:
        print(json.dumps(summary.to_dict()) if as_json else summary.render(), flush=True)
    except OSError:
        log.warning("output gone; summary not printed: %s", summary.to_dict())
    return EXIT_OK if report.ok and summary.open_orders_left == 0 else EXIT_FAILED


async def stop_served(socket_path: Path, as_json: bool = False) -> int:
    """Ask the core served on ``socket_path`` for its safe shutdown; print its summary."""
    from mmtui.remote.client import RemoteCore, RemoteError

    core = RemoteCore(socket_path)
    try:
        await core.connect()
    except (OSError, RemoteError) as exc:
        print(f"error: no core served on {socket_path}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"stopping the core on {socket_path} (safe shutdown) ...", file=sys.stderr)
    summary = await core.shutdown()
    await core.close()
    if summary is None:
        print(f"error: the core on {socket_path} went away before its summary", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps(summary.to_dict()) if as_json else summary.render())
    failed = any(line.startswith("FAIL") for line in summary.shutdown)
    return EXIT_OK if summary.open_orders_left == 0 and not failed else EXIT_FAILED


__all__ = ["run_serve", "stop_served"]
