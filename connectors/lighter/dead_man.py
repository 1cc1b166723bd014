"""Lighter's dead-man's switch: the account's scheduled cancel-all, kept ahead of us.

The venue keeps **one** queued scheduled cancel-all per account and refuses another with
21712 "account has a queued cancel all orders request" (*docs/errors*). So:

* **Renewal** aborts the queued schedule and schedules the new deadline, both issued at
  once: one ``sendTxBatch``, abort first (the ``TxQueue`` keeps cancel-alls in order). The
  venue executes one key's transactions in nonce order, so the two run back to back at the
  sequencer: there is no moment in which our process can die between them -- both were
  accepted together, or neither. (df-lighter-core's ``CancelAllOrders``: "the venue keeps
  one queued at a time (code 21712 answers another while one is), so a renewal aborts the
  queued one first".)
* A venue that checks 21712 against *executed* transactions only refuses the schedule
  while the abort still waits at the sequencer. Then the switch waits until the abort's
  nonce executed (``nextNonce``, at most ``ABORT_WAIT_S``) and schedules again. In that gap
  (about one round trip plus the sequencer's delay, well under a second) the account has
  no switch: a crash right then leaves the orders resting until the next start takes the
  switch up again. It is bounded, happens at most once per renewal, and a failed schedule
  is retried after ``RETRY_S`` rather than a third of the period.
* **At connect** a schedule already queued (a crashed run's: its deadline has not come yet)
  answers our first schedule with 21712: that is not a failure, the switch is taken over
  (abort + schedule, as a renewal) and mmtui connects and trades.
* While the private stream is down the switch is not pushed (blind, we let the deadline
  run: the venue cancels if we stay blind). A clean close aborts it (with a few retries:
  a shutdown must not leave a cancel-all armed behind it); a renewal in flight is let
  finish first, never cut in the middle.

Cancel-alls spend no volume quota (*docs/volume-quota*: "Cancels do not consume quota"),
and each renewal is one request against the tier's budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from connectors.base import ConnectorStats
from connectors.common.errors import ErrorCode, VenueError
from connectors.lighter import codes
from connectors.lighter.tx import LighterTx

log = logging.getLogger("connectors.lighter")

DEAD_MAN_MARGIN_MS = 2000
ABORT_WAIT_S = 3.0
RETRY_S = 1.0
STOP_ATTEMPTS = 3


def _queued(exc: BaseException) -> bool:
    """The venue's 21712: a scheduled cancel-all is queued already."""
    return isinstance(exc, VenueError) and exc.venue_code == str(codes.QUEUED_CANCEL_ALL)


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
        self._stop = asyncio.Event()
        self._uncertain = False
        """A schedule whose outcome is unknown may be armed: a clean close aborts anyway."""

    @property
    def armed(self) -> bool:
        """A scheduled cancel-all may still stand: one we scheduled and did not abort,
        or one whose outcome we never learnt."""
        return self.deadline_ms is not None or self._uncertain

    def _count(self, what: str) -> None:
        self.stats.extra[what] = self.stats.extra.get(what, 0) + 1

    def _deadline(self) -> int:
        # a little margin: the venue measures "at least 5 min ahead" when it applies the tx
        return int(time.time() * 1000) + int(self.switch_s * 1000) + DEAD_MAN_MARGIN_MS

    async def start(self) -> None:
        """Arm the switch (taking over one already queued); a ``VenueError`` when the
        venue refuses. Then keep it pushed."""
        self._stop = asyncio.Event()
        deadline = self._deadline()
        try:
            await self.tx.schedule_cancel_all(deadline)
            self.deadline_ms = self.tx.scheduled_at_ms or deadline
            self._count("dead_man_pushes")
        except VenueError as exc:
            if exc.outcome_unknown:
                self._uncertain = True
            if not _queued(exc):
                raise
            self._count("dead_man_takeovers")
            log.warning(
                "%s: a scheduled cancel-all is already queued on the account (an earlier "
                "run's?): taking it over",
                self.venue,
            )
            await self._renew()
        self._task = asyncio.get_running_loop().create_task(
            self._loop(), name=f"{self.venue} dead-man switch"
        )

    async def stop(self) -> None:
        """Stop pushing and abort the scheduled cancel-all (our orders are cancelled by a
        clean close); nothing when the switch was never started."""
        if self._task is None:
            return
        self._stop.set()
        # a renewal in flight may be cut: the tx queue sends what it took (nonces stay
        # exact) and drops what it did not; the abort below goes after either way
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        if (self.deadline_ms is None and not self._uncertain) or self.tx.client is None:
            return
        last: VenueError | None = None
        for attempt in range(STOP_ATTEMPTS):
            try:
                await self.tx.abort_scheduled_cancel_all()
                self.deadline_ms = None
                self._uncertain = False
                return
            except VenueError as exc:
                last = exc
                if not exc.retryable or exc.outcome_unknown:
                    break  # refused for good, or sent and maybe executed
                await asyncio.sleep(0.2 * (attempt + 1))
        log.warning(
            "%s: could not abort the scheduled cancel-all (%s); the venue will cancel "
            "this account's orders at its deadline",
            self.venue,
            last,
        )

    async def _renew(self) -> None:
        """Abort the queued schedule and schedule a new deadline (one batch); a
        ``VenueError`` when the switch could not be re-armed."""
        deadline = self._deadline()
        aborted, scheduled = await self.tx.reschedule_cancel_all(deadline)
        if not isinstance(scheduled, BaseException):
            self.deadline_ms = self.tx.scheduled_at_ms or deadline
            self._uncertain = False
            self._count("dead_man_pushes")
            return
        if isinstance(aborted, BaseException):
            if isinstance(aborted, VenueError):
                raise aborted
            raise VenueError(f"{self.venue}: abort failed: {aborted!r}", code=ErrorCode.VENUE)
        if not _queued(scheduled):
            self.deadline_ms = None  # aborted, not re-armed: say so until it is
            if isinstance(scheduled, VenueError):
                self._uncertain = self._uncertain or scheduled.outcome_unknown
                raise scheduled
            raise VenueError(f"{self.venue}: schedule failed: {scheduled!r}", code=ErrorCode.VENUE)
        # the venue still counts the abort as not executed: wait until it is
        self._count("dead_man_refused")
        self.deadline_ms = None
        await self._abort_executed(aborted.nonce)
        deadline = self._deadline()
        await self.tx.schedule_cancel_all(deadline)
        self.deadline_ms = self.tx.scheduled_at_ms or deadline
        self._count("dead_man_pushes")

    async def _abort_executed(self, nonce: int) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + ABORT_WAIT_S
        while not await self.tx.executed(nonce):
            if loop.time() >= end:
                raise VenueError(
                    f"{self.venue}: the abort of the scheduled cancel-all did not execute in "
                    f"{ABORT_WAIT_S:g} s",
                    code=ErrorCode.TIMEOUT,
                    retryable=True,
                )
            await asyncio.sleep(0.1)

    async def _loop(self) -> None:
        period = self.switch_s / 3
        delay = period
        while True:
            try:
                await asyncio.wait_for(self._stop.wait(), delay)
                return
            except TimeoutError:
                pass
            delay = period
            if not self.stream_up():
                # blind: let the deadline run; the venue cancels if we stay blind
                log.warning("%s: dead-man's switch not pushed: stream down", self.venue)
                continue
            try:
                await self._renew()
            except VenueError as exc:
                log.error("%s: dead-man's switch push failed: %s", self.venue, exc)
                delay = min(period, RETRY_S)


__all__ = ["DEAD_MAN_MARGIN_MS", "DeadManSwitch"]
