"""RateLimiter behaviour on virtual time (no wall-clock assertions)."""

from __future__ import annotations

import asyncio
import heapq
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmtui.core.ratelimit import Priority, RateLimiter, RateLimitSnapshot


class FakeClock:
    """Virtual time: ``sleep`` parks until ``advance`` moves time past its deadline."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._seq), future))
        await future

    async def advance(self, seconds: float) -> None:
        target = self.now + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, future = heapq.heappop(self._sleepers)
            self.now = max(self.now, deadline)
            if not future.done():
                future.set_result(None)
            await settle()
        self.now = target
        await settle()


class AutoClock:
    """Simplest fake: ``sleep`` jumps time forward by the requested amount."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


async def settle(rounds: int = 50) -> None:
    """Let every runnable task run until the loop is quiet (no real time passes)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


async def finish(tasks: list[asyncio.Task[None]]) -> None:
    """All tasks must already be done (a stuck waiter fails the test, never hangs it)."""
    await settle()
    assert all(t.done() for t in tasks), "some waiters never got their tokens"
    await asyncio.gather(*tasks)


def make(
    clock: FakeClock | AutoClock, capacity: float = 10, per_seconds: float = 10, **kwargs: object
) -> RateLimiter:
    return RateLimiter(capacity, per_seconds, time_fn=clock.time, sleep_fn=clock.sleep, **kwargs)  # type: ignore[arg-type]


def drain(limiter: RateLimiter) -> None:
    while limiter.try_acquire("drain", weight=1):
        pass
    assert limiter.snapshot().tokens < 1


def test_weights_and_default() -> None:
    limiter = RateLimiter(100, weights={"orders": 5, "book": 2.5}, default_weight=3)
    assert limiter.weight("orders") == 5
    assert limiter.weight("book") == 2.5
    assert limiter.weight("anything-else") == 3


def test_try_acquire_consumes_weighted_tokens() -> None:
    clock = FakeClock()
    limiter = make(clock, weights={"heavy": 4})
    assert limiter.try_acquire("heavy")
    assert limiter.try_acquire("heavy")
    assert limiter.snapshot().tokens == pytest.approx(2)
    assert not limiter.try_acquire("heavy")  # 2 left, needs 4
    assert limiter.try_acquire("light")  # default weight 1
    assert limiter.snapshot().tokens == pytest.approx(1)


def test_over_ceiling_weight_fails_at_construction() -> None:
    with pytest.raises(ValueError, match=r"'batch'.*1200.*1000"):
        RateLimiter(1000, weights={"ok": 10, "batch": 1200})
    # the ceiling is the burst when given, not the capacity
    with pytest.raises(ValueError, match=r"'orders'.*50.*20"):
        RateLimiter(100, burst=20, weights={"orders": 50})
    with pytest.raises(ValueError, match="default"):
        RateLimiter(10, default_weight=11)
    with pytest.raises(ValueError, match="capacity"):
        RateLimiter(0)
    with pytest.raises(ValueError, match="must be a finite number >= 0"):
        RateLimiter(10, weights={"neg": -1})


async def test_check_and_acquire_reject_unfittable_explicit_weight() -> None:
    clock = FakeClock()
    limiter = make(clock)
    limiter.check("orders")  # default weight fits
    limiter.check("orders", weight=10)
    with pytest.raises(ValueError, match=r"'orders'.*11.*10"):
        limiter.check("orders", weight=11)
    # acquire fails immediately instead of waiting forever
    with pytest.raises(ValueError):
        await asyncio.wait_for(limiter.acquire("orders", weight=11), timeout=5)
    with pytest.raises(ValueError):
        limiter.try_acquire("orders", weight=11)
    assert limiter.snapshot().waiting == 0


async def test_no_wait_when_tokens_available() -> None:
    clock = AutoClock()
    limiter = make(clock)
    assert await limiter.acquire("x") == 0.0
    assert clock.sleeps == []


async def test_wait_matches_refill_rate() -> None:
    clock = AutoClock()
    # 60 per minute = 1 token/s
    limiter = make(clock, capacity=60, per_seconds=60, weights={"w3": 3})
    drain(limiter)
    waited = await limiter.acquire("w3")
    assert waited == pytest.approx(3.0)
    assert clock.now == pytest.approx(1003.0)
    assert limiter.snapshot().tokens == pytest.approx(0.0, abs=1e-6)


async def test_not_granted_before_tokens_are_there() -> None:
    clock = FakeClock()
    limiter = make(clock, capacity=2, per_seconds=1)  # 2 tokens/s
    drain(limiter)
    task = asyncio.create_task(limiter.acquire("x", weight=2))
    await settle()
    await clock.advance(0.99)
    assert not task.done()
    assert limiter.snapshot().waiting == 1
    await clock.advance(0.01)
    assert task.done()
    assert task.result() == pytest.approx(1.0)


async def test_cancels_served_before_earlier_places() -> None:
    clock = FakeClock()
    limiter = make(clock)  # 1 token/s
    drain(limiter)
    done: list[str] = []

    async def go(name: str, priority: Priority) -> None:
        await limiter.acquire(name, priority)
        done.append(name)

    tasks = [asyncio.create_task(go("place1", Priority.PLACE))]
    await settle()
    tasks.append(asyncio.create_task(go("query", Priority.QUERY)))
    tasks.append(asyncio.create_task(go("place2", Priority.PLACE)))
    await settle()
    tasks.append(asyncio.create_task(go("cancel", Priority.CANCEL)))
    await settle()
    assert limiter.snapshot().waiting == 4

    await clock.advance(1)
    assert done == ["cancel"]
    await clock.advance(1)
    assert done == ["cancel", "place1"]
    await clock.advance(2)
    assert done == ["cancel", "place1", "place2", "query"]
    await finish(tasks)


async def test_fifo_within_priority() -> None:
    clock = FakeClock()
    limiter = make(clock)
    drain(limiter)
    done: list[int] = []

    async def go(i: int) -> None:
        await limiter.acquire("x", Priority.PLACE)
        done.append(i)

    tasks = []
    for i in range(5):
        tasks.append(asyncio.create_task(go(i)))
        await settle()
    for expected in range(1, 6):
        await clock.advance(1)
        assert done == list(range(expected))
    await finish(tasks)


async def test_back_off_blocks_then_releases() -> None:
    clock = FakeClock()
    limiter = make(clock)
    limiter.back_off(5)
    assert limiter.snapshot().backoff_remaining_s == pytest.approx(5)
    assert not limiter.try_acquire("x")  # bucket is full, but we are backing off
    task = asyncio.create_task(limiter.acquire("x", Priority.CANCEL))
    await settle()
    await clock.advance(4.9)
    assert not task.done()
    await clock.advance(0.1)
    assert task.done()
    assert task.result() == pytest.approx(5)
    assert limiter.snapshot().backoff_remaining_s == 0
    assert limiter.try_acquire("x")


async def test_back_off_extends_never_shortens() -> None:
    clock = FakeClock()
    limiter = make(clock)
    limiter.back_off(5)
    limiter.back_off(2)
    assert limiter.snapshot().backoff_remaining_s == pytest.approx(5)
    await clock.advance(1)
    limiter.back_off(8)
    assert limiter.snapshot().backoff_remaining_s == pytest.approx(8)
    with pytest.raises(ValueError):
        limiter.back_off(-1)


async def test_back_off_while_head_is_sleeping_delays_it() -> None:
    clock = FakeClock()
    limiter = make(clock)
    drain(limiter)
    task = asyncio.create_task(limiter.acquire("x"))
    await settle()  # head sleeps for ~1 s of refill
    limiter.back_off(3)
    await clock.advance(2.9)
    assert not task.done()
    await clock.advance(0.1)
    assert task.result() == pytest.approx(3)


async def test_cancelled_head_does_not_block_or_leak() -> None:
    clock = FakeClock()
    limiter = make(clock)
    drain(limiter)
    heavy = asyncio.create_task(limiter.acquire("heavy", weight=8))
    await settle()
    light = asyncio.create_task(limiter.acquire("light"))
    await settle()
    await clock.advance(0.5)

    heavy.cancel()
    await settle()
    assert heavy.cancelled()
    assert limiter.snapshot().waiting == 1
    # light only needs 1 token, not the 8 the cancelled heavy request waited for
    await clock.advance(0.5)
    assert light.done()
    assert light.result() == pytest.approx(1.0)
    snap = limiter.snapshot()
    assert snap.waiting == 0
    assert snap.tokens == pytest.approx(0.0, abs=1e-6)  # 1 s of refill, 1 token taken
    await clock.advance(3)
    assert limiter.snapshot().tokens == pytest.approx(3.0)  # nothing leaked or lost


async def test_cancelled_middle_waiter_leaves_queue() -> None:
    clock = FakeClock()
    limiter = make(clock)
    drain(limiter)
    done: list[str] = []

    async def go(name: str) -> None:
        await limiter.acquire(name)
        done.append(name)

    tasks = {}
    for name in ("a", "b", "c"):
        tasks[name] = asyncio.create_task(go(name))
        await settle()
    tasks["b"].cancel()
    await settle()
    assert limiter.snapshot().waiting == 2
    await clock.advance(2)
    assert done == ["a", "c"]
    before = limiter.snapshot().granted
    await clock.advance(5)
    assert limiter.snapshot().granted == before


async def test_heavy_request_ahead_of_light_ones_no_deadlock() -> None:
    clock = FakeClock()
    limiter = make(clock, weights={"heavy": 10})  # weight == ceiling
    drain(limiter)
    done: list[str] = []

    async def go(name: str, key: str) -> None:
        await limiter.acquire(key)
        done.append(name)

    tasks = [asyncio.create_task(go("heavy", "heavy"))]
    await settle()
    for i in range(3):
        tasks.append(asyncio.create_task(go(f"light{i}", "light")))
        await settle()
    await clock.advance(9.5)
    assert done == []  # lights do not sneak in on the 9 tokens the heavy one is waiting for
    late = asyncio.create_task(go("light3", "light"))  # tokens are there, but so is a queue
    await settle()
    assert done == []
    tasks.append(late)
    await clock.advance(0.5)
    assert done == ["heavy"]
    for i in range(4):
        await clock.advance(1)
        assert done[-1] == f"light{i}"
    await finish(tasks)


async def test_try_acquire_refuses_while_others_queue() -> None:
    clock = FakeClock()
    limiter = make(clock)
    drain(limiter)
    task = asyncio.create_task(limiter.acquire("x", weight=5))
    await settle()
    await clock.advance(2)  # 2 tokens present, but a waiter is queued
    assert not limiter.try_acquire("x")
    await clock.advance(3)
    await task


async def test_snapshot_figures() -> None:
    clock = AutoClock()
    limiter = make(clock, capacity=120, per_seconds=60, burst=4)  # 2 tokens/s, ceiling 4
    snap = limiter.snapshot()
    assert snap == RateLimitSnapshot(
        tokens=4,
        ceiling=4,
        refill_per_s=2,
        waiting=0,
        backoff_remaining_s=0,
        granted=0,
        waited_s_total=0,
    )
    for _ in range(4):
        assert limiter.try_acquire("x")
    assert await limiter.acquire("x", weight=2) == pytest.approx(1.0)
    assert await limiter.acquire("x", weight=3) == pytest.approx(1.5)
    snap = limiter.snapshot()
    assert snap.granted == 6
    assert snap.waited_s_total == pytest.approx(2.5)
    assert snap.tokens == pytest.approx(0, abs=1e-6)
    clock.now += 100
    assert limiter.snapshot().tokens == 4  # never above the burst ceiling


async def test_waiting_count_in_snapshot() -> None:
    clock = FakeClock()
    limiter = make(clock)
    drain(limiter)
    tasks = [asyncio.create_task(limiter.acquire("x")) for _ in range(3)]
    await settle()
    assert limiter.snapshot().waiting == 3
    await clock.advance(3)
    assert limiter.snapshot().waiting == 0
    assert all(t.done() for t in tasks)


async def test_default_real_clock() -> None:
    # Real time, a ~0.2 s wait; a slow refill so draining can outrun it on a loaded
    # machine, and the bound is deliberately loose.
    limiter = RateLimiter(10, per_seconds=1.0)
    drain(limiter)
    waited = await asyncio.wait_for(limiter.acquire("x", weight=2), timeout=30)
    assert 0 < waited < 30
    assert limiter.snapshot().granted >= 11


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(list(Priority)), st.integers(1, 5)), min_size=1, max_size=12)
)
def test_service_order_and_token_budget(requests: list[tuple[Priority, int]]) -> None:
    """All queued at once on an empty bucket: served by (priority, arrival); never over budget."""

    async def scenario() -> None:
        clock = FakeClock()
        limiter = make(clock, capacity=5, per_seconds=5)  # 1 token/s, ceiling 5
        drain(limiter)
        start_granted = limiter.snapshot().granted
        order: list[int] = []
        grant_times: list[float] = []

        async def go(i: int, priority: Priority, weight: int) -> None:
            await limiter.acquire(f"k{i}", priority, weight=weight)
            order.append(i)
            grant_times.append(clock.now)

        tasks = []
        for i, (priority, weight) in enumerate(requests):
            tasks.append(asyncio.create_task(go(i, priority, weight)))
            await settle(5)
        while len(order) < len(requests):
            await clock.advance(0.25)
        await finish(tasks)

        expected = sorted(range(len(requests)), key=lambda i: (requests[i][0], i))
        assert order == expected
        # tokens granted by time t never exceed what refilled since the drain
        spent = 0.0
        for i, t in zip(order, grant_times, strict=True):
            spent += requests[i][1]
            assert spent <= (t - 1000.0) * 1.0 + 1 + 1e-6  # < 1 token left after drain
        assert limiter.snapshot().granted == start_granted + len(requests)

    asyncio.run(scenario())


async def test_millisecond_clock_does_not_spin() -> None:
    """A sim clock with ms resolution: sub-ms waits still sleep (>= 1 ms), never spin."""
    clock = AutoClock()
    ms_sleeps: list[float] = []

    async def ms_sleep(seconds: float) -> None:
        ms_sleeps.append(seconds)
        await clock.sleep(round(seconds * 1000) / 1000)  # 0.0004 s -> no time passes

    limiter = RateLimiter(1, 1, time_fn=clock.time, sleep_fn=ms_sleep)
    assert limiter.try_acquire("x")
    clock.now += 0.9996  # 0.0004 tokens short
    waited = await asyncio.wait_for(limiter.acquire("x"), timeout=5)
    assert waited == pytest.approx(0.001)
    assert ms_sleeps == [pytest.approx(0.001)]
