"""``startup_read``: a venue's start-up read is asked again after a transient error
(no connection, timeout, 5xx, 429), within a bounded number of attempts and time; a
refusal is raised at once."""

from __future__ import annotations

import random

import pytest

from connectors.common.errors import ErrorCode, RateLimited, VenueError
from connectors.common.retry import StartupRetry, startup_read


class Script:
    """A read that fails with the scripted errors, then answers."""

    def __init__(self, *errors: VenueError) -> None:
        self.errors = list(errors)
        self.calls = 0
        self.slept: list[float] = []

    async def call(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "markets"

    async def sleep(self, s: float) -> None:
        self.slept.append(s)


def _503() -> VenueError:
    return VenueError("v: HTTP 503", code=ErrorCode.SERVER_ERROR, retryable=True)


async def test_a_transient_error_is_retried_after_a_backoff() -> None:
    s = Script(_503(), RateLimited("v: 429", retry_after=2.0))
    got = await startup_read("v", "the markets", s.call, sleep=s.sleep, rng=random.Random(1))
    assert got == "markets" and s.calls == 3
    assert 0 < s.slept[0] <= 0.5 and s.slept[1] >= 2.0  # Retry-After is honoured


async def test_a_refusal_is_not_retried() -> None:
    s = Script(VenueError("v: HTTP 401 unauthorized", code=ErrorCode.AUTH))
    with pytest.raises(VenueError, match="401"):
        await startup_read("v", "the key check", s.call, sleep=s.sleep)
    assert s.calls == 1 and s.slept == []


async def test_retries_are_bounded_in_attempts_and_time() -> None:
    s = Script(*[_503() for _ in range(10)])
    with pytest.raises(VenueError, match="503"):
        await startup_read("v", "the markets", s.call, sleep=s.sleep)
    assert s.calls == StartupRetry().attempts
    s = Script(RateLimited("v: 429", retry_after=60.0))
    with pytest.raises(RateLimited):  # waiting 60 s would pass the 30 s budget
        await startup_read("v", "the markets", s.call, sleep=s.sleep)
    assert s.calls == 1
