"""Weighted token-bucket rate limiting per venue, with priorities and 429 back-off.

One ``RateLimiter`` guards one venue's request budget. Requests are weighted by
a key (endpoint name), and waiters are served strictly by ``(priority, arrival)``:
a cancel queued after a place is still served first, and a light request never
jumps ahead of a heavier one that is already waiting (no starvation of heavy
requests, no head-of-line deadlock: every weight fits in the bucket).

No lock is held while waiting. The waiter at the head of the queue sleeps until
its tokens will be there; the others park on a future until they become head.
The limiter is meant for a single event loop (it is not thread-safe).

Time is injectable: pass ``time_fn``/``sleep_fn`` (e.g. from a sim clock) to run
on virtual time.
"""

from __future__ import annotations

import asyncio
import enum
import heapq
import itertools
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

# Float slack: a deficit or delay this small counts as zero, so rounding never
# turns into an endless series of zero-length sleeps.
_EPS = 1e-9
# Shortest sleep: clocks with millisecond resolution (the sim clock) return at once
# for shorter sleeps, which would make the head of the queue spin.
MIN_SLEEP_S = 0.001


class Priority(enum.IntEnum):
    """Service class of a request; lower values are served first."""

    CANCEL = 0
    PLACE = 1
    QUERY = 2


@dataclass(frozen=True, slots=True)
class RateLimitSnapshot:
    """Point-in-time view of a limiter, for the UI and metrics."""

    tokens: float
    ceiling: float
    refill_per_s: float
    waiting: int
    backoff_remaining_s: float
    granted: int
    waited_s_total: float


class _Waiter:
    """A queued ``acquire``; ordered by (priority, arrival), equal only to itself."""

    __slots__ = ("priority", "seq", "wakeup", "weight")

    def __init__(self, priority: Priority, seq: int, weight: float) -> None:
        self.priority = priority
        self.seq = seq
        self.weight = weight
        self.wakeup: asyncio.Future[None] | None = None

    def __lt__(self, other: _Waiter) -> bool:
        return (self.priority, self.seq) < (other.priority, other.seq)


def _positive(name: str, value: float) -> float:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


