"""An attached console's PnL chart covers the session as the core's does: the core
thins its history when full (every other sample, interval doubled); the console's
copy, fed only the new samples, is thinned the same way (before: it kept the last
2,000 samples, ~33 minutes, and grew for those 33 minutes)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from mmtui.core.clock import SimClock
from mmtui.core.pnl_history import SAMPLES_KEPT, PnlHistory
from mmtui.remote.client import RemoteView

START_MS = 1_796_671_072_000


async def test_the_console_copy_is_the_core_history_through_thinning() -> None:
    clock = SimClock(start_ms=START_MS)
    pnl = {"as_btc": Decimal("0")}
    history = PnlHistory(
        clock=clock, total=lambda: sum(pnl.values(), Decimal(0)), strategies=lambda: pnl
    )
    sampling = asyncio.get_running_loop().create_task(history.run())
    await asyncio.sleep(0)  # its first sample, at the session's start
    remote = RemoteView()
    sent_ts = -1
    try:
        for i in range(3 * SAMPLES_KEPT + 17):
            pnl["as_btc"] = Decimal(i) / 100
            await clock.advance(int(history.interval_s * 1000))
            # what the publisher sends: the samples newer than the last one sent
            fresh = tuple(p for p in history.points if p.ts_ms > sent_ts)
            sent_ts = fresh[-1].ts_ms
            remote.apply({"type": "state", "set": {}, "append": {"pnl": fresh}}, None)
            assert remote.pnl_history() == tuple(history.points), i
    finally:
        sampling.cancel()
    assert len(remote.pnl_history()) < SAMPLES_KEPT
    assert history.interval_s > 1.0  # thinned (and the interval doubled) on the way
    assert remote.pnl_history()[0].ts_ms == START_MS  # the session's start kept
