"""What a served core publishes to its viewers: the read model's views in named
sections, sent only when they changed.

One ``Publisher`` per server. ``changes()`` builds the sections (on the core's
loop, at the refresh rate, only while a viewer is attached), compares each with
what was last published (views are frozen dataclasses and tuples: ``==``), and
returns only what changed; every viewer gets the same message. A new viewer
gets ``full()``. Append-only streams (log lines, alerts, PnL samples) are sent
as what is new since the last publish. Slow sections (accounts, health,
parameters, session info, PnL) are rebuilt once a second.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from mmtui.core.alerts import Alert
from mmtui.core.engine import Engine
from mmtui.core.readmodel import StrategyView
from mmtui.logsetup import LogBuffer, LogLine

BOOK_LEVELS = 60
"""Levels per side published for each book (the ladder at 160x48 shows ~20)."""
TAPE_ROWS = 40
LOG_KEPT = 1000
"""Log lines a new viewer gets (the newest)."""
SLOW_EVERY = 10
"""Slow sections every this many publishes (1 s at 10 Hz)."""
TELEMETRY_EVERY = 3
"""Telemetry (values and series: the largest section) every this many publishes."""

Key = str | tuple[str, str, str]


class Publisher:
    def __init__(self, engine: Engine, logs: LogBuffer, *, config_path: str = "") -> None:
        self.engine = engine
        self.view = engine.view
        self.logs = logs
        self.config_path = config_path
        self.state: dict[Key, Any] = {}
        self.stamps: dict[tuple[str, str], object] = {}
        self.log_seen = logs.total
        self.alert_seq = 0
        self.pnl_ts = -1
        self.publishes = 0
        self.recent_logs: deque[LogLine] = deque(maxlen=LOG_KEPT)
        self.alerts: list[Alert] = []

    def markets(self, strategies: tuple[StrategyView, ...]) -> list[tuple[str, str]]:
        """Books to publish: every market a strategy trades or the core subscribed."""
        seen: list[tuple[str, str]] = []
        for s in strategies:
            for m in s.markets:
                if m not in seen:
                    seen.append(m)
        for m in sorted(self.engine.insight.subscribed()):
            if m not in seen:
                seen.append(m)
        return seen

    def _sections(self, slow: bool) -> dict[Key, Any]:
        view = self.view
        strategies = view.strategies()
        markets = self.markets(strategies)
        out: dict[Key, Any] = {
            "header": view.header(),
            "positions": view.positions(),
            "strategy_positions": view.strategy_positions(),
            "orders": view.orders(),
            "strategies": strategies,
            "venue_names": view.venue_names(),
            "has_journal": view.has_journal,
            "markets_used": tuple(markets),
            "events": view.events(),
        }
        if self.publishes % TELEMETRY_EVERY == 1 or "telemetry" not in self.state:
            out["telemetry"] = tuple(
                t for s in strategies if (t := view.telemetry(s.name)) is not None
            )
        if slow or "markets" not in self.state:
            out["markets"] = view.markets()
            out["accounts"] = view.accounts()
            out["health"] = view.health()
            out["session_info"] = view.session_info(self.config_path)
            out["params"] = tuple((name, view.params(name)) for name in view.strategy_names())
            out["latency"] = view.latency()
        for venue, symbol in markets:
            stamp = view.book_stamp(venue, symbol)
            if stamp != self.stamps.get((venue, symbol), _MISSING):
                self.stamps[(venue, symbol)] = stamp
                out[("book", venue, symbol)] = (stamp, view.book(venue, symbol, BOOK_LEVELS))
            out[("ours", venue, symbol)] = view.our_levels(venue, symbol)
            out[("tape", venue, symbol)] = view.tape(venue, symbol, TAPE_ROWS)
        return out

    def _appends(self, slow: bool) -> dict[str, tuple[Any, ...]]:
        out: dict[str, tuple[Any, ...]] = {}
        total = self.logs.total
        if total != self.log_seen:
            fresh = self.logs.tail(min(total - self.log_seen, LOG_KEPT))
            self.log_seen = total
            self.recent_logs.extend(fresh)
            out["log"] = tuple(fresh)
        alerts = self.view.alerts(self.alert_seq)
        if alerts:
            self.alert_seq = alerts[-1].seq
            self.alerts.extend(alerts)
            del self.alerts[:-500]
            out["alerts"] = alerts
        if slow:
            points = [p for p in self.view.pnl_history() if p.ts_ms > self.pnl_ts]
            if points:
                self.pnl_ts = points[-1].ts_ms
                out["pnl"] = tuple(points)
        return out

    def changes(self) -> dict[str, Any] | None:
        """The message for every viewer: what changed since the last call (None: nothing)."""
        slow = self.publishes % SLOW_EVERY == 0
        self.publishes += 1
        changed = {}
        for key, value in self._sections(slow).items():
            if self.state.get(key, _MISSING) != value:
                self.state[key] = value
                changed[key] = value
        appends = self._appends(slow)
        if not changed and not appends:
            return None
        return {"type": "state", "set": changed, "append": appends}

    def full(self) -> dict[str, Any]:
        """Everything published so far, for a viewer that just attached."""
        if not self.state:
            self.changes()
        return {
            "type": "state",
            "set": dict(self.state),
            "append": {
                "log": tuple(self.recent_logs),
                "alerts": tuple(self.alerts),
                # the core's own (thinned) history, up to what the others were sent
                "pnl": tuple(p for p in self.view.pnl_history() if p.ts_ms <= self.pnl_ts),
            },
            "full": True,
        }


_MISSING = object()

__all__ = ["BOOK_LEVELS", "Publisher"]
