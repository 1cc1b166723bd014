"""Measurements kept in memory allocated up front.

A benchmark that reports a process's RSS must not grow that RSS itself: a list
of floats grows ~32 bytes a sample (a float object and its slot), so a loop-lag
probe at 100 samples a second adds ~11 MB an hour to what it measures — most of
the "growth" the first 10-minute console runs reported. ``Samples`` writes into
an array of doubles allocated (and touched) when it is made; samples beyond its
capacity are counted, not kept.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator


class Samples:
    def __init__(self, capacity: int = 200_000) -> None:
        self._data = array("d", bytes(8 * capacity))  # zeroed: its pages are touched now
        self._n = 0
        self.dropped = 0

    @classmethod
    def for_rate(cls, per_s: float, seconds: float) -> Samples:
        """Room for ``per_s`` samples a second over ``seconds`` (with margin)."""
        return cls(int(per_s * seconds * 1.5) + 1_000)

    def append(self, value: float) -> None:
        if self._n < len(self._data):
            self._data[self._n] = value
            self._n += 1
        else:
            self.dropped += 1

    def clear(self) -> None:
        self._n = 0
        self.dropped = 0

    def __len__(self) -> int:
        return self._n

    def __iter__(self) -> Iterator[float]:
        return iter(self._data[: self._n])

    def tolist(self) -> list[float]:
        return self._data[: self._n].tolist()
