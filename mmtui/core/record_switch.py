"""The console's record toggle: the books and trades of the markets in use, recorded
from the engine's own events (``Recorder``) while it is on.

The engine hands every connector event to ``on_event`` (nothing happens while off)
and every market it subscribes to ``follow``; ``start`` records the markets
subscribed so far and any subscribed later, ``stop`` closes the files. Stamped with
the session clock (sim time in sim mode). A write that fails turns it off (the
summary says why).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from connectors.base import Event
from mmtui.core.markets import Markets
from mmtui.core.recorder import Recorder, RecordSummary

log = logging.getLogger("mmtui.recording")


class RecordSwitch:
    def __init__(
        self,
        markets: Markets,
        subscribed: Callable[[], Iterable[tuple[str, str]]],
        now_us: Callable[[], int],
    ) -> None:
        self._markets = markets
        self._subscribed = subscribed
        self._now_us = now_us
        self._recorder: Recorder | None = None
        self._exchanges: Mapping[str, str] = {}
        self.last: RecordSummary | None = None
        """What the last recording wrote (after it stopped)."""

    @property
    def active(self) -> bool:
        return self._recorder is not None

    @property
    def out_dir(self) -> Path | None:
        return self._recorder.out_dir if self._recorder is not None else None

    def start(self, out_dir: Path, exchanges: Mapping[str, str] | None = None) -> None:
        """Record every subscribed market into ``out_dir`` (``exchanges``: venue name ->
        the exchange name its files carry, the venue's type; default the venue name).
        Raises ``OSError`` when the directory cannot be made; a market whose files
        cannot be written is left out (logged)."""
        if self._recorder is not None:
            return
        self._exchanges = dict(exchanges or {})
        self._recorder = Recorder(out_dir, self._markets.book, self._now_us)
        self.follow(self._subscribed())
        log.info("recording %d market(s) to %s", len(self._recorder.markets), out_dir)

    def follow(self, markets: Iterable[tuple[str, str]]) -> None:
        """Markets newly in use: recorded too while on."""
        recorder = self._recorder
        if recorder is None:
            return
        for venue, symbol in markets:
            inst = self._markets.instruments.get((venue, symbol))
            if inst is None:
                continue
            try:
                recorder.add_market(venue, self._exchanges.get(venue, venue), inst)
            except (OSError, ValueError) as exc:  # that market only: the others go on
                log.error("not recording %s %s: %s", venue, symbol, exc)

    def on_event(self, event: Event) -> None:
        recorder = self._recorder
        if recorder is None:
            return
        recorder.on_event(event)
        if recorder.closed:  # a write failed: the recorder stopped itself
            self.stop()

    def stop(self) -> RecordSummary | None:
        """Close the files; what was written (None when it was off)."""
        recorder, self._recorder = self._recorder, None
        if recorder is None:
            return None
        self.last = recorder.close()
        log.info("%s", self.last.line())
        return self.last


__all__ = ["RecordSwitch"]
