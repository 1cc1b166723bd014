"""What the hedged cycle publishes: its state and legs every step, and each cycle's
own volume, fees and PnL ("cost") when it ends."""

from __future__ import annotations

from decimal import Decimal

from connectors.base import ZERO
from strategies.hedged_cycle_legs import CycleLegs, Phase


class CycleTelemetry(CycleLegs):
    """The legs, and what they publish (``HedgedCycle`` builds on it)."""

    def _report_cycle(self, now: int) -> None:
        """Count the ending cycle (completed or abandoned) and publish what it alone did."""
        tel = self.ctx.telemetry
        start = self.cycle
        volume, fees = self._totals()
        pnl = self.pnl()
        if start is not None:
            c_volume, c_fees, c_pnl = volume - start.volume, fees - start.fees, pnl - start.pnl
            secs = (now - start.started_ms) / 1000
        else:
            c_volume = c_fees = c_pnl = ZERO
            secs = 0.0
        ok = not self.abort_reason
        if ok:
            self.cycles_completed += 1
        else:
            self.cycles_aborted += 1
            tel.set("last_abort", self.abort_reason)
        tel.set("last_cycle_volume", c_volume)
        tel.set("last_cycle_fees", c_fees)
        tel.set("last_cycle_pnl", c_pnl)
        tel.set("last_cycle_cost", -c_pnl)
        tel.set("last_cycle_seconds", round(secs, 1))
        tel.sample("cycle_pnl", now, c_pnl)
        tel.sample("cycle_volume", now, c_volume)
        self.ctx.log.info(
            "cycle %d %s in %.1f s: volume %s, fees %s, pnl %s",
            start.number if start is not None else self.cycles_started,
            "done" if ok else f"abandoned ({self.abort_reason})",
            secs,
            c_volume,
            c_fees,
            c_pnl,
        )

    def _publish(self, now: int) -> None:
        tel = self.ctx.telemetry
        m, h = self.maker_position(), self.hedge_position()
        net = m + h
        mid, hmid = self._mids()
        volume, fees = self._totals()
        state = self.phase.value
        if self.phase is Phase.DONE and self.stop_reason:
            state = f"done: {self.stop_reason}"
        elif self.phase is Phase.HOLDING:
            state = f"holding ({max(0, self.hold_until_ms - now) / 1000:.0f} s left)"
        elif self.phase is Phase.COOLDOWN:
            state = f"cooldown ({max(0, self.cooldown_until_ms - now) / 1000:.0f} s left)"
        if not self.ctx.running:
            state = f"paused ({state})"
        tel.set("state", state)
        tel.set("phase", self.phase.value)
        tel.set("base", self.inst.base)
        tel.set("hedge_market", f"{self.hedge_venue}/{self.hedge_symbol}")
        tel.set("size", self.size)
        tel.set("direction", self.side.value if self.side is not None else "-")
        tel.set("maker_position", m)
        tel.set("hedge_position", h)
        tel.sample("net_exposure", now, net)
        tel.set(f"net_exposure_{self.inst.base.upper()}", net)
        tel.set(
            "account_net_exposure",
            self.ctx.account_position(self.venue, self.symbol)
            + self.ctx.account_position(self.hedge_venue, self.hedge_symbol),
        )
        tel.set("one_sided", not self.matched(net))
        tel.set("cycles_started", self.cycles_started)
        tel.set("cycles_completed", self.cycles_completed)
        tel.set("cycles_aborted", self.cycles_aborted)
        tel.set("volume", volume)
        tel.set("fees", fees)
        pnl = self.pnl()
        tel.sample("pnl", now, pnl)
        tel.set("cost", -pnl)
        done = self.cycles_completed
        tel.set("cost_per_cycle", (-pnl / done).quantize(Decimal("0.0001")) if done else None)
        tel.set("volume_per_cycle", (volume / done).quantize(Decimal("0.01")) if done else None)
        if mid is not None:
            tel.sample("mid", now, mid)
            if hmid is not None:
                tel.set("basis_bps", round(float((hmid - mid) / mid * 10_000), 2))
