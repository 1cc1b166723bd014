"""The account tier (connectors/lighter/pacing.py): the published request budget every
request waits for, the Premium volume quota; and the emulator enforcing both
(connectors/lighter/emulator/limits.py). Emulator windows are scaled down (60 requests per
3 s instead of per minute) so a test sees several windows; the ratios are the venue's."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest

from connectors.base import OrderRequest, OrderStatus, RateLimited, Side
from connectors.lighter.connector import LighterConnector
from connectors.lighter.pacing import PREMIUM, STANDARD, Priority, RequestPacer, RollingBudget
from tests.contract.rigs.lighter import LighterRig
from tests.lighter.conftest import Connected
from tests.waiting import until

PREFIX = "mmtier"
WINDOW_S = 3.0


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


async def test_a_rolling_minute_grants_sixty_then_one_as_each_expires() -> None:
    clock = FakeTime()
    budget = RollingBudget(60, 60.0, margin_s=0, time_fn=clock, sleep_fn=clock.sleep)
    for i in range(60):
        clock.now = i * 0.5  # sixty in the first 30 s
        await budget.acquire(1)
    await budget.acquire(1)  # waits for the first grant to leave the window
    assert clock.now == pytest.approx(60.0)
    assert budget.used() == 60


async def test_waiting_cancels_are_served_before_waiting_reads() -> None:
    clock = FakeTime()
    budget = RollingBudget(2, 10.0, time_fn=clock, sleep_fn=clock.sleep)
    await budget.acquire(2)
    order: list[str] = []

    async def take(name: str, priority: int) -> None:
        await budget.acquire(1, priority)
        order.append(name)

    read = asyncio.get_running_loop().create_task(take("read", Priority.QUERY))
    await asyncio.sleep(0)
    cancel = asyncio.get_running_loop().create_task(take("cancel", Priority.CANCEL))
    await asyncio.gather(read, cancel)
    assert order == ["cancel", "read"]


def test_the_tiers_published_limits() -> None:
    # Standard: 60 requests a minute, orders and reads alike; trades (weight 600) 40
    assert STANDARD.rest_budget / STANDARD.cost("sendTxBatch") == 60
    assert STANDARD.rest_budget / STANDARD.cost("accountActiveOrders") == 60
    assert STANDARD.rest_budget / STANDARD.cost("trades") == 40
    assert STANDARD.tx_per_window is None and not STANDARD.volume_quota
    # Premium: 24,000 weighted reads, sendTx/sendTxBatch apart (4,000), the volume quota
    assert PREMIUM.rest_budget / PREMIUM.cost("accountActiveOrders") == 80
    assert PREMIUM.tx_per_window == 4000 and PREMIUM.volume_quota


def test_the_volume_quota_counts_the_free_transaction_and_what_volume_earns() -> None:
    clock = FakeTime()
    pacer = RequestPacer(PREMIUM, time_fn=clock)
    quota = pacer.quota
    assert quota is not None and quota.allowance() is None  # unknown until the venue says
    quota.seen(2)
    assert quota.allowance() == 3  # two, and the free one
    quota.spent(3)
    assert quota.remaining == 0 and quota.allowance() == 0
    clock.now = 15.0
    assert quota.allowance() == 1  # every 15 s, a free sendTx
    quota.earned(Decimal(70))  # one per 7 USD traded
    assert quota.allowance() == 11


# -- against the emulator ---------------------------------------------------------------


class Account:
    def __init__(self, rig: LighterRig, conn: LighterConnector) -> None:
        self.rig, self.conn = rig, conn
        self.n = 0

    def stat(self, name: str) -> Any:
        return self.rig.stat(name)

    def order(self, ticks: int, size: Decimal | None = None) -> OrderRequest:
        self.n += 1
        bid, _, tick = self.rig.touch("BTC")
        return OrderRequest(
            f"{PREFIX}-{self.n}",
            "BTC",
            Side.BUY,
            size or self.rig.min_size("BTC"),
            price=bid - ticks * tick,
            post_only=True,
        )


Make = Callable[..., Awaitable[Account]]


@pytest.fixture
def make(connected: Connected) -> Make:
    async def start(
        pacer: RequestPacer | None, options: dict[str, Any] | None = None, **emu: Any
    ) -> Account:
        return Account(*await connected(PREFIX, {"pacer": pacer, **(options or {})}, **emu))

    return start


async def requote_ladder(a: Account, levels: int, seconds: float) -> int:
    """Cancel and replace a ``levels``-order ladder as fast as the connector lets us for
    ``seconds``; the requotes done."""
    live = [a.order(20 + i) for i in range(levels)]
    await asyncio.gather(*(a.conn.place(r) for r in live))
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    requotes = 0
    while loop.time() < end:
        new = [a.order(20 + (requotes + 1) % 3 + i) for i in range(levels)]
        await asyncio.gather(
            *(a.conn.cancel("BTC", r.client_id) for r in live),
            *(a.conn.place(r) for r in new),
        )
        live = new
        requotes += 1
    return requotes


async def test_a_paced_standard_account_is_never_refused(make: Make) -> None:
    """Ten-level requotes as fast as allowed for two windows of a Standard account: one
    batch each, never a 429 -- and about the whole budget used."""
    pacer = RequestPacer(STANDARD, window_s=WINDOW_S, margin_s=0.5)
    # the emulator's pure-Python signature check (~5 ms a tx, 20 a requote) would cap the
    # requotes this measures; tests/lighter/test_signatures.py covers the check
    a = await make(
        pacer, tier="standard", tier_window_s=WINDOW_S, apply_delay_ms=0, verify_signatures=False
    )
    await until(lambda: a.conn.orders.snapshot, what="the order stream")
    requests = a.conn.tx.queue.requests
    requotes = await requote_ladder(a, 10, 2 * WINDOW_S)
    assert a.stat("rate_limited") == 0 and pacer.rate_limited == 0
    assert a.conn.tx.queue.requests - requests == requotes + 1  # one request per requote
    # 51 requests a window for requotes (6 kept for a shutdown, 3 more for cancels), a few
    # of them went to reads (nonce, instruments): about two windows' worth
    assert requotes >= 85


async def test_an_unpaced_burst_is_refused_by_a_standard_emulator(make: Make) -> None:
    a = await make(None, tier="standard", tier_window_s=WINDOW_S, apply_delay_ms=0)
    with pytest.raises(RateLimited):
        for i in range(70):
            await a.conn.place(a.order(20 + i % 5))
    assert a.stat("rate_limited") >= 1


async def test_out_of_volume_quota_orders_wait_for_the_free_transaction(make: Make) -> None:
    pacer = RequestPacer(PREMIUM, free_tx_s=0.5)
    a = await make(pacer, tier="premium", volume_quota=4, free_tx_s=0.5)
    assert (await a.conn.place(a.order(20))).status is OrderStatus.PENDING  # 3 left
    assert pacer.quota is not None and pacer.quota.remaining == 3
    burst = [a.order(21 + i) for i in range(6)]
    acks = await asyncio.gather(*(a.conn.place(r) for r in burst))  # 3 + free, then 1/0.5 s
    assert all(ack.status is OrderStatus.PENDING for ack in acks)
    assert a.stat("quota_refused") == 0
    assert pacer.quota.held >= 1
    await until(lambda: len(a.rig.venue_orders()) == 7, what="all seven rest")
    # cancels spend no quota: they go at once, quota or not
    assert await a.conn.cancel("BTC", burst[0].client_id)


async def test_the_last_requests_of_a_window_are_kept_for_cancels() -> None:
    clock = FakeTime()
    budget = RollingBudget(60, 60.0, reserve=3, margin_s=0, time_fn=clock, sleep_fn=clock.sleep)
    for _ in range(57):
        await budget.acquire(1, Priority.PLACE)
    assert clock.now == 0.0
    for _ in range(3):  # the reserve: cancels only, at once
        await budget.acquire(1, Priority.CANCEL)
    assert clock.now == 0.0
    await budget.acquire(1, Priority.QUERY)  # a read waits for the window
    assert clock.now == pytest.approx(60.0)


async def test_a_spent_standard_minute_still_lets_a_shutdown_through(make: Make) -> None:
    """Quoting spent the minute (as a 500 ms AS tick on a Standard account does in about
    30 s): the shutdown's cancels, its listing that checks them and the switch's abort
    still go at once, from the part of the window kept for cancels."""
    window = 30.0
    pacer = RequestPacer(STANDARD, window_s=window, margin_s=0.5)
    a = await make(pacer, {"dead_man_switch_s": 600}, tier="standard", tier_window_s=window)
    orders = [a.order(20 + i) for i in range(3)]
    await asyncio.gather(*(a.conn.place(r) for r in orders))
    await until(lambda: len(a.rig.venue_orders()) == 3, what="three rest")
    while pacer.rest.used() < pacer.rest.room(Priority.PLACE):
        await pacer.request("accountOrders", Priority.PLACE)  # the minute spent
    loop = asyncio.get_running_loop()
    start = loop.time()
    oks = await asyncio.wait_for(
        asyncio.gather(*(a.conn.cancel("BTC", r.client_id) for r in orders)), 5
    )
    assert all(oks)
    await until(lambda: a.rig.venue_orders() == [], what="cancelled")
    assert await asyncio.wait_for(a.conn.open_orders("BTC"), 5) == []
    await asyncio.wait_for(a.conn.close(), 5)
    assert a.conn.dead_man_deadline_ms is None  # the switch's abort went too
    assert loop.time() - start < 10  # not the rest of the window
    assert a.stat("rate_limited") == 0
