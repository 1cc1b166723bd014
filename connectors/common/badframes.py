"""Frames a connector could not use: what counts as unreadable, and the rate-limited
account of them every venue's socket keeps.

A venue can send anything: a frame that is not JSON, a field of the wrong type, a
number out of bounds, a list where an object belongs. Reading such a frame raises one
of ``UNREADABLE``; the handler catches exactly those, counts the frame as bad with its
reason and goes on with the next one. Anything else a handler raises is a bug of ours,
and the socket loop's last line of defence (``connectors.common.wsclient``) counts and
logs it the same way, with its traceback: no frame ever ends a feed.

A flood of bad frames must not become a flood of log lines: ``BadFrameLog`` logs the
first ``burst`` bad frames of every ``window_s`` with their reasons, then one line per
window saying how many more there were (by reason) — and counts every one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from connectors.book import BookError
from connectors.common.errors import VenueError

UNREADABLE: tuple[type[Exception], ...] = (
    KeyError,
    IndexError,
    TypeError,
    ValueError,  # BadNumber, FrameError, Unreadable, UnicodeError, JSON errors
    ArithmeticError,  # decimal.InvalidOperation, OverflowError, ZeroDivisionError
    AttributeError,  # a list or a number where an object belongs
    BookError,
    VenueError,
)
"""What reading a frame of the wrong shape raises: the frame is bad, not our code."""

REASON_CHARS = 200
"""A reason is cut to this many characters (it may quote the frame)."""
MAX_KINDS = 64
"""Distinct reason kinds counted one by one; the rest count under ``"other"``."""


def reason_of(exc: BaseException) -> str:
    """``TypeName: message`` of an exception, cut to ``REASON_CHARS``."""
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 3] + "..."


def kind_of(reason: str) -> str:
    """The part of a reason that names its kind (before the first ``:``), short."""
    return reason.split(":", 1)[0].strip()[:60] or "unknown"


class BadFrameLog:
    """Counts and logs, at a rate limit, one kind of thing a venue keeps sending: bad
    frames (``what`` = "bad frame skipped"), error frames ("server refused"), book
    resyncs."""

    def __init__(
        self,
        name: str,
        logger: logging.Logger,
        *,
        what: str = "bad frame skipped",
        burst: int = 5,
        window_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.log = logger
        self.what = what
        self.burst = burst
        self.window_s = window_s
        self._clock = clock
        self.count = 0
        """Every bad frame, logged or not."""
        self.kinds: dict[str, int] = {}
        """Bad frames by the kind of their reason."""
        self.last_reason = ""
        self.lines = 0
        """Log lines written (a flood of bad frames writes a few per window)."""
        self._window_start = float("-inf")
        self._logged = 0
        self._held: dict[str, int] = {}
        """Kinds of the bad frames of this window that were counted but not logged."""

    def add(
        self,
        reason: str,
        *,
        level: int = logging.WARNING,
        exc: BaseException | None = None,
    ) -> bool:
        """One bad frame: counted; logged (with ``exc``'s traceback when given) unless
        this window already logged ``burst`` of them. True when it was logged."""
        reason = reason if len(reason) <= REASON_CHARS else reason[: REASON_CHARS - 3] + "..."
        self.count += 1
        self.last_reason = reason
        kind = kind_of(reason)
        if kind not in self.kinds and len(self.kinds) >= MAX_KINDS:
            kind = "other"
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        now = self._clock()
        if now - self._window_start >= self.window_s:
            self.flush()
            self._window_start = now
            self._logged = 0
        if self._logged < self.burst:
            self._logged += 1
            self.lines += 1
            self.log.log(level, "%s: %s: %s", self.name, self.what, reason, exc_info=exc)
            return True
        self._held[kind] = self._held.get(kind, 0) + 1
        return False

    def flush(self) -> None:
        """Log how many bad frames were counted but not logged since the last line."""
        if not self._held:
            return
        held = sum(self._held.values())
        top = sorted(self._held.items(), key=lambda kv: -kv[1])[:5]
        kinds = ", ".join(f"{k} x{n}" for k, n in top)
        self.lines += 1
        self.log.warning(
            "%s: %d more (%s) not logged one by one (%s); %d in all",
            self.name,
            held,
            self.what,
            kinds,
            self.count,
        )
        self._held.clear()


__all__ = ["MAX_KINDS", "REASON_CHARS", "UNREADABLE", "BadFrameLog", "kind_of", "reason_of"]
