"""Plain ``mmtui`` with ``ui.core: inprocess``: the console and the trading core in
one process and one event loop. Quit, SIGTERM and SIGHUP run the safe shutdown;
after the console closes, the same summary as ``--headless`` is printed."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from mmtui.app import MMApp
from mmtui.config import Config, UiConfig
from mmtui.logsetup import LogBuffer, add_handler, remove_handler
from mmtui.session import SessionError, build_session

log = logging.getLogger("mmtui.app")


SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def console_app(core: Any, buffer: LogBuffer, ui: UiConfig) -> MMApp:
    """The console on a core (a session in this process, or a served one), as the
    config's ``ui`` section says."""
    return MMApp(
        core, buffer, keymap=ui.keys, theme=ui.theme, refresh_hz=ui.refresh_hz, bell=ui.bell
    )


def quit_on_signals(app: MMApp) -> None:
    """SIGTERM and SIGHUP close the console as ``q`` would (then the safe shutdown runs);
    the handlers stay for the shutdown: a hang-up then must not end the process."""
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        log.warning("%s: safe shutdown", sig.name)
        if app.is_running:
            app.call_later(app.safe_exit)

    for sig in SIGNALS:
        loop.add_signal_handler(sig, on_signal, sig)


def run_console(config: Config, source: Path, *, speed: float | str | None = "config") -> int:
    """Run the console; after it closes, print the same summary as ``--headless``."""
    return asyncio.run(_console(config, source, speed))


async def _console(config: Config, source: Path, speed: float | str | None) -> int:
    try:
        session = build_session(config, speed=speed)
        session.config_path = source
    except SessionError as exc:
        print(f"error: {exc}", file=sys.stderr)  # before the UI opens
        return 2
    buffer = LogBuffer(capacity=5000)
    add_handler(buffer)
    app = console_app(session, buffer, config.ui)

    try:
        try:
            await session.start()
        except SessionError as exc:
            print(f"error: {exc}", file=sys.stderr)  # before the UI opens
            return 1
        quit_on_signals(app)
        await app.run_async()
    finally:
        # Whatever ended the app (q, a signal, a lost terminal, a crash): safe shutdown.
        report = await session.stop()
        remove_handler(buffer)
    summary = session.summary()
    try:
        print(summary.render())
    except OSError:
        log.warning("terminal gone; summary not printed: %s", summary.to_dict())
    return 0 if report.ok and summary.open_orders_left == 0 else 1


__all__ = ["SIGNALS", "console_app", "quit_on_signals", "run_console"]
