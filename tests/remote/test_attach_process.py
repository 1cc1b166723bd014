"""``mmtui attach`` as a real process in a pseudo-terminal on a real ``mmtui serve``:
q detaches and says so; a hang-up (an SSH session dropping) ends the console
only — the served core goes on trading in both cases."""

from __future__ import annotations

import fcntl
import os
import select
import signal
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mmtui.core.runner import StrategyState

from ..ui.test_signals import _CTTY_EXEC, BOOK_TITLE
from ..waiting import until
from .rig import short_dir
from .test_serve_process import EXIT_S, ROOT, START_S, _attach, _ours_resting, _serve, _serving


class PtyAttach:
    def __init__(self, folder: Path, sock: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MMTUI_")}
        for var in ("COLUMNS", "LINES"):
            env.pop(var, None)
        env.update(
            TERM="xterm-256color",
            MMTUI_LOG_DIR=str(folder / "logs"),
            XDG_STATE_HOME=str(folder / "state"),
            XDG_CONFIG_HOME=str(folder / "cfg"),
            PYTHONPATH=str(ROOT),
        )
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, b"\x18\x00\x50\x00\x00\x00\x00\x00")  # 24x80
        argv = [sys.executable, "-c", _CTTY_EXEC, "-m", "mmtui.cli", "attach", "--socket"]
        try:
            self.proc = subprocess.Popen(
                [*argv, str(sock)],
                stdin=slave,
                stdout=slave,
                stderr=slave,
                cwd=folder,
                env=env,
                start_new_session=True,
            )
        finally:
            os.close(slave)
        self._out = bytearray()
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        self.open = True

    def _drain(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(self.master, 65536)
                except OSError:
                    return
                if not data:
                    return
                self._out += data

    @property
    def output(self) -> bytes:
        return bytes(self._out)

    def wait_painted(self) -> None:
        deadline = time.monotonic() + START_S
        while BOOK_TITLE not in self.output or b"q detaches" not in self.output:
            assert self.proc.poll() is None, self.output[-2000:]
            assert time.monotonic() < deadline, self.output[-2000:]
            time.sleep(0.05)

    def hang_up(self) -> None:
        self._stop.set()
        self._reader.join(5)
        os.close(self.master)
        self.open = False
        os.kill(self.proc.pid, signal.SIGHUP)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._stop.set()
        self._reader.join(5)
        if self.open:
            os.close(self.master)
            self.open = False


@pytest.fixture
def folder() -> Iterator[Path]:
    import shutil

    path = short_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def test_q_detaches_and_a_hang_up_leaves_the_core_trading(folder: Path) -> None:
    sock = folder / "core.sock"
    serve = _serve(folder, sock)
    consoles: list[PtyAttach] = []
    try:
        await _serving(serve, sock)
        first = PtyAttach(folder, sock)
        consoles.append(first)
        first.wait_painted()
        os.write(first.master, b"q")
        assert first.proc.wait(EXIT_S) == 0
        first._reader.join(5)
        assert b"detached from" in first.output and b"the core keeps trading" in first.output
        second = PtyAttach(folder, sock)
        consoles.append(second)
        second.wait_painted()
        second.hang_up()  # as an SSH session dropping
        second.proc.wait(EXIT_S)
        assert serve.poll() is None, "the served core is still up"
        viewer = await _attach(sock)
        assert viewer.view.strategy("as_btc").state is StrategyState.RUNNING  # type: ignore[union-attr]
        await _ours_resting(viewer)
        summary = await viewer.shutdown()
        assert summary is not None and summary.open_orders_left == 0
        await until(lambda: serve.poll() is not None, EXIT_S, "serve's exit")
        assert serve.returncode == 0
    finally:
        for con in consoles:
            con.close()
        if serve.poll() is None:
            serve.kill()
        serve.communicate()
