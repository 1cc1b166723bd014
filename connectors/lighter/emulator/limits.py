"""The account tiers' request limits and the Premium volume quota, as Lighter publishes
them (off unless the emulator is started with ``tier=``).

*docs/rate-limits* (apidocs.lighter.xyz/docs/rate-limits):

* Standard: 60 requests per rolling minute, unweighted, ``sendTx`` and ``sendTxBatch``
  included (a batch is one request); "whenever {premium_weighted_requests} /
  {endpoint_weight} < {standard_requests}, the former limit is going to be applied": a
  ``trades`` read (weight 600) may be sent 40 times a minute, so it counts 60/40 = 1.5.
* Premium: 24,000 weighted requests per rolling minute for REST; ``sendTx`` and
  ``sendTxBatch`` in their own bucket, 4,000 a minute with no LIT staked
  (*docs/account-types*).
* Both per IP address and per L1 address: on loopback every client shares 127.0.0.1, so the
  emulator keeps one window per client address.

*docs/volume-quota* (Premium only): CreateOrder and ModifyOrder spend one quota each, a
batch of n spends n, cancels none; one more per 7 USD the account trades; a free ``sendTx``
every 15 s spends none; new accounts start with 1,000 (``volume_quota=``). What the venue
answers when the quota is out is not published (**guess**: HTTP 429, 23000 "Too Many
Requests!", like any rate limit).

Over a limit the request is refused with HTTP 429 ``{"code": 23000, "message": "Too Many
Requests!"}`` (*docs/errors*: 23000) and ``Retry-After`` (**guess**: the venue's header is
not documented).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from decimal import Decimal

from connectors.lighter.emulator import wire as w
from connectors.lighter.emulator.state import Account, LighterEmulatorStats

WINDOW_S = 60.0
STANDARD_REQUESTS = 60
PREMIUM_WEIGHT = 24_000
PREMIUM_TX = 4_000
FREE_TX_S = 15.0
USD_PER_QUOTA = Decimal(7)
ENDPOINT_WEIGHTS = {
    "sendTx": 6,
    "sendTxBatch": 6,
    "nextNonce": 6,
    "accountInactiveOrders": 100,
    "apikeys": 150,
    "trades": 600,
    "recentTrades": 600,
}
OTHER_WEIGHT = 300
TX_ROUTES = frozenset({"sendTx", "sendTxBatch"})
TIERS = ("standard", "premium")


class Window:
    """Cost granted per rolling window; ``take`` refuses what does not fit."""

    def __init__(self, capacity: float, window_s: float, clock: Callable[[], float]) -> None:
        self.capacity = capacity
        self.window_s = window_s
        self._clock = clock
        self._log: deque[tuple[float, float]] = deque()
        self._used = 0.0

    def take(self, cost: float) -> float | None:
        """None when granted, else the seconds until it would fit."""
        now = self._clock()
        while self._log and self._log[0][0] <= now - self.window_s:
            self._used -= self._log.popleft()[1]
        if self._used + cost <= self.capacity + 1e-9:
            self._log.append((now, cost))
            self._used += cost
            return None
        excess, freed = self._used + cost - self.capacity, 0.0
        for at, c in self._log:
            freed += c
            if freed >= excess - 1e-9:
                return max(0.0, at + self.window_s - now)
        return self.window_s


class TierLimits:
    def __init__(
        self,
        tier: str,
        stats: LighterEmulatorStats,
        *,
        window_s: float = WINDOW_S,
        volume_quota: int = 1_000,
        free_tx_s: float = FREE_TX_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if tier not in TIERS:
            raise ValueError(f"lighter emulator: tier must be one of {TIERS}, not {tier!r}")
        self.tier = tier
        self.stats = stats
        self.window_s = window_s
        self.start_quota = volume_quota
        self.free_tx_s = free_tx_s
        self._clock = clock
        self._rest: dict[str, Window] = {}
        self._tx: dict[str, Window] = {}

    def _window(self, table: dict[str, Window], who: str, capacity: float) -> Window:
        found = table.get(who)
        if found is None:
            found = table[who] = Window(capacity, self.window_s, self._clock)
        return found

    def admit(self, route: str, who: str) -> None:
        """Count one request of ``who`` (a client address) to ``route``, or refuse it."""
        weight = ENDPOINT_WEIGHTS.get(route, OTHER_WEIGHT)
        if self.tier == "standard":
            # 60 a minute, and no more of an endpoint than 24,000 / weight
            cost = max(1.0, weight * STANDARD_REQUESTS / PREMIUM_WEIGHT)
            wait = self._window(self._rest, who, STANDARD_REQUESTS).take(cost)
        elif route in TX_ROUTES:
            wait = self._window(self._tx, who, PREMIUM_TX).take(1)
        else:
            wait = self._window(self._rest, who, PREMIUM_WEIGHT).take(weight)
        if wait is not None:
            self.stats.rate_limited += 1
            raise TooMany(wait)

    # -- the volume quota -----------------------------------------------------------------

    def quota(self, acct: Account) -> int:
        return int(self._quota(acct))

    def _quota(self, acct: Account) -> Decimal:
        if acct.quota is None:
            acct.quota = Decimal(self.start_quota)
        return acct.quota

    def spend(self, acct: Account, n: int) -> bool:
        """``n`` quota-spending txs of one request (Premium): refused (``TooMany``) when
        neither the quota nor the free tx covers them. True when the free tx was used."""
        if self.tier != "premium" or n <= 0:
            return False
        have = self._quota(acct)
        if have >= n:
            acct.quota = have - n
            return False
        now = self._clock()
        if n - have <= 1 and now - acct.last_free_tx >= self.free_tx_s:
            acct.last_free_tx = now
            acct.quota = Decimal(0)
            return True
        self.stats.quota_refused += 1
        raise TooMany(max(0.0, acct.last_free_tx + self.free_tx_s - now))

    def traded(self, acct: Account, notional: Decimal) -> None:
        if self.tier == "premium":
            acct.quota = self._quota(acct) + notional / USD_PER_QUOTA


class TooMany(w.LighterError):
    """429 Too Many Requests (code 23000), with the seconds until a retry may pass."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(429, w.CODE_TOO_MANY_REQUESTS, "Too Many Requests!")
        self.retry_after_s = max(1, math.ceil(retry_after_s))


__all__ = ["TIERS", "TierLimits", "TooMany", "Window"]
