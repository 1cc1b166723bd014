"""What must reach an operator even when nobody watches the log: the engine's
events that are alerts (a halt, a venue disconnect, a position the venue
disagrees with, a flatten that failed), and the bounded event log they come
from, numbered so a reader can ask for what is new since it last looked."""

from __future__ import annotations

from dataclasses import dataclass

EVENT_LIMIT = 500


class EventLog(list[tuple[int, str, str]]):
    """The engine's latest events ``(ts_ms, kind, detail)``, oldest first, at most
    ``limit``; ``total`` counts every event ever recorded (the last one's number)."""

    def __init__(self, limit: int = EVENT_LIMIT) -> None:
        super().__init__()
        self.limit = limit
        self.total = 0

    def record(self, ts_ms: int, kind: str, detail: str) -> None:
        self.append((ts_ms, kind, detail))
        self.total += 1
        del self[: -self.limit]


@dataclass(frozen=True, slots=True)
class Alert:
    seq: int
    """The event's number in the engine's event log (1 = the first event)."""
    ts_ms: int
    kind: str
    """halt | disconnect | position_mismatch | flatten_failed"""
    text: str


def alert_of(kind: str, detail: str) -> tuple[str, str] | None:
    """(alert kind, text) when an engine event is an alert, else None."""
    if kind == "risk" and "-> HALTED" in detail:
        return "halt", f"risk HALTED: {detail.split('-> HALTED', 1)[1].lstrip(': ')}"
    if kind == "kill_switch":
        return "halt", "risk HALTED: kill switch engaged"
    if kind == "strategy_halted":
        return "halt", f"strategy halted: {detail}"
    if kind == "connection":
        venue, _, state = detail.partition(": ")
        if state.startswith(("disconnected", "reconnecting")):
            return "disconnect", f"venue {venue} {state}"
    if kind == "position_mismatch":
        return "position_mismatch", f"position mismatch: {detail}"
    if kind == "position_guard" and detail.startswith("holding: "):
        return "position_mismatch", f"position mismatch, strategies held: {detail[9:]}"
    if kind == "flatten" and ": FAIL on " in detail:
        return "flatten_failed", f"FLATTEN FAILED: {detail}"
    return None


def alerts_since(events: EventLog, after: int) -> tuple[Alert, ...]:
    """The alerts among events numbered above ``after`` that are still in the log."""
    first = events.total - len(events) + 1
    out = []
    for i, (ts_ms, kind, detail) in enumerate(events):
        seq = first + i
        if seq <= after:
            continue
        found = alert_of(kind, detail)
        if found is not None:
            out.append(Alert(seq, ts_ms, found[0], found[1]))
    return tuple(out)
