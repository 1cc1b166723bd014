"""Fault state shared by the harness and a venue dialect.

Only the emulator's own event loop reads or writes a ``FaultState``; the test
thread changes it through ``EmulatorHarness.faults`` (a ``FaultInjector``),
which hops onto that loop and waits until the change is in effect.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class HttpFault:
    """Answer the next ``remaining`` HTTP requests with ``status``."""

    status: int
    remaining: int
    retry_after_s: float | None = None


@dataclass(slots=True)
class LostAnswer:
    """The venue does what a request asked, then its answer is lost: the connection
    drops (``mode="drop"``) or an error ``status`` comes back (``mode="status"``)."""

    mode: str = "drop"
    status: int = 504
    remaining: int = 1


@dataclass(slots=True)
class FaultState:
    http: list[HttpFault] = field(default_factory=list)
    delay_ms: int = 0
    skip_book_ids: dict[str | None, int] = field(default_factory=dict)
    """Wire symbol (or None: whichever symbol pushes next) -> how many book
    update ids to skip before that symbol's next depth push."""
    lost_answers: dict[str, LostAnswer] = field(default_factory=dict)
    """Route name (``"place"``, ``"sendTx"``, ...) -> answers to lose after the work."""
    close_on_fill: int = 0
    """Close every WebSocket right before the next ``close_on_fill`` account fills
    are pushed (the fills are then only in the venue's history)."""

    def take_lost_answer(self, route: str) -> LostAnswer | None:
        lost = self.lost_answers.get(route)
        if lost is None or lost.remaining <= 0:
            return None
        lost.remaining -= 1
        if lost.remaining == 0:
            del self.lost_answers[route]
        return lost

    def take_close_on_fill(self) -> bool:
        if self.close_on_fill <= 0:
            return False
        self.close_on_fill -= 1
        return True

    def take_http_fault(self) -> HttpFault | None:
        """The fault that answers this request, if any (consumes one)."""
        while self.http:
            fault = self.http[0]
            if fault.remaining <= 0:
                self.http.pop(0)
                continue
            fault.remaining -= 1
            if fault.remaining == 0:
                self.http.pop(0)
            return fault
        return None

    def take_book_skip(self, symbol: str) -> int:
        """Ids to skip before the next push of ``symbol`` (consumed)."""
        skip = self.skip_book_ids.pop(symbol, 0)
        skip += self.skip_book_ids.pop(None, 0)
        return skip
