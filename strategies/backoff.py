"""The one reject back-off every strategy uses.

After ``n`` refusals in a row of one kind of order (a quote side, an entry, a
take-profit, a hedge...), placing that kind waits ``base_ms * 2 ** (n - 1)``,
at most ``cap_ms``: the first retry comes after ``base_ms`` (one tick, as a
strategy would retry anyway), then 2, 4, 8... times that. An order of that kind
the venue accepted (or that filled) ends the run of refusals.

A refusal counts once per order, whether ``place`` returned it refused (risk)
or the venue refused it later (``on_order``): strategies call ``rejected`` from
both places and the client id dedupes.
"""

from __future__ import annotations

from collections.abc import Hashable

MAX_DOUBLINGS = 16  # 2 ** 16 times the base: past any sensible cap
_SEEN_LIMIT = 1000
_KEY_LIMIT = 1000  # keys per strategy (one per lot, say): past it, finished waits go


def backoff_ms(failures: int, base_ms: int, cap_ms: int) -> int:
    """The wait after ``failures`` refusals in a row: 0, then base, 2 base, 4 base... capped."""
    if failures <= 0:
        return 0
    return min(cap_ms, base_ms * 2 ** min(failures - 1, MAX_DOUBLINGS))


class RejectBackoff:
    """Refusals in a row and the time placing may resume, per key."""

    def __init__(self, base_ms: int, cap_ms: int) -> None:
        if base_ms < 0 or cap_ms < base_ms:
            raise ValueError(f"back-off needs 0 <= base_ms <= cap_ms, got {base_ms}, {cap_ms}")
        self.base_ms = base_ms
        self.cap_ms = cap_ms
        self.failures: dict[Hashable, int] = {}
        self.until_ms: dict[Hashable, int] = {}
        self.total = 0
        """Refusals counted (each order once)."""
        self._seen: set[str] = set()

    def rejected(self, key: Hashable, now_ms: int, client_id: str = "") -> int | None:
        """Count one refusal of ``key`` (once per ``client_id``); returns the wait in ms,
        None when this order's refusal was counted already."""
        if client_id:
            if client_id in self._seen:
                return None
            if len(self._seen) >= _SEEN_LIMIT:
                self._seen.clear()
            self._seen.add(client_id)
        self.total += 1
        if len(self.until_ms) >= _KEY_LIMIT:
            for old in [k for k, until in self.until_ms.items() if until <= now_ms]:
                self.forget(old)
        n = self.failures[key] = self.failures.get(key, 0) + 1
        wait = backoff_ms(n, self.base_ms, self.cap_ms)
        self.until_ms[key] = now_ms + wait
        return wait

    def accepted(self, key: Hashable) -> None:
        """The venue took an order of ``key``: the run of refusals is over."""
        self.failures.pop(key, None)

    def ready(self, key: Hashable, now_ms: int) -> bool:
        """May an order of ``key`` be placed now?"""
        return now_ms >= self.until_ms.get(key, 0)

    def waiting_ms(self, now_ms: int) -> int:
        """The longest wait still running over every key (0: none)."""
        return max(0, max(self.until_ms.values(), default=now_ms) - now_ms)

    def streak(self, key: Hashable) -> int:
        return self.failures.get(key, 0)

    def forget(self, key: Hashable) -> None:
        """Drop a key (a lot that closed): no wait, no streak."""
        self.failures.pop(key, None)
        self.until_ms.pop(key, None)

    def reset(self) -> None:
        """Everything may be placed again at once (a resume)."""
        self.failures.clear()
        self.until_ms.clear()
