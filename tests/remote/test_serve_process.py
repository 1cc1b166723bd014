"""The real ``mmtui serve`` as a process on the sim: viewers over its socket come
and go while it trades; ``mmtui serve --stop`` and SIGTERM run its safe shutdown."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from mmtui.core.runner import StrategyState
from mmtui.logsetup import LogBuffer
from mmtui.remote.client import RemoteCore

from ..cli_process import start_mmtui
from ..conftest import AS_PARAMS
from ..waiting import until
from .rig import short_dir

ROOT = Path(__file__).resolve().parents[2]
START_S = 60.0  # a loaded 2-core machine
EXIT_S = 30.0


@pytest.fixture
def folder() -> Iterator[Path]:
    path = short_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _config(folder: Path) -> Path:
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
        "journal": {"enabled": True, "path": str(folder / "j.sqlite")},
        "shutdown_timeout_s": 10,
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _serve(folder: Path, sock: Path) -> subprocess.Popen[str]:
    """This checkout's mmtui (not whatever the venv installed)."""
    args = ("serve", "--config", str(_config(folder)), "--socket", str(sock))
    return start_mmtui(folder, *args, PYTHONPATH=str(ROOT))


async def _serving(proc: subprocess.Popen[str], sock: Path) -> None:
    await until(lambda: sock.exists() or proc.poll() is not None, START_S, "the socket")
    assert proc.poll() is None, proc.communicate()


async def _attach(sock: Path) -> RemoteCore:
    core = RemoteCore(sock, logs=LogBuffer())
    await core.connect()
    return core


async def _ours_resting(core: RemoteCore) -> bool:
    await until(lambda: any(o.strategy == "as_btc" for o in core.view.orders()), START_S, "quotes")
    return True


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=EXIT_S)
    return proc.returncode, out, err


async def test_viewers_come_and_go_and_serve_stop_shuts_down_safely(folder: Path) -> None:
    sock = folder / "core.sock"
    proc = _serve(folder, sock)
    try:
        await _serving(proc, sock)
        a, b = await _attach(sock), await _attach(sock)
        await _ours_resting(a)
        await b.pause_strategy("as_btc")
        await until(
            lambda: a.view.strategy("as_btc").state is StrategyState.PAUSED,  # type: ignore[union-attr]
            what="a sees b's pause",
        )
        await b.resume_strategy("as_btc")
        await a.detach()
        await b.close()  # dropped, no detach
        later = await _attach(sock)  # nobody attached in between: it went on trading
        assert later.view.strategy("as_btc").state is StrategyState.RUNNING  # type: ignore[union-attr]
        await _ours_resting(later)
        await later.detach()
        stopper = await asyncio.create_subprocess_exec(
            *[sys.executable, "-m", "mmtui.cli", "serve", "--stop", "--socket", str(sock)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
        )
        out, err = await asyncio.wait_for(stopper.communicate(), EXIT_S)
        assert stopper.returncode == 0, err.decode()
        assert "open orders left: 0" in out.decode()
        code, served_out, _ = _finish(proc)
        assert code == 0 and "open orders left: 0" in served_out
        assert not sock.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


async def test_sigterm_runs_the_safe_shutdown(folder: Path) -> None:
    sock = folder / "core.sock"
    proc = _serve(folder, sock)
    try:
        await _serving(proc, sock)
        second = _serve(folder, sock)  # refused before it connects to anything
        code, _, err = _finish(second)
        assert code == 2 and f"socket path {sock}: a core is already served there" in err
        viewer = await _attach(sock)
        await _ours_resting(viewer)
        proc.send_signal(signal.SIGTERM)
        await until(lambda: viewer.ended is not None, EXIT_S, "the viewer told")
        assert viewer.summary is not None and viewer.summary.open_orders_left == 0
        code, out, _ = _finish(proc)
        assert code == 0 and "open orders left: 0" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
