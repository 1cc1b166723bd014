"""A venue's start-up reads (instruments, time, account, the key check), retried on
transient errors.

One 503 on the markets call must not abort a start. ``startup_read`` calls again, after
a capped exponential backoff with jitter (or the venue's ``Retry-After``), when the
error is transient — ``VenueError.retryable``: no connection, a timeout, a 5xx, a 429 —
at most ``attempts`` times in all and never past ``budget_s``. A refusal (a wrong key,
an unknown endpoint, an answer that cannot be read) is raised at once: asking again
would get the same answer.

Only reads go through here (and a login, which changes nothing at the venue): never a
request whose repetition could do something twice.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from connectors.common.backoff import backoff_delay
from connectors.common.errors import RateLimited, VenueError

log = logging.getLogger("connectors.common.retry")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class StartupRetry:
    attempts: int = 4
    """Calls in all (the first and three retries)."""
    base_s: float = 0.5
    cap_s: float = 5.0
    budget_s: float = 30.0
    """No retry starts later than this after the first call."""


DEFAULT_RETRY = StartupRetry()


async def startup_read(
    venue: str,
    what: str,
    call: Callable[[], Awaitable[T]],
    *,
    retry: StartupRetry | None = None,
    rng: random.Random | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """``await call()``, again after a transient ``VenueError`` (see the module)."""
    retry = retry or DEFAULT_RETRY
    rng = rng or random.Random()
    started = clock()
    attempt = 0
    while True:
        try:
            return await call()
        except VenueError as exc:
            attempt += 1
            if not exc.retryable or attempt >= retry.attempts:
                raise
            delay = backoff_delay(attempt - 1, retry.base_s, retry.cap_s, rng)
            if isinstance(exc, RateLimited) and exc.retry_after is not None:
                delay = max(delay, exc.retry_after)
            if clock() - started + delay > retry.budget_s:
                raise
            log.warning(
                "%s: %s failed (%s); try %d of %d in %.1f s",
                venue,
                what,
                exc,
                attempt + 1,
                retry.attempts,
                delay,
            )
            await sleep(delay)


__all__ = ["DEFAULT_RETRY", "StartupRetry", "startup_read"]
