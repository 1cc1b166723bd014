"""Reconnect pacing shared by every venue's WebSocket client."""

from __future__ import annotations

import random


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Capped exponential backoff with "equal jitter": in [d/2, d], d = min(cap, base*2^n)."""
    d = min(cap, base * (2 ** min(attempt, 30)))
    return d / 2 + rng.random() * d / 2
