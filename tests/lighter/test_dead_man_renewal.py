"""The dead-man's switch as Lighter runs it (connectors/lighter/dead_man.py): one queued
scheduled cancel-all per account, another refused with 21712. Renewals abort, then
schedule; a schedule already queued at connect is taken over; a venue that counts an abort
only once executed is waited for; a clean close aborts the switch even when a caller gave
up in the middle of a send. Our connector against the emulator."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from connectors.base import OrderRequest, OrderStatus, Side
from connectors.lighter.connector import LighterConnector
from tests.contract.rigs.lighter import ACCOUNT_INDEX, LighterRig
from tests.lighter.conftest import Connected
from tests.waiting import until

PREFIX = "mmswitch"
SWITCH_S = 1.5
"""Renewed every 0.5 s; the emulator takes schedules 0.5 s ahead and more."""


class Switch:
    def __init__(self, rig: LighterRig, conn: LighterConnector) -> None:
        self.rig, self.conn = rig, conn
        self.n = 0

    def stat(self, name: str) -> Any:
        return self.rig.stat(name)

    def schedule(self) -> int | None:
        h = self.rig._harness
        s = h.call(lambda: h.dialect.schedule(ACCOUNT_INDEX))
        return s[0] if s else None

    def extra(self, name: str) -> int:
        return int(self.conn.stats.extra.get(name, 0))

    async def rest_one(self) -> str:
        self.n += 1
        cid = f"{PREFIX}-{self.n}"
        bid, _, tick = self.rig.touch("BTC")
        size = self.rig.min_size("BTC")
        req = OrderRequest(cid, "BTC", Side.BUY, size, price=bid - 30 * tick, post_only=True)
        assert (await self.conn.place(req)).status is OrderStatus.PENDING
        await until(lambda: len(self.rig.venue_orders()) >= self.n, what="the order rests")
        return cid


Make = Callable[..., Awaitable[Switch]]


@pytest.fixture
def make(connected: Connected) -> Make:
    async def start(*, before: Callable[[LighterRig], None] | None = None, **emu: Any) -> Switch:
        emu.setdefault("min_scheduled_cancel_ms", 500)
        options = {"dead_man_switch_s": SWITCH_S}
        return Switch(*await connected(PREFIX, options, before=before, **emu))

    return start


async def test_renewals_are_never_refused_and_never_fire_while_healthy(make: Make) -> None:
    s = await make()
    await s.rest_one()
    first = s.schedule()
    assert first is not None
    await until(lambda: s.extra("dead_man_pushes") >= 8, timeout=20, what="eight renewals")
    assert s.stat("schedules_refused") == 0
    assert s.stat("schedules_fired") == 0
    assert s.extra("dead_man_refused") == 0
    assert (s.schedule() or 0) > first  # pushed forward
    assert len(s.rig.venue_orders()) == 1  # the quote stayed
    # each of the seven renewals aborted the queued one (executed a moment after accepted)
    await until(lambda: s.stat("schedules_aborted") >= 7, what="seven aborts executed")


async def test_a_schedule_queued_at_connect_is_taken_over(make: Make) -> None:
    """A crashed run's schedule is still queued (another program of the account schedules
    one here): the first schedule is refused with 21712, the switch takes it over."""
    crashed_deadline = int(time.time() * 1000) + 60_000

    def crashed_run(rig: LighterRig) -> None:
        async def schedule(client: Any) -> Any:
            _, resp, err = await client.cancel_all_orders(
                client.CANCEL_ALL_TIF_SCHEDULED, crashed_deadline
            )
            assert err is None and resp.code == 200, err
            return resp

        rig.foreign_signer(schedule)
        h = rig._harness
        await_until_sync(lambda: h.call(lambda: h.dialect.schedule(ACCOUNT_INDEX)) is not None)

    s = await make(before=crashed_run)
    assert s.extra("dead_man_takeovers") == 1
    assert s.stat("schedules_refused") == 1  # our first schedule, at connect
    deadline = s.conn.dead_man_deadline_ms
    assert deadline is not None and deadline < crashed_deadline
    await until(lambda: s.schedule() == deadline, what="ours replaced the crashed run's")
    await s.rest_one()  # and it trades
    await until(lambda: s.extra("dead_man_pushes") >= 3, what="renewed as usual")
    assert s.stat("schedules_refused") == 1 and s.stat("schedules_fired") == 0


async def test_a_venue_counting_only_executed_aborts_is_waited_for(make: Make) -> None:
    s = await make(credit_queued_abort=False, apply_delay_ms=250)
    await s.rest_one()
    await until(lambda: s.extra("dead_man_pushes") >= 4, timeout=20, what="four renewals")
    assert s.extra("dead_man_refused") >= 1  # the schedule waited for the abort
    assert s.stat("schedules_fired") == 0
    assert len(s.rig.venue_orders()) == 1
    # between the abort's execution and the new schedule's the account has none: the gap
    await until(lambda: s.schedule() is not None, what="armed again after the gap")


async def test_a_clean_close_aborts_after_callers_gave_up_mid_send(make: Make) -> None:
    """Transactions still queued at the sequencer, and callers cancelled at every stage of
    a send (queued, signing, posting): the nonces stay exact and the close aborts the
    switch (what a shutdown that cancels its background tasks does)."""
    s = await make(apply_delay_ms=600)
    await s.rest_one()
    for delay in (0.0, 0.001, 0.004, 0.01, 0.03):
        s.n += 1
        bid, _, tick = s.rig.touch("BTC")
        req = OrderRequest(
            f"{PREFIX}-{s.n}",
            "BTC",
            Side.BUY,
            s.rig.min_size("BTC"),
            price=bid - (30 + s.n) * tick,
            post_only=True,
        )
        task = asyncio.get_running_loop().create_task(s.conn.place(req))
        await asyncio.sleep(delay)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    await s.conn.close()
    assert s.conn.dead_man_deadline_ms is None  # the abort was accepted
    assert s.conn.tx.nonce_resyncs == 0
    await until(lambda: s.schedule() is None, timeout=10, what="the abort executed")
    assert s.stat("schedules_fired") == 0


def await_until_sync(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"not met in {timeout} s")
        time.sleep(0.02)
