"""The garbage collector's policy for a long-running process.

One event loop runs the core and the console; a full (generation 2) collection
stops it for as long as it takes to walk every tracked object: ~70 ms of CPU in
the console with everything a start creates (modules, classes, the Textual DOM,
the sim's world), every 2.5 s (``benchmarks/bench_paint.py --gc off``); ~10-14 ms
after the freeze below (``--gc policy``).

- ``install()`` (the ``mmtui`` command, at start): the collection thresholds
  (``THRESHOLDS``), and ``after_start`` armed.
- ``after_start()`` (once the session started and the console composed): one
  full collection, then ``gc.freeze()``: what is alive then (almost all of it
  lives as long as the process) moves to the permanent generation, which no later
  collection walks. Objects frozen are still freed by reference counting; only a
  reference cycle among them would stay (start-up garbage is collected first).
- ``GcPauses``: how long collections stop the loop (``gc.callbacks``), bounded.

Measured numbers and the command: docs/performance.md.
"""

from __future__ import annotations

import gc
import logging
import time
from collections import deque
from typing import Any

log = logging.getLogger("mmtui.gc_policy")

THRESHOLDS: tuple[int, int, int] | None = None
"""None: Python's (700, 10, 10). Measured in the console (bench_paint.py, CPU time
per pause, after the freeze): a gen-0 threshold of 2,000 or 5,000 makes young
collections 3-12x rarer but each 3-6x longer (gen-1 4.5-6.7 ms p50, up to 11 ms,
against 1.2 ms, 2.5 ms max) and saves no CPU worth it; a gen-2 threshold of 50
let cyclic garbage pile up (a full collection of 86 ms). The freeze is what pays."""

_state = {"installed": False, "frozen": False}


def install(thresholds: tuple[int, int, int] | None = THRESHOLDS) -> None:
    """The policy for this process (the ``mmtui`` command calls it once, at start):
    the thresholds (None: Python's), and ``after_start`` will freeze."""
    if thresholds is not None:
        gc.set_threshold(*thresholds)
    _state["installed"] = True


def after_start(*, force: bool = False) -> int:
    """Collect once, then freeze what is alive: returns the objects frozen. Nothing
    unless ``install`` ran (or ``force``): an app built by a test or an embedding
    program keeps the collector as its process has it. A second call freezes what
    was added since."""
    if not (_state["installed"] or force):
        return 0
    gc.collect()
    gc.freeze()
    count = gc.get_freeze_count()
    if not _state["frozen"]:
        log.info("gc: %d objects frozen after start; thresholds %s", count, gc.get_threshold())
    _state["frozen"] = True
    return count


class GcPauses:
    """Collection pauses by generation, the latest ``keep`` of each (``gc.callbacks``).

    ``start()`` / ``stop()`` add and remove the callback; ``snapshot()`` returns
    {generation: (count, last pauses in ms)}."""

    def __init__(self, keep: int = 512) -> None:
        self.keep = keep
        self.counts = [0, 0, 0]
        self.pauses_ms: list[deque[float]] = [deque(maxlen=keep) for _ in range(3)]
        self._t0 = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
            return
        gen = int(info.get("generation", 2))
        self.counts[gen] += 1
        self.pauses_ms[gen].append((time.perf_counter() - self._t0) * 1000)

    def start(self) -> GcPauses:
        if self not in gc.callbacks:
            gc.callbacks.append(self)
        return self

    def stop(self) -> None:
        if self in gc.callbacks:
            gc.callbacks.remove(self)

    def snapshot(self) -> dict[int, tuple[int, tuple[float, ...]]]:
        return {g: (self.counts[g], tuple(self.pauses_ms[g])) for g in range(3)}


__all__ = ["THRESHOLDS", "GcPauses", "after_start", "install"]
