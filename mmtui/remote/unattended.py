"""The ``unattended:`` policy of a served core: what it does when no viewer has been
attached for ``after_minutes`` (on the session's clock: sim time in sim mode).

keep_running (default) does nothing; pause pauses every running strategy;
flatten flattens everything (strategies paused, orders cancelled, positions
closed). Acted on once per unattended stretch, logged at WARNING and journaled
as an ``unattended`` event; a viewer attaching starts the count again (it does
not undo what was done).
"""

from __future__ import annotations

import logging

from mmtui.config_serve import UnattendedConfig
from mmtui.core.engine import Engine
from mmtui.core.runner import StrategyState

log = logging.getLogger("mmtui.remote.unattended")


class Unattended:
    def __init__(self, config: UnattendedConfig, engine: Engine) -> None:
        self.config = config
        self.engine = engine
        self.alone_since_ms: int | None = engine.clock.now_ms()
        self.acted = 0
        """How many times the policy acted (tests and the log read it)."""
        self._done_this_stretch = False

    def viewers(self, count: int) -> None:
        if count > 0:
            self.alone_since_ms = None
            self._done_this_stretch = False
        elif self.alone_since_ms is None:
            self.alone_since_ms = self.engine.clock.now_ms()

    def due(self) -> bool:
        if self.config.policy == "keep_running" or self._done_this_stretch:
            return False
        if self.alone_since_ms is None:
            return False
        alone_ms = self.engine.clock.now_ms() - self.alone_since_ms
        return alone_ms >= self.config.after_minutes * 60_000

    async def act(self) -> None:
        """Apply the policy (call when ``due()``)."""
        self._done_this_stretch = True
        self.acted += 1
        policy, minutes = self.config.policy, self.config.after_minutes
        what = f"no viewer for {minutes:g} min: {policy}"
        log.warning("unattended: %s", what)
        self.engine.note_event("unattended", what)
        if policy == "pause":
            for view in self.engine.view.strategies():
                if view.state is StrategyState.RUNNING:
                    self.engine.pause_strategy(view.name)
        elif policy == "flatten":
            report = await self.engine.flatten()
            for line in report.lines:
                (log.info if line.ok else log.error)("unattended flatten: %s", line)
            self.engine.note_event("unattended", f"flatten: {report.headline()}")


__all__ = ["Unattended"]
