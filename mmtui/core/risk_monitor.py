"""The risk monitor: the session's loss limits, checked on a timer, failing closed.

Every ``interval_s`` the session PnL (realized + unrealized - fees over every
venue) goes to ``RiskEngine.update_pnl``: past ``reduce_at_loss`` only reducing
orders pass, past ``max_loss`` trading halts. Nothing a value does stops the
monitor: a PnL that is not a number halts (the limits cannot be enforced on it),
a check that raises halts and the loop goes on, and the engine halts trading if
the monitor's task ever ends (``halt`` is its ``on_death``). Halting is failing
closed: risk HALTED with the reason, running strategies paused, every live order
cancelled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from decimal import Decimal

from mmtui.core.clock import Clock
from mmtui.core.orders import Order, OrderManager
from mmtui.core.risk import RiskEngine, RiskState
from mmtui.core.runner import StrategyRunner, StrategyState

log = logging.getLogger("mmtui.risk")


class RiskMonitor:
    def __init__(
        self,
        *,
        clock: Clock,
        risk: RiskEngine,
        session_pnl: Callable[[], Decimal],
        strategies: Mapping[str, StrategyRunner],
        orders: OrderManager,
        request_cancel: Callable[[Order], bool],
        note_event: Callable[[str, str], None],
        interval_s: float = 0.25,
    ) -> None:
        self._clock = clock
        self._risk = risk
        self._session_pnl = session_pnl
        self._strategies = strategies
        self._orders = orders
        self._request_cancel = request_cancel
        self._note_event = note_event
        self.interval_s = interval_s
        self.failures = 0
        """Checks that raised (each one halted trading unless already halted)."""

    async def run(self) -> None:
        failing = ""
        while True:
            await self._clock.sleep(self.interval_s)
            try:
                self.check()
            except Exception as exc:
                self.failures += 1
                reason = f"risk monitor failed: {exc!r}"
                if reason != failing:  # once per distinct failure, not every interval
                    log.exception("risk monitor: the session PnL check failed")
                failing = reason
                if self._risk.state is not RiskState.HALTED:
                    self.halt(reason)
            else:
                failing = ""

    def check(self) -> None:
        """One check of the loss limits (raises what the PnL computation raises)."""
        before = self._risk.state
        if self._risk.update_pnl(self._session_pnl()):
            self._note_event(
                "risk", f"{before.value} -> {self._risk.state.value}: {self._risk.reason}"
            )
            if self._risk.state is RiskState.HALTED:
                self._stop_trading(self._risk.reason)

    def halt(self, reason: str) -> None:
        """Fail closed: risk HALTED, running strategies paused, every order cancelled."""
        before = self._risk.state
        self._risk.set_state(RiskState.HALTED, reason)
        log.error("trading HALTED: %s", reason)
        self._note_event("risk", f"{before.value} -> HALTED: {reason}")
        self._stop_trading(reason)

    def _stop_trading(self, reason: str) -> None:
        for runner in self._strategies.values():
            if runner.state is StrategyState.RUNNING:
                try:
                    runner.pause(f"risk halted: {reason}")
                except Exception:
                    log.exception("pausing %s at the halt failed", runner.name)
        for order in list(self._orders.live()):
            try:
                self._request_cancel(order)
            except Exception:
                log.exception("cancelling %s at the halt failed", order.client_id)


__all__ = ["RiskMonitor"]
