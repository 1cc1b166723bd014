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
class FaultState:
    http: list[HttpFault] = field(default_factory=list)
    delay_ms: int = 0
    skip_book_ids: dict[str | None, int] = field(default_factory=dict)
    """Wire symbol (or None: whichever symbol pushes next) -> how many book
    update ids to skip before that symbol's next depth push."""

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
