"""Bounded polling for tests that run on wall time (emulators, real sockets)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def until(
    cond: Callable[[], bool], timeout: float = 8.0, what: str | Callable[[], str] = ""
) -> None:
    """Wait until ``cond()`` holds; fail after ``timeout`` seconds naming ``what``
    (a callable is evaluated at the failure, so it can show the state then)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            detail = what() if callable(what) else what
            raise AssertionError(f"not met in {timeout} s: {detail or cond}")
        await asyncio.sleep(0.02)
