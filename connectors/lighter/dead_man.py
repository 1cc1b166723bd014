"""Lighter's dead-man's switch: a scheduled cancel-all of the account, armed at connect
and pushed forward every third of its period while the private stream is up (blind, it
lets the deadline run: the venue cancels if we stay blind); a clean close aborts it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from connectors.base import ConnectorStats
from connectors.common.errors import VenueError
from connectors.lighter.tx import LighterTx

log = logging.getLogger("connectors.lighter")

DEAD_MAN_MARGIN_MS = 2000


class DeadManSwitch:
    def __init__(
        self,
        venue: str,
        switch_s: float,
        tx: LighterTx,
        stream_up: Callable[[], bool],
        stats: ConnectorStats,
    ) -> None:
        self.venue = venue
        self.switch_s = switch_s
        self.tx = tx
        self.stream_up = stream_up
        self.stats = stats
        self.deadline_ms: int | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Arm the switch (a ``VenueError`` when the venue refuses) and keep it pushed."""
        await self._arm()
        self._task = asyncio.get_running_loop().create_task(
            self._loop(), name=f"{self.venue} dead-man switch"
        )

    async def stop(self) -> None:
        """Stop pushing and abort the scheduled cancel-all (our orders are cancelled by a
        clean close); nothing when the switch was never started."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        if self.deadline_ms is not None and self.tx.client is not None:
            try:
                await self.tx.abort_scheduled_cancel_all()
                self.deadline_ms = None
            except VenueError as exc:
                log.warning(
                    "%s: could not abort the scheduled cancel-all (%s); the venue will "
                    "cancel this account's orders at its deadline",
                    self.venue,
                    exc,
                )

    async def _arm(self) -> None:
        # a little margin: the venue measures "at least 5 min ahead" when it applies the tx
        now_ms = int(time.time() * 1000)
        deadline = now_ms + int(self.switch_s * 1000) + DEAD_MAN_MARGIN_MS
        await self.tx.schedule_cancel_all(deadline)
        self.deadline_ms = deadline
        self.stats.extra["dead_man_pushes"] = self.stats.extra.get("dead_man_pushes", 0) + 1

    async def _loop(self) -> None:
        period = self.switch_s / 3
        while True:
            await asyncio.sleep(period)
            if not self.stream_up():
                # blind: let the deadline run; the venue cancels if we stay blind
                log.warning("%s: dead-man's switch not pushed: stream down", self.venue)
                continue
            try:
                await self._arm()
            except VenueError as exc:
                log.error("%s: dead-man's switch push failed: %s", self.venue, exc)


__all__ = ["DEAD_MAN_MARGIN_MS", "DeadManSwitch"]
