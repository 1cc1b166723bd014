"""The real ``mmtui`` console in a pseudo-terminal: SIGTERM, SIGHUP and ``q`` all end in
the safe shutdown (every order of the run terminal in the journal, summary printed).

The console runs the sim at 20x real time; each test waits (bounded) for the
first frame and the first journaled order, then ends the run. No timings are
asserted: the timeouts only keep a broken run from hanging the suite.
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
import sqlite3
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from mmtui.core.journal import Journal

from ..conftest import AS_PARAMS

ROOT = Path(__file__).resolve().parents[2]
COLS, ROWS = 80, 24
START_TIMEOUT_S = 60.0  # first frame and first order, on a loaded 2-core machine
EXIT_TIMEOUT_S = 20.0  # the safe shutdown, from the signal to the exit
TERMINAL = {"cancelled", "filled", "rejected", "expired"}
BOOK_TITLE = b"BTC-PERP @ sim"

# Runs in the child: a new session (Popen start_new_session) whose controlling
# terminal is the pty on fd 0, as in a terminal emulator; then becomes mmtui.
_CTTY_EXEC = (
    "import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
)


def _write_config(path: Path, core: str = "inprocess") -> Path:
    config = {
        "sim": {"seed": 11, "speed": 20, "step_ms": 100},
        "venues": {"sim": {"type": "sim", "flow": {"taker_k": 1.0}}},
        "strategies": [
            {
                "name": "as_btc",
                "kind": "avellaneda_stoikov",
                "venue": "sim",
                "symbol": "BTC-PERP",
                "params": dict(AS_PARAMS),
            }
        ],
        "journal": {"enabled": True},
        "shutdown_timeout_s": 10,
        "ui": {"core": core},
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


class ConsoleHung(AssertionError):
    """The console did not exit in time after it was told to stop."""


def _until(what: str, check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)


class PtyConsole:
    """``python -m mmtui.cli`` on a pty; a thread keeps draining what it prints."""

    def __init__(self, tmp_path: Path, core: str = "inprocess") -> None:
        self.journal_path = tmp_path / "journal.sqlite"
        self.log_dir = tmp_path / "logs"
        config = _write_config(tmp_path / "config.yaml", core)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MMTUI_")}
        for var in ("COLUMNS", "LINES"):  # they would override the pty's size
            env.pop(var, None)
        env.update(
            TERM="xterm-256color",
            XDG_STATE_HOME=str(tmp_path / "state"),
            XDG_CONFIG_HOME=str(tmp_path / "config"),
            MMTUI_LOG_DIR=str(self.log_dir),
            MMTUI_JOURNAL__PATH=str(self.journal_path),
            PYTHONPATH=str(ROOT),  # this checkout's mmtui, not the one the venv installed
        )
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _CTTY_EXEC, "-m", "mmtui.cli", "--config", str(config)],
                stdin=slave,
                stdout=slave,
                stderr=slave,
                cwd=tmp_path,
                env=env,
                start_new_session=True,
            )
        finally:
            os.close(slave)  # the child has it; ours would hide the child's exit from the reader
        self._output = bytearray()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._drain, name="pty-drain", daemon=True)
        self._reader.start()
        self.master_open = True

    def _drain(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if not ready:
                continue
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: every slave end is closed (the console exited)
                return
            if not data:
                return
            with self._lock:
                self._output += data

    @property
    def output(self) -> bytes:
        with self._lock:
            return bytes(self._output)

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def hang_up(self) -> None:
        """The terminal goes away: stop reading, close the master side."""
        self._stop.set()
        self._reader.join(5)
        os.close(self.master)
        self.master_open = False

    def signal(self, sig: signal.Signals) -> None:
        os.kill(self.proc.pid, sig)

    def wait(self, timeout: float) -> int:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise ConsoleHung(
                f"console still running {timeout:.0f}s after it was told to stop; "
                f"log tail:\n{self.log_tail()}"
            ) from None
        self._reader.join(5)  # the rest of the output (the summary) is in the pty
        return code

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._stop.set()
        self._reader.join(5)
        if self.master_open:
            os.close(self.master)
            self.master_open = False

    # -- what the run left behind ---------------------------------------------

    def orders(self) -> list[dict[str, object]]:
        journal = Journal(self.journal_path, "reader")
        runs = journal.runs()
        return [row for run in runs for row in journal.orders(run_id=str(run["run_id"]))]

    def log_text(self) -> str:
        path = self.log_dir / "mmtui.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def _has_orders(self) -> bool:
        try:
            return bool(self.orders())
        except sqlite3.Error:  # the file exists, its tables not yet
            return False

    def wait_trading(self) -> None:
        """First frame painted and at least one order journaled."""
        _until("the first frame", lambda: BOOK_TITLE in self.output, START_TIMEOUT_S)
        _until("a journaled order", self._has_orders, START_TIMEOUT_S)


@pytest.fixture
def console(tmp_path: Path) -> Iterator[PtyConsole]:
    con = PtyConsole(tmp_path)
    try:
        yield con
    finally:
        con.close()


def _assert_every_order_terminal(con: PtyConsole) -> None:
    rows = con.orders()
    last: dict[str, str] = {}
    ever_open: set[str] = set()
    for row in rows:  # oldest first: one row per state change
        client_id, status = str(row["client_id"]), str(row["status"])
        last[client_id] = status
        if status in ("open", "partially_filled"):
            ever_open.add(client_id)
    assert ever_open, f"no order was ever open ({len(rows)} journal rows)"
    left = {cid: status for cid, status in last.items() if status not in TERMINAL}
    assert not left, f"{len(left)} of {len(last)} orders not terminal in the journal: {left}"


def _summary(con: PtyConsole) -> str:
    return con.output.decode("utf-8", errors="replace")


def test_sigterm_runs_the_safe_shutdown(console: PtyConsole) -> None:
    console.wait_trading()
    console.signal(signal.SIGTERM)
    code = console.wait(EXIT_TIMEOUT_S)
    out = _summary(console)
    assert code == 0, f"exit {code}; log tail:\n{console.log_tail()}"
    assert "open orders left: 0" in out, out[-2000:]
    _assert_every_order_terminal(console)


def test_sighup_with_the_terminal_gone(console: PtyConsole) -> None:
    console.wait_trading()
    console.hang_up()  # as the terminal emulator closing: the kernel sends SIGHUP too
    console.signal(signal.SIGHUP)
    code = console.wait(EXIT_TIMEOUT_S)
    _assert_every_order_terminal(console)
    log = console.log_text()
    assert "SIGHUP: safe shutdown" in log, log[-3000:]
    assert "engine_stopped: shutdown: PASS" in log, log[-3000:]
    assert "terminal gone; summary not printed" in log, log[-3000:]
    assert "'open_orders_left': 0" in log, log[-3000:]
    assert code == 0, f"exit {code}; log tail:\n{console.log_tail()}"


def test_q_quits_cleanly(console: PtyConsole) -> None:
    console.wait_trading()
    console.type("q")
    code = console.wait(EXIT_TIMEOUT_S)
    out = _summary(console)
    assert code == 0, f"exit {code}; log tail:\n{console.log_tail()}"
    assert "open orders left: 0" in out, out[-2000:]
    _assert_every_order_terminal(console)
