"""``ui.core: process``: plain ``mmtui`` with its core in a child process behind a
socket keeps the console's safety — q, SIGTERM and SIGHUP (the terminal gone) all
end in the child's safe shutdown: every order terminal in the journal, the summary
printed (or logged when the terminal is gone), exit 0."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .test_signals import (
    EXIT_TIMEOUT_S,
    START_TIMEOUT_S,
    PtyConsole,
    _assert_every_order_terminal,
    _summary,
)


def _logs(con: PtyConsole) -> str:
    """The core's log (mmtui.log) and the console's (mmtui-console.log)."""
    console_log = con.log_dir / "mmtui-console.log"
    extra = console_log.read_text(errors="replace") if console_log.exists() else ""
    return con.log_text() + "\n" + extra


@pytest.fixture
def console(tmp_path: Path) -> Iterator[PtyConsole]:
    con = PtyConsole(tmp_path, core="process")
    try:
        yield con
    finally:
        con.close()


def test_q_stops_the_child_core_safely(console: PtyConsole) -> None:
    console.wait_trading()
    console.type("q")
    code = console.wait(EXIT_TIMEOUT_S)
    out = _summary(console)
    assert code == 0, f"exit {code}; log tail:\n{console.log_tail()}"
    assert "open orders left: 0" in out, out[-2000:]
    _assert_every_order_terminal(console)


def test_sigterm_stops_the_child_core_safely(console: PtyConsole) -> None:
    console.wait_trading()
    console.signal(signal.SIGTERM)
    code = console.wait(EXIT_TIMEOUT_S)
    assert code == 0, f"exit {code}; log tail:\n{console.log_tail()}"
    assert "open orders left: 0" in _summary(console)
    _assert_every_order_terminal(console)


def test_sighup_with_the_terminal_gone_stops_the_child_core_safely(
    console: PtyConsole,
) -> None:
    console.wait_trading()
    console.hang_up()
    console.signal(signal.SIGHUP)
    code = console.wait(EXIT_TIMEOUT_S)
    _assert_every_order_terminal(console)
    log = _logs(console)
    assert "SIGHUP: safe shutdown" in log, log[-3000:]
    assert "engine_stopped: shutdown: PASS" in log, log[-3000:]
    assert "'open_orders_left': 0" in log, log[-3000:]
    assert code == 0, f"exit {code}; log tail:\n{console.log_tail()}"


def test_the_console_killed_outright_still_stops_the_child_core_safely(
    console: PtyConsole,
) -> None:
    """SIGKILL: nothing of the console runs; the child sees its owner gone."""
    console.wait_trading()
    console.signal(signal.SIGKILL)
    console.wait(EXIT_TIMEOUT_S)
    log = _logs(console)
    deadline = time.monotonic() + START_TIMEOUT_S  # the child notices, then shuts down
    while "engine_stopped: shutdown" not in log and time.monotonic() < deadline:
        time.sleep(0.1)
        log = _logs(console)
    assert "the console that owns this core went away" in log, log[-3000:]
    assert "engine_stopped: shutdown: PASS" in log, log[-3000:]
    _assert_every_order_terminal(console)
