"""Cancel-all transactions (a mixin of the dialect): at once, scheduled, aborted; and the
scheduled ones firing.

The venue keeps **one queued scheduled cancel-all** per account and answers another with
21712 "account has a queued cancel all orders request" (*docs/errors*, lighter-go
``AppErrAccountHasAQueuedCancelAllOrdersRequest``). What the API server counts as queued is
not documented (**guess**): by default it sees what the account will hold once the
transactions it accepted have executed -- so an abort accepted just before (or earlier in
the same batch) clears the way for a new schedule, and a schedule accepted but not yet
executed counts. With ``credit_queued_abort=False`` it is stricter: an abort counts only
once the sequencer executed it, so "abort, then schedule" sent back to back is refused
until the abort executed (tests of the connector's fallback use it).

A scheduled cancel-all cannot name a market (lighter-go
``ErrCancelAllMarketIndexCantBeScheduled``); it must be 5 min .. 15 days ahead
(``min_scheduled_cancel_ms`` lowers the floor for tests). An abort with nothing queued is
accepted and does nothing (**guess**).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from connectors.lighter.emulator import wire as w
from connectors.lighter.emulator.state import (
    MAX_SCHEDULE_MS,
    Account,
    LighterEmulatorStats,
    Market,
    Order,
)

log = logging.getLogger("connectors.lighter.emulator")

Apply = Callable[[str], None]
SCHEDULE_KEY = "schedule"
"""``planned`` key: what the earlier transactions of a batch did to the schedule."""


class CancelAlls:
    stats: LighterEmulatorStats
    min_scheduled_cancel_ms: int
    credit_queued_abort: bool
    _accounts: dict[int, Account]
    _by_id: dict[int, Market]

    _cancel: Callable[[Order, str | None], None]

    def _check_cancel_all(
        self,
        acct: Account,
        info: Mapping[str, Any],
        now_ms: int,
        planned: dict[tuple[int, Any], Any],
    ) -> tuple[Apply, Callable[[], None] | None]:
        """(apply at the sequencer, what accepting it changes at the API server)."""
        tif = w.in_range(info, "TimeInForce", 0, 2, w.CODE_INVALID_CANCEL_ALL_TIF)
        market = w.market_filter(info)
        if market is not None and market not in self._by_id:
            raise w.bad(w.CODE_INVALID_MARKET, f"invalid market index {market}")
        at = info["Time"]
        if tif != w.CANCEL_ALL_SCHEDULED and at != 0:
            raise w.bad(w.CODE_INVALID_CANCEL_ALL_TIME, "invalid cancel all time: must be 0")
        key = (acct.index, SCHEDULE_KEY)
        on_accept: Callable[[], None] | None = None
        if tif == w.CANCEL_ALL_SCHEDULED:
            if market is not None:  # lighter-go: ErrCancelAllMarketIndexCantBeScheduled
                raise w.bad(
                    w.CODE_INVALID_CANCEL_ALL_TIF,
                    "invalid cancel all time in force: a market's cancel all can't be scheduled",
                )
            if not now_ms + self.min_scheduled_cancel_ms <= at <= now_ms + MAX_SCHEDULE_MS:
                raise w.bad(
                    w.CODE_INVALID_CANCEL_ALL_TIME,
                    f"invalid cancel all time: must be {self.min_scheduled_cancel_ms} ms "
                    "to 15 days ahead",
                )
            if planned.get(key, self._queued_schedule(acct)):
                self.stats.schedules_refused += 1
                raise w.bad(
                    w.CODE_QUEUED_CANCEL_ALL, "account has a queued cancel all orders request"
                )
            planned[key] = True
            on_accept = partial(self._schedule_accepted, acct)
        elif tif == w.CANCEL_ALL_ABORT:
            if self.credit_queued_abort:
                planned[key] = False
            on_accept = partial(self._abort_accepted, acct)
        return partial(self._apply_cancel_all, acct, tif, at, market), on_accept

    def _queued_schedule(self, acct: Account) -> bool:
        """Whether the API server sees a scheduled cancel-all queued on the account."""
        if self.credit_queued_abort:
            return acct.api_schedule
        return acct.schedule is not None or acct.schedule_txs > 0

    @staticmethod
    def _schedule_accepted(acct: Account) -> None:
        acct.api_schedule = True
        acct.schedule_txs += 1

    @staticmethod
    def _abort_accepted(acct: Account) -> None:
        acct.api_schedule = False

    def _apply_cancel_all(
        self, acct: Account, tif: int, at: int, market: int | None, tx_hash: str
    ) -> None:
        if tif == w.CANCEL_ALL_IMMEDIATE:
            self._cancel_all(acct, market, None)
        elif tif == w.CANCEL_ALL_SCHEDULED:
            acct.schedule_txs = max(0, acct.schedule_txs - 1)
            acct.schedule = (at, market)
            self.stats.schedules_armed += 1
        else:
            if acct.schedule is not None:
                self.stats.schedules_aborted += 1
            acct.schedule = None

    def _cancel_all(self, acct: Account, market: int | None, status: str | None) -> int:
        targets = [o for o in acct.live.values() if market is None or o.market.market_id == market]
        for o in targets:
            self._cancel(o, status)
        return len(targets)

    def _fire_schedules(self) -> None:
        """Scheduled cancel-alls and order expiries (on sim steps, by the wall clock)."""
        wall = int(time.time() * 1000)
        for acct in self._accounts.values():
            if acct.schedule is not None and acct.schedule[0] <= wall:
                _, market = acct.schedule
                acct.schedule = None
                if acct.schedule_txs == 0:
                    acct.api_schedule = False
                n = self._cancel_all(acct, market, None)
                self.stats.schedules_fired += 1
                log.info("lighter emulator: scheduled cancel-all of %d fired (%d)", acct.index, n)
            for o in [o for o in acct.live.values() if 0 < o.order_expiry <= wall]:
                self.stats.orders_expired += 1
                self._cancel(o, "canceled-expired")


__all__ = ["CancelAlls"]
