"""The dead-man's switch: a real ``mmtui`` process quoting on the Lighter emulator is
killed with SIGKILL (no shutdown code runs); the venue's scheduled cancel-all, pushed
forward while the process lived, cancels its orders at the deadline."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from connectors.lighter.emulator import LighterKey, lighter_emulator
from connectors.sim.venue import FlowParams
from mmtui.emulate import (
    ACCOUNT,
    LIGHTER_ACCOUNT_INDEX,
    LIGHTER_API_KEY_INDEX,
    new_lighter_key,
    write_lighter_files,
)

DEAD_MAN_S = 3.0


def _wait(cond, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"not met in {timeout} s: {what}")
        time.sleep(0.05)


def test_sigkill_leaves_no_orders_after_the_deadline(tmp_path: Path) -> None:
    private_key, public_key = new_lighter_key()
    key = LighterKey(
        LIGHTER_ACCOUNT_INDEX, LIGHTER_API_KEY_INDEX, public_key.removeprefix("0x"), ACCOUNT
    )
    harness = lighter_emulator(
        [key], flow=FlowParams(taker_rate=0.0), min_scheduled_cancel_ms=1000
    ).start()
    proc: subprocess.Popen[bytes] | None = None
    try:
        config = write_lighter_files(
            tmp_path,
            harness.base_url,
            harness.ws_url,
            private_key,
            dead_man_switch_s=DEAD_MAN_S,
        )
        env = {**os.environ, "MMTUI_LOG_DIR": str(tmp_path / "logs")}
        proc = subprocess.Popen(
            [sys.executable, "-m", "mmtui.cli", "--headless", "--config", str(config)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def resting() -> list:  # type: ignore[type-arg]
            return harness.call(lambda: harness.venue.open_orders(ACCOUNT))

        def schedule() -> int | None:
            s = harness.call(lambda: harness.dialect.schedule(LIGHTER_ACCOUNT_INDEX))
            return s[0] if s else None

        _wait(lambda: len(resting()) >= 2, 30, "the strategy quotes both sides")
        first = schedule()
        assert first is not None, "the switch is armed at connect"
        # alive and healthy: the deadline keeps moving forward, the quotes stay
        _wait(lambda: (schedule() or 0) > first, 2 * DEAD_MAN_S, "the deadline is pushed")
        assert resting()

        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        killed_ms = int(time.time() * 1000)
        assert resting(), "SIGKILL runs no shutdown: the orders are still there"
        deadline = schedule()
        assert deadline is not None and deadline > killed_ms
        _wait(lambda: not resting(), DEAD_MAN_S + 5, "the venue cancelled our orders")
        assert int(time.time() * 1000) >= deadline  # by the schedule, not before
        assert harness.call(lambda: harness.dialect.stats.schedules_fired) == 1
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(10)
        harness.stop()
