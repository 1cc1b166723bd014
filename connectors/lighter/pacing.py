"""Lighter's request budget per account tier, paced inside the connector.

The connector is the only place that sees every request it sends (batches, nonce reads,
lookups, the dead-man's switch), so the venue's published budget is kept here. Sources
(docs/venues/lighter.md, "Account tier"):

* *docs/rate-limits*: a Standard account may send **60 requests per rolling minute**,
  unweighted, orders included; "whenever {premium_weighted_requests}/{endpoint_weight} <
  {standard_requests}, the former limit is going to be applied": so a request costs
  ``max(400, weight)`` of 24,000 a minute, which says both (``trades`` at weight 600: 40 a
  minute). A Premium account has **24,000 weighted requests per rolling minute** for
  REST, and ``sendTx`` / ``sendTxBatch`` in a separate bucket "linked to account type and
  staked tokens": **4,000 a minute** with no LIT staked (the Premium table of
  *docs/account-types*).
* *docs/volume-quota*: Premium only. CreateOrder, ModifyOrder (and transfers, grouped
  orders) spend one quota each, a batch of n spends n; cancels spend none; +1 for every 7
  USD traded; "every 15 seconds, you get a free SendTx which won't consume volume quota";
  a new account starts with 1,000. Every ``sendTx`` answer carries
  ``volume_quota_remaining``.

One ``RollingBudget`` keeps a log of what it granted in the last window and lets a request
wait (a shutdown's first, then cancels, then orders, then reads) until its cost fits. The
last ``SHUTDOWN_RESERVE`` of the window is a shutdown's alone (``RequestPacer.wind_down``:
its cancels, the listing that verifies them, the switch's abort), the ``CANCEL_RESERVE``
before it cancels' too: routine traffic never spends what a shutdown needs. A 429 closes
it for the ``Retry-After`` (or ``DEFAULT_BACKOFF_S``); while connecting
(``RequestPacer.connecting``) a 429 is waited out and the request asked again, bounded by
one window (an earlier run spent the venue's minute: our fresh budget cannot know).
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal

WINDOW_S = 60.0
PREMIUM_WEIGHTED = 24_000
STANDARD_REQUESTS = 60
STANDARD_FLOOR = PREMIUM_WEIGHTED // STANDARD_REQUESTS
"""What one request costs at least on a Standard account: 400 of 24,000."""
PREMIUM_TX_PER_MINUTE = 4_000
"""sendTx / sendTxBatch per minute of a Premium account with no LIT staked."""
USD_PER_QUOTA = Decimal(7)
"""Volume quota: one more per 7 USD traded."""
FREE_TX_EVERY_S = 15.0
DEFAULT_BACKOFF_S = 2.0
MARGIN = 0.02
"""A grant counts this share of the window longer than the window (at most 1 s)."""
SHUTDOWN_RESERVE = 0.1
"""The share of the budget only a shutdown may use (after ``RequestPacer.wind_down``: its
cancels, the listings that find and verify them, the switch's abort): 6 of a Standard
account's 60 requests -- a shutdown never waits for a minute routine traffic spent."""
CANCEL_RESERVE = 0.05
"""The share below it that requests which only cancel (and the open-orders listing) may
use and new orders and reads may not: 3 of a Standard account's 60."""
AGE_S = 5.0
"""A read waiting this long ranks with new orders."""

WEIGHTS = {
    "sendTx": 6,
    "sendTxBatch": 6,
    "nextNonce": 6,
    "publicPools": 50,
    "txFromL1TxHash": 50,
    "accountInactiveOrders": 100,
    "apikeys": 150,
    "transferFeeInfo": 500,
    "trades": 600,
    "recentTrades": 600,
}
"""Endpoint weights of *docs/rate-limits*; any other endpoint weighs ``DEFAULT_WEIGHT``."""
DEFAULT_WEIGHT = 300
TX_ENDPOINTS = frozenset({"sendTx", "sendTxBatch"})


class Priority(enum.IntEnum):
    SHUTDOWN = 0
    """A shutdown's requests (after ``RequestPacer.wind_down``): the whole window."""
    CANCEL = 1
    PLACE = 2
    QUERY = 3


def endpoint_of(path: str) -> str:
    """``/api/v1/accountInactiveOrders`` -> ``accountInactiveOrders``."""
    return path.split("/api/v1/", 1)[-1].strip("/")


@dataclass(frozen=True, slots=True)
class Tier:
    name: str
    rest_budget: int
    """Weight units per window for REST (and, without ``tx_per_window``, for txs too)."""
    floor: int
    """The least one request costs (Standard: 400 of 24,000, i.e. 60 requests)."""
    tx_per_window: int | None
    """Requests per window of the separate sendTx/sendTxBatch bucket (Premium)."""
    volume_quota: bool

    def cost(self, endpoint: str) -> int:
        return max(self.floor, WEIGHTS.get(endpoint, DEFAULT_WEIGHT))


STANDARD = Tier("standard", PREMIUM_WEIGHTED, STANDARD_FLOOR, None, volume_quota=False)
PREMIUM = Tier("premium", PREMIUM_WEIGHTED, 0, PREMIUM_TX_PER_MINUTE, volume_quota=True)
TIERS = {t.name: t for t in (STANDARD, PREMIUM)}


class _Waiter:
    __slots__ = ("cost", "priority", "seq", "since", "wakeup")

    def __init__(self, priority: int, seq: int, cost: float, since: float) -> None:
        self.priority = priority
        self.seq = seq
        self.cost = cost
        self.since = since
        self.wakeup: asyncio.Future[None] | None = None


class RollingBudget:
    """At most ``capacity`` cost units granted in any ``window_s`` seconds; the last
    ``shutdown_reserve`` of them only to a shutdown's requests, the ``reserve`` before
    those only to cancels and shutdowns (neither is starved by reads and new orders)."""

    def __init__(
        self,
        capacity: float,
        window_s: float = WINDOW_S,
        *,
        reserve: float = 0.0,
        shutdown_reserve: float = 0.0,
        margin_s: float | None = None,
        time_fn: Callable[[], float] = time.monotonic,
        sleep_fn: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not (math.isfinite(capacity) and capacity > 0 and window_s > 0):
            raise ValueError(f"a budget needs a positive capacity and window: {capacity}")
        self.capacity = float(capacity)
        self.shutdown_reserve = min(max(0.0, shutdown_reserve), self.capacity / 4)
        self.reserve = min(max(0.0, reserve), self.capacity / 4)
        self.window_s = window_s
        self.span_s = window_s + (min(1.0, window_s * MARGIN) if margin_s is None else margin_s)
        """How long a grant counts: the venue's window and a margin for the time between our
        grant and the venue counting the request (signing, the network, its own clock)."""
        self._time = time_fn
        self._sleep = sleep_fn
        self._log: deque[tuple[float, float]] = deque()
        self._used = 0.0
        self._backoff_until = -math.inf
        self._queue: list[_Waiter] = []
        self._seq = itertools.count()
        self.granted = 0
        self.waited_s = 0.0

    def used(self) -> float:
        """Cost granted in the last window."""
        self._expire(self._time())
        return self._used

    def _expire(self, now: float) -> None:
        edge = now - self.span_s
        while self._log and self._log[0][0] <= edge:
            _, cost = self._log.popleft()
            self._used -= cost
        if not self._log:
            self._used = 0.0

    def room(self, priority: int) -> float:
        """What ``priority`` may use of the window."""
        if priority <= Priority.SHUTDOWN:
            return self.capacity
        if priority <= Priority.CANCEL:
            return self.capacity - self.shutdown_reserve
        return self.capacity - self.shutdown_reserve - self.reserve

    def _delay(self, cost: float, now: float, priority: int = Priority.SHUTDOWN) -> float:
        """Seconds until ``cost`` fits (<= 0: now)."""
        wait = self._backoff_until - now
        room = self.room(priority)
        excess = self._used + cost - room
        if excess > 1e-9:
            freed = 0.0
            for at, c in self._log:
                freed += c
                if freed >= excess - 1e-9:
                    wait = max(wait, at + self.span_s - now)
                    break
        return wait

    def must_wait(self, cost: float, priority: int) -> bool:
        """Whether ``acquire(cost, priority)`` would wait now."""
        now = self._time()
        self._expire(now)
        cost = min(float(cost), self.capacity)
        return bool(self._queue) or self._delay(cost, now, priority) > 1e-9

    def _grant(self, cost: float, now: float) -> None:
        self._log.append((now, cost))
        self._used += cost
        self.granted += 1

    def sent(self, cost: float) -> None:
        """The newest grant of ``cost`` leaves only now (after signing): it counts from now."""
        now = self._time()
        for i in range(len(self._log) - 1, -1, -1):
            at, c = self._log[i]
            if c == cost:
                if now > at:
                    del self._log[i]
                    self._log.append((now, c))
                return

    def refund(self, cost: float) -> None:
        """Give back the newest grant of ``cost`` (it was not sent after all)."""
        for i in range(len(self._log) - 1, -1, -1):
            if self._log[i][1] == cost:
                del self._log[i]
                self._used -= cost
                self.granted -= 1
                break
        self._wake_head()

    def back_off(self, seconds: float) -> None:
        """Grant nothing before now + ``seconds`` (the venue answered 429)."""
        self._backoff_until = max(self._backoff_until, self._time() + max(0.0, seconds))

    def backoff_left(self) -> float:
        return max(0.0, self._backoff_until - self._time())

    def _rank(self, w: _Waiter, now: float) -> tuple[float, int]:
        """Cancels first; a read waiting ``AGE_S`` ranks with new orders (a steady stream
        of requotes never starves the lookups), never with cancels."""
        if w.priority <= Priority.CANCEL:
            return (float(w.priority), w.seq)
        return (max(float(Priority.PLACE), w.priority - (now - w.since) / AGE_S), w.seq)

    def _head(self, now: float) -> _Waiter | None:
        return min(self._queue, key=lambda w: self._rank(w, now)) if self._queue else None

    async def acquire(self, cost: float, priority: int = Priority.QUERY) -> None:
        cost = min(float(cost), self.capacity)  # a request heavier than the window still goes
        now = self._time()
        self._expire(now)
        if not self._queue and self._delay(cost, now, priority) <= 1e-9:
            self._grant(cost, now)
            return
        waiter = _Waiter(int(priority), next(self._seq), cost, now)
        self._queue.append(waiter)
        loop = asyncio.get_running_loop()
        try:
            while True:
                now = self._time()
                self._expire(now)
                if self._head(now) is waiter:
                    delay = self._delay(cost, now, waiter.priority)
                    if delay <= 1e-9:
                        self._queue.remove(waiter)
                        self._grant(cost, now)
                        self.waited_s += now - waiter.since
                        break
                    # sleep until it fits; wake earlier when someone ranks ahead now
                    waiter.wakeup = loop.create_future()
                    sleeper = loop.create_task(self._sleep(max(min(delay, AGE_S), 0.001)))
                    try:
                        await asyncio.wait({sleeper, waiter.wakeup}, return_when="FIRST_COMPLETED")
                    finally:
                        sleeper.cancel()
                        waiter.wakeup = None
                else:
                    self._wake_head()
                    waiter.wakeup = loop.create_future()
                    try:
                        await waiter.wakeup
                    finally:
                        waiter.wakeup = None
        except BaseException:
            if waiter in self._queue:
                self._queue.remove(waiter)
            self._wake_head()
            raise
        self._wake_head()

    def _wake_head(self) -> None:
        head = self._head(self._time())
        if head is not None and head.wakeup is not None and not head.wakeup.done():
            head.wakeup.set_result(None)


class VolumeQuota:
    """What the venue last said of the account's volume quota, and the free tx every
    ``FREE_TX_EVERY_S``: how many quota-spending txs may go now."""

    def __init__(
        self,
        *,
        free_every_s: float = FREE_TX_EVERY_S,
        time_fn: Callable[[], float] = time.monotonic,
    ) -> None:
        self.remaining: Decimal | None = None
        """Unknown until the first answer says."""
        self.free_every_s = free_every_s
        self._time = time_fn
        self._last_free = -math.inf
        self.held = 0
        """Txs held back so far because the quota was spent."""

    def allowance(self) -> int | None:
        """Quota-spending txs that may go now (None: no limit known)."""
        if self.remaining is None:
            return None
        n = int(self.remaining)
        if self._time() - self._last_free >= self.free_every_s:
            n += 1
        return max(0, n)

    def next_free_in(self) -> float:
        return max(0.0, self._last_free + self.free_every_s - self._time())

    def spent(self, n: int) -> None:
        """``n`` quota-spending txs were accepted (the free one first, when the quota is
        out)."""
        if self.remaining is None or n <= 0:
            return
        if self.remaining < n and self._time() - self._last_free >= self.free_every_s:
            self._last_free = self._time()
            n -= 1
        self.remaining = max(Decimal(0), self.remaining - n)

    def seen(self, remaining: int) -> None:
        self.remaining = Decimal(remaining)

    def earned(self, notional_usd: Decimal) -> None:
        """A fill of ours: the venue adds one quota per 7 USD traded."""
        if self.remaining is not None:
            self.remaining += notional_usd / USD_PER_QUOTA


class RequestPacer:
    """The connector's requests against its tier: REST by endpoint weight, sendTx /
    sendTxBatch in the same budget (Standard) or their own (Premium)."""

    def __init__(
        self,
        tier: Tier = STANDARD,
        *,
        window_s: float = WINDOW_S,
        margin_s: float | None = None,
        free_tx_s: float = FREE_TX_EVERY_S,
        time_fn: Callable[[], float] = time.monotonic,
        sleep_fn: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.tier = tier

        def budget(capacity: int) -> RollingBudget:
            return RollingBudget(
                capacity,
                window_s,
                reserve=capacity * CANCEL_RESERVE,
                shutdown_reserve=capacity * SHUTDOWN_RESERVE,
                margin_s=margin_s,
                time_fn=time_fn,
                sleep_fn=sleep_fn,
            )

        self.rest = budget(tier.rest_budget)
        self.tx = budget(tier.tx_per_window) if tier.tx_per_window is not None else None
        self.quota = (
            VolumeQuota(free_every_s=free_tx_s, time_fn=time_fn) if tier.volume_quota else None
        )
        self.rate_limited = 0
        self.window_s = window_s
        self._time = time_fn
        self.winding_down = False
        """A shutdown began (``wind_down``): every request ranks as ``SHUTDOWN``."""
        self._patient_until = -math.inf
        self.waited_out = 0
        """429s waited out while connecting."""

    def wind_down(self) -> None:
        """The owner is shutting down (it sends no new orders): from now on its requests --
        cancels, the listings that find and verify them, the last reads, the switch's abort
        -- may use the shutdown's reserve; a 429 is no longer waited out."""
        self.winding_down = True
        self._patient_until = -math.inf

    def connecting(self, seconds: float | None = None) -> None:
        """A (re)connect: not winding down, and for ``seconds`` (default: one window and
        its margin) a 429 is waited out (``wait_out``): an earlier run of ours may have
        spent the venue's minute, which this budget cannot know."""
        self.winding_down = False
        span = self.rest.span_s if seconds is None else seconds
        self._patient_until = self._time() + span

    async def wait_out(self, what: str, err: BaseException, log: logging.Logger) -> bool:
        """A 429 (``err``, already backed off) on ``what``: while connecting, wait until
        the back-off passed and say True (ask again); False when not connecting or the
        wait would pass the patience (the caller raises)."""
        left = self._patient_until - self._time()
        wait = self.rest.backoff_left()
        if left <= 0 or wait > left:
            return False
        if self.waited_out == 0:
            log.warning(
                "%s: answered 429: the venue's request budget is spent (by an earlier run "
                "in the last minute?); waiting for it (%.0f s, and up to %.0f s in all)",
                what,
                wait,
                left,
            )
        self.waited_out += 1
        await self.rest._sleep(max(wait, 0.05))
        return True

    def _bucket(self, endpoint: str) -> tuple[RollingBudget, float]:
        if endpoint in TX_ENDPOINTS and self.tx is not None:
            return self.tx, 1.0
        return self.rest, float(self.tier.cost(endpoint))

    def must_wait(self, endpoint: str, priority: int = Priority.QUERY) -> bool:
        """Whether a request of ``priority`` for ``endpoint`` would wait now."""
        budget, cost = self._bucket(endpoint)
        return budget.must_wait(cost, self._priority(priority))

    def _priority(self, priority: int) -> int:
        # a shutdown sends no new orders (``wind_down`` dropped them): what it still asks
        # (cancels, the listings that verify them, the last positions) is its own
        return Priority.SHUTDOWN if self.winding_down else priority

    async def request(self, endpoint: str, priority: int = Priority.QUERY) -> None:
        budget, cost = self._bucket(endpoint)
        await budget.acquire(cost, self._priority(priority))

    def refund(self, endpoint: str) -> None:
        budget, cost = self._bucket(endpoint)
        budget.refund(cost)

    def sent(self, endpoint: str) -> None:
        """The request granted last for ``endpoint`` leaves now."""
        budget, cost = self._bucket(endpoint)
        budget.sent(cost)

    def back_off(self, seconds: float | None) -> None:
        """The venue said 429: every request waits."""
        self.rate_limited += 1
        delay = DEFAULT_BACKOFF_S if seconds is None else seconds
        self.rest.back_off(delay)
        if self.tx is not None:
            self.tx.back_off(delay)


__all__ = [
    "PREMIUM",
    "STANDARD",
    "TIERS",
    "WEIGHTS",
    "Priority",
    "RequestPacer",
    "RollingBudget",
    "Tier",
    "VolumeQuota",
    "endpoint_of",
]
