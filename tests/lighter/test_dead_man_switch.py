"""The dead-man's switch with real ``mmtui`` processes quoting on the Lighter emulator,
which keeps one queued scheduled cancel-all and refuses another with 21712:

1. a 3 s switch over 30 s of healthy quoting: renewed about every second, never refused,
   never fired;
2. SIGKILL (no shutdown code runs): the venue's schedule cancels the orders within the
   switch's period;
3. a restart while the crashed run's schedule is still queued: it connects (the schedule
   is taken over), trades, and its clean close aborts the switch.

Wall time against the emulator: 30 s by the issue's measure, and three process starts
(~2 s each for lighter-sdk's import). The waits are conditions with generous bounds; the
one timed claim (the deadline is within the period of the kill) compares the venue's own
timestamps.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from connectors.emulation.harness import EmulatorHarness
from connectors.lighter.dead_man import DEAD_MAN_MARGIN_MS
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
HEALTHY_S = 30.0
RESTART_SWITCH_S = 60.0
"""Long enough that the crashed run's schedule is still queued when the restart connects."""


def _wait(cond, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"not met in {timeout} s: {what}")
        time.sleep(0.05)


class Venue:
    def __init__(self, harness: EmulatorHarness) -> None:
        self.h = harness

    def resting(self) -> list[Any]:
        return self.h.call(lambda: self.h.venue.open_orders(ACCOUNT))

    def schedule(self) -> int | None:
        s = self.h.call(lambda: self.h.dialect.schedule(LIGHTER_ACCOUNT_INDEX))
        return s[0] if s else None

    def stat(self, name: str) -> int:
        return int(self.h.call(lambda: getattr(self.h.dialect.stats, name)))


def _mmtui(config: Path, logs: Path, *, json_out: bool = False) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MMTUI_LOG_DIR": str(logs)}
    args = [sys.executable, "-m", "mmtui.cli", "--headless", "--config", str(config)]
    return subprocess.Popen(
        [*args, "--json"] if json_out else args,
        env=env,
        stdout=subprocess.PIPE if json_out else subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_switch_renewed_while_healthy_fires_after_sigkill_and_a_restart_takes_over(
    tmp_path: Path,
) -> None:
    private_key, public_key = new_lighter_key()
    key = LighterKey(
        LIGHTER_ACCOUNT_INDEX, LIGHTER_API_KEY_INDEX, public_key.removeprefix("0x"), ACCOUNT
    )
    harness = lighter_emulator(
        [key], flow=FlowParams(taker_rate=0.0), min_scheduled_cancel_ms=1000
    ).start()
    venue = Venue(harness)
    procs: list[subprocess.Popen[bytes]] = []

    def files(folder: str, switch_s: float) -> Path:
        # a 3 s switch renews every second: more than a Standard account's 60 requests a
        # minute allow with quoting on top; loopback tests run as Premium
        return write_lighter_files(
            tmp_path / folder,
            harness.base_url,
            harness.ws_url,
            private_key,
            dead_man_switch_s=switch_s,
            tier="premium",
        )

    try:
        # 1. healthy: renewed, never refused, never fired
        p1 = _mmtui(files("short", DEAD_MAN_S), tmp_path / "logs1")
        procs.append(p1)
        _wait(lambda: len(venue.resting()) >= 2, 60, "the strategy quotes both sides")
        armed = venue.stat("schedules_armed")
        start = time.monotonic()
        _wait(lambda: time.monotonic() - start >= HEALTHY_S or p1.poll() is not None, 60, "30 s")
        assert p1.poll() is None, "mmtui is running"
        assert venue.stat("schedules_refused") == 0
        assert venue.stat("schedules_fired") == 0
        assert venue.stat("schedules_armed") - armed >= HEALTHY_S / DEAD_MAN_S, "renewed"
        assert venue.resting(), "the quotes stayed"

        # 2. SIGKILL: the venue cancels our orders at the deadline, within the period
        p1.send_signal(signal.SIGKILL)
        p1.wait(10)
        killed_ms = int(time.time() * 1000)
        assert venue.resting(), "SIGKILL runs no shutdown: the orders are still there"
        deadline = venue.schedule()
        assert deadline is not None and killed_ms < deadline
        assert deadline - killed_ms <= DEAD_MAN_S * 1000 + DEAD_MAN_MARGIN_MS
        _wait(lambda: not venue.resting(), DEAD_MAN_S + 20, "the venue cancelled our orders")
        assert int(time.time() * 1000) >= deadline  # by the schedule, not before
        assert venue.stat("schedules_fired") == 1
        assert venue.schedule() is None

        # 3. a run crashes with its schedule queued; the restart takes it over and trades
        config = files("long", RESTART_SWITCH_S)
        p2 = _mmtui(config, tmp_path / "logs2")
        procs.append(p2)
        _wait(lambda: len(venue.resting()) >= 2 and venue.schedule(), 60, "the second run quotes")
        crashed = venue.schedule()
        p2.send_signal(signal.SIGKILL)
        p2.wait(10)
        refused = venue.stat("schedules_refused")
        p3 = _mmtui(config, tmp_path / "logs3", json_out=True)
        procs.append(p3)
        _wait(lambda: venue.stat("schedules_refused") > refused, 60, "the restart's first try")
        assert crashed is not None and (venue.schedule() or 0) >= crashed
        _wait(lambda: (venue.schedule() or 0) > crashed, 30, "the restart took the switch over")
        assert p3.poll() is None, "the restart connected and runs"
        placed = venue.stat("txs_accepted")
        _wait(lambda: venue.stat("txs_accepted") > placed + 2, 60, "the restart trades")
        _wait(lambda: len(venue.resting()) >= 2, 60, "the restart quotes")
        p3.send_signal(signal.SIGTERM)
        out, _ = p3.communicate(timeout=60)
        assert p3.returncode == 0
        summary = json.loads(out.decode().strip().splitlines()[-1])
        assert summary["open_orders_left"] == 0
        assert summary["orders_placed"] + summary["orders_amended"] > 0
        _wait(lambda: venue.schedule() is None, 30, "the clean close aborted the switch")
        assert venue.stat("schedules_fired") == 1  # only the SIGKILLed short switch
        assert venue.stat("schedules_refused") == refused + 1  # the takeover, and no other
        assert venue.resting() == []
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        harness.stop()
