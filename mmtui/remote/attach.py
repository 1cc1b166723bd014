"""``mmtui attach``: the console on a served core; and ``ui.core: process``: plain
``mmtui`` with its core in a child process (serve + attach, the console owning it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from mmtui.config import Config, UiConfig
from mmtui.core.summary import RunSummary
from mmtui.logsetup import LogBuffer, add_handler, remove_handler
from mmtui.remote.client import RemoteCore, RemoteError

log = logging.getLogger("mmtui.remote.attach")

EXIT_OK, EXIT_FAILED = 0, 1
CONSOLE_LOG = "mmtui-console.log"
"""An attached console's log file, beside the core's ``mmtui.log``."""
START_TIMEOUT_S = 120.0
"""The child core's start (venues connected, positions read) before the console opens."""


async def run_attach(socket_path: Path, ui: UiConfig) -> int:
    """Open the console on the core served at ``socket_path``. q detaches (the core
    keeps trading); Q (confirmed) stops the core. Exit 0 on a detach."""
    from mmtui.app import AttachedApp

    buffer = LogBuffer(capacity=5000)
    core = RemoteCore(socket_path, logs=buffer)
    try:
        await core.connect()
    except (OSError, RemoteError, TimeoutError) as exc:
        print(f"error: no core served on {socket_path}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    add_handler(buffer)
    app = AttachedApp(
        core, buffer, keymap=ui.keys, theme=ui.theme, refresh_hz=ui.refresh_hz, bell=ui.bell
    )
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        log.warning("%s: detaching (the core keeps trading)", sig.name)
        if app.is_running:
            app.call_later(app.safe_exit)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        summary = await app.run_async()
    finally:
        for sig in (signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        if core.ended is None:
            await core.detach()
        remove_handler(buffer)
    return _after(core, summary, socket_path)


def _after(core: RemoteCore, summary: RunSummary | None, socket_path: Path) -> int:
    try:
        if summary is not None:
            print(summary.render())
            return EXIT_OK if summary.open_orders_left == 0 else EXIT_FAILED
        if core.ended is not None:
            print(f"{core.ended}; console closed", file=sys.stderr)
            return EXIT_FAILED
        print(
            f"detached from {socket_path}: the core keeps trading\n"
            f"  back:  mmtui attach --socket {socket_path}\n"
            f"  stop:  mmtui serve --stop --socket {socket_path}"
        )
    except OSError:
        log.warning("terminal gone; nothing printed after the console closed")
    return EXIT_OK


async def run_process_console(
    config: Config, source: Path | None, speed: float | str | None
) -> int:
    """Plain ``mmtui`` with ``ui.core: process``: the core in a child ``mmtui serve``
    (its own session: terminal signals reach only this process), the console
    attached as its owner. Quit, SIGTERM and SIGHUP run the child's safe shutdown
    and print its summary; if this process dies, the child sees its owner gone and
    runs the safe shutdown itself."""
    from mmtui.console_run import SIGNALS, console_app, quit_on_signals

    folder = Path(tempfile.mkdtemp(prefix="mmtui-"))  # 0700
    socket_path = folder / "core.sock"
    argv = [sys.executable, "-m", "mmtui.cli", "serve", "--owned", "--socket", str(socket_path)]
    if source is not None:
        argv += ["--config", str(source)]
    if speed != "config":
        argv += ["--speed", "max" if speed is None else str(speed)]
    argv += ["--seed", str(config.sim.seed)]
    child = await asyncio.create_subprocess_exec(
        *argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    buffer = LogBuffer(capacity=5000)
    core = RemoteCore(socket_path, role="owner", logs=buffer)
    core.attached = False  # quit stops it: this console owns the core
    core.where = f"child process {child.pid}"
    if not await _connect_when_up(core, child, socket_path):
        _out, err = await child.communicate()
        sys.stderr.write(err.decode(errors="replace") or f"the core exited ({child.returncode})\n")
        return child.returncode or EXIT_FAILED
    add_handler(buffer)
    app = console_app(core, buffer, config.ui)
    loop = asyncio.get_running_loop()

    summary: RunSummary | None = None
    try:
        quit_on_signals(app)
        summary = await app.run_async()
    finally:
        # whatever ended the app: the child's safe shutdown
        if summary is None and core.ended is None:
            summary = await core.shutdown()
        await core.close()
        _out, err = await child.communicate()
        for sig in SIGNALS:
            loop.remove_signal_handler(sig)
        remove_handler(buffer)
        with contextlib.suppress(OSError):
            folder.rmdir()
    summary = summary or core.summary
    try:
        if summary is not None:
            print(summary.render())
        else:
            sys.stderr.write(err.decode(errors="replace"))
    except OSError:
        log.warning(
            "terminal gone; summary not printed: %s", summary.to_dict() if summary else None
        )
    return child.returncode if child.returncode is not None else EXIT_FAILED


async def _connect_when_up(
    core: RemoteCore, child: asyncio.subprocess.Process, socket_path: Path
) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT_S
    while loop.time() < deadline:
        if child.returncode is not None:
            return False
        if socket_path.exists():
            with contextlib.suppress(OSError, RemoteError):
                await core.connect()
                return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(child.wait(), 0.05)
    child.terminate()
    return False


__all__ = ["run_attach", "run_process_console"]
