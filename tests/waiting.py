"""Bounded polling for tests that run on wall time (emulators, real sockets)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def until(cond: Callable[[], bool], timeout: float = 8.0, what: str = "") -> None:
    """Wait until ``cond()`` holds; fail naming ``what`` after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError(f"not met in {timeout} s: {what or cond}")
        await asyncio.sleep(0.02)
