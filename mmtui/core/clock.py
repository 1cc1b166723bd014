"""One clock for the whole process, so the sim can run faster than real time.

Everything in the core reads time through a ``Clock`` and waits through it:
``WallClock`` in live mode, ``SimClock`` in sim mode. A ``SimClock`` is moved
forward explicitly (``advance``) by a pacer: in real time, ``speed`` times
faster, or as fast as the loop allows.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int: ...

    async def sleep(self, seconds: float) -> None: ...


class WallClock:
    """Real time (epoch milliseconds)."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class SimClock:
    """Virtual time that only moves when ``advance`` is called.

    ``sleep`` parks the caller until virtual time reaches its deadline, so
    timers in the core and strategies follow the simulated market exactly.
    """

    def __init__(self, start_ms: int = 1_700_000_000_000) -> None:
        self._now_ms = start_ms
        self._sleepers: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now_ms(self) -> int:
        return self._now_ms

    async def sleep(self, seconds: float) -> None:
        deadline = self._now_ms + max(0, round(seconds * 1000))
        if deadline <= self._now_ms:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (deadline, next(self._seq), future))
        await future

    async def advance(self, ms: int) -> None:
        """Move time forward by ``ms``, waking sleepers in deadline order."""
        target = self._now_ms + ms
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, future = heapq.heappop(self._sleepers)
            self._now_ms = max(self._now_ms, deadline)
            if not future.done():
                future.set_result(None)
                await asyncio.sleep(0)
        self._now_ms = target
        await asyncio.sleep(0)

    @property
    def pending_sleepers(self) -> int:
        return sum(1 for _, _, f in self._sleepers if not f.done())


async def pace(
    clock: SimClock,
    step_ms: int,
    speed: float | None,
    stop: asyncio.Event,
    gate: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Drive a ``SimClock``: ``speed`` x real time, or as fast as possible when None.

    ``gate``, awaited after every step, holds virtual time back while a consumer
    catches up (the journal's writer: back-pressure at ``--speed max``)."""
    if speed is not None and speed <= 0:
        raise ValueError(f"speed must be > 0, got {speed}")
    loop = asyncio.get_running_loop()
    started = loop.time()
    virtual_start = clock.now_ms()
    while not stop.is_set():
        await clock.advance(step_ms)
        if gate is not None:
            await gate()
        if speed is None:
            await asyncio.sleep(0)
            continue
        due = started + (clock.now_ms() - virtual_start) / 1000 / speed
        delay = due - loop.time()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