class RateLimiter:
    """A weighted token bucket: ``capacity`` tokens per ``per_seconds``.

    The bucket refills continuously at ``capacity / per_seconds`` tokens per
    second up to ``burst`` (default ``capacity``) and starts full. Every
    configured weight must fit in the bucket; that is checked here, at
    configuration time, so a too-heavy request can never wait forever.
    """

    def __init__(
        self,
        capacity: float,
        per_seconds: float = 60.0,
        *,
        weights: Mapping[str, float] | None = None,
        default_weight: float = 1.0,
        burst: float | None = None,
        time_fn: Callable[[], float] = time.monotonic,
        sleep_fn: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        capacity = _positive("capacity", capacity)
        per_seconds = _positive("per_seconds", per_seconds)
        self._ceiling = capacity if burst is None else _positive("burst", burst)
        self._rate = capacity / per_seconds
        self._weights: dict[str, float] = {}
        for key, value in (weights or {}).items():
            self._weights[key] = self._validated_weight(key, value)
        self._default_weight = self._validated_weight("<default>", default_weight)
        self._time = time_fn
        self._sleep = sleep_fn

        self._tokens = self._ceiling
        self._last = time_fn()
        self._backoff_until = -math.inf
        self._queue: list[_Waiter] = []
        self._seq = itertools.count()
        self._granted = 0
        self._waited_total = 0.0

    # -- configuration ---------------------------------------------------------

    def _validated_weight(self, key: str, value: float) -> float:
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"weight for {key!r} must be a finite number >= 0, got {value!r}")
        if value > self._ceiling:
            raise ValueError(
                f"{key!r} has weight {value:g}, above the bucket ceiling {self._ceiling:g}: "
                "such a request could never be served"
            )
        return float(value)

    def weight(self, key: str) -> float:
        """The configured weight of ``key`` (``default_weight`` if not configured)."""
        return self._weights.get(key, self._default_weight)

    def check(self, key: str, *, weight: float | None = None) -> None:
        """Raise ``ValueError`` if the request (``key`` or an explicit ``weight``) can never fit."""
        self._request_weight(key, weight)

    def _request_weight(self, key: str, weight: float | None) -> float:
        if weight is None:
            return self.weight(key)
        return self._validated_weight(key, weight)

    # -- bucket arithmetic -----------------------------------------------------

    def _refill(self, now: float) -> None:
        if now > self._last:
            self._tokens = min(self._ceiling, self._tokens + (now - self._last) * self._rate)
            self._last = now

    def _delay(self, weight: float, now: float) -> float:
        """Seconds until ``weight`` tokens may be granted (<= 0: now)."""
        deficit = weight - self._tokens
        token_delay = deficit / self._rate if deficit > _EPS else 0.0
        return max(self._backoff_until - now, token_delay)

    def _grant(self, weight: float, waited: float) -> None:
        self._tokens = max(0.0, self._tokens - weight)
        self._granted += 1
        self._waited_total += waited

    def _wake_head(self) -> None:
        """Let the (new) head of the queue re-examine the bucket."""
        if self._queue:
            wakeup = self._queue[0].wakeup
            if wakeup is not None and not wakeup.done():
                wakeup.set_result(None)

    def _discard(self, waiter: _Waiter) -> None:
        try:
            self._queue.remove(waiter)
        except ValueError:
            return
        heapq.heapify(self._queue)
        self._wake_head()

    # -- public API ------------------------------------------------------------

    async def acquire(
        self, key: str, priority: Priority = Priority.QUERY, *, weight: float | None = None
    ) -> float:
        """Wait for the tokens of ``key`` (or ``weight``); return the seconds waited.

        Waiters are served strictly in (priority, arrival) order. Cancelling a
        waiting task removes it from the queue without consuming tokens.
        """
        need = self._request_weight(key, weight)
        start = self._time()
        self._refill(start)
        if not self._queue and self._delay(need, start) <= _EPS:
            self._grant(need, 0.0)
            return 0.0

        waiter = _Waiter(Priority(priority), next(self._seq), need)
        heapq.heappush(self._queue, waiter)
        loop = asyncio.get_running_loop()
        try:
            while True:
                if self._queue[0] is waiter:
                    now = self._time()
                    self._refill(now)
                    delay = self._delay(need, now)
                    if delay <= _EPS:
                        heapq.heappop(self._queue)
                        waited = max(0.0, now - start)
                        self._grant(need, waited)
                        break
                    # Head of the queue: sleep (no lock held), then re-check;
                    # a later, more urgent arrival may have taken the head.
                    await self._sleep(max(delay, MIN_SLEEP_S))
                else:
                    waiter.wakeup = loop.create_future()
                    await waiter.wakeup
                    waiter.wakeup = None
        except BaseException:
            self._discard(waiter)
            raise
        self._wake_head()
        return waited

    def try_acquire(self, key: str, *, weight: float | None = None) -> bool:
        """Take the tokens now if nobody is queued and they are available; never waits."""
        need = self._request_weight(key, weight)
        if self._queue:
            return False
        now = self._time()
        self._refill(now)
        if self._delay(need, now) > _EPS:
            return False
        self._grant(need, 0.0)
        return True

    def back_off(self, seconds: float) -> None:
        """Grant nothing before now + ``seconds`` (after HTTP 429 / Retry-After).

        Extends an existing back-off, never shortens it. Refill continues meanwhile.
        """
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"back-off must be a finite number >= 0, got {seconds!r}")
        self._backoff_until = max(self._backoff_until, self._time() + seconds)

    def snapshot(self) -> RateLimitSnapshot:
        """Current tokens, queue length, back-off and totals."""
        now = self._time()
        self._refill(now)
        return RateLimitSnapshot(
            tokens=self._tokens,
            ceiling=self._ceiling,
            refill_per_s=self._rate,
            waiting=len(self._queue),
            backoff_remaining_s=max(0.0, self._backoff_until - now),
            granted=self._granted,
            waited_s_total=self._waited_total,
        )
