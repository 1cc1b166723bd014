"""The hedged cycle after a restart: it picks up from the orders the core adopted
from the earlier run and from its rebuilt positions."""

from __future__ import annotations

from connectors.base import Side
from strategies.hedged_cycle_legs import CLOSE, CLOSE_MKT, MAKER_TAGS, OPEN, Phase
from strategies.hedged_cycle_phases import CyclePhases


class CycleRestart(CyclePhases):
    """The phases, and the start that picks up where an earlier run left off."""

    def _rebuild(self, now: int) -> None:
        """Pick up from adopted orders and the rebuilt positions."""
        orders = self.ctx.orders()
        tel = self.ctx.telemetry
        tel.set("adopted", len(orders))
        m, h = self.maker_position(), self.hedge_position()
        maker = [o for o in orders if o.venue == self.venue and o.tag in MAKER_TAGS]
        if orders:
            tags = ", ".join(sorted(o.tag or "?" for o in orders))
            self.ctx.log.info(
                "rebuilding from %d live orders (%s), maker %s, hedge %s", len(orders), tags, m, h
            )
        for o in orders:  # anything but a maker limit is stale by now
            if o not in maker or o.tag == CLOSE_MKT:
                self.ctx.cancel(o.client_id)
        opening = next((o for o in maker if o.tag == OPEN), None)
        closing = next((o for o in maker if o.tag == CLOSE), None)
        if m == 0 and h == 0 and closing is None and opening is None:
            return
        self._begin_cycle(now, resumed=True)
        self.target = self.size
        if opening is not None:
            self.side = opening.side
            self.attempts = 1
            self.attempt_deadline_ms = now + int(self.p.reprice_after_seconds * 1000)
            self._enter(Phase.OPENING, now)
        elif closing is not None or m != 0:
            self.side = closing.side.opposite if closing is not None else Side.closing(-m)
            if closing is not None:
                self.attempts = 1
                self.attempt_deadline_ms = now + int(self.p.reprice_after_seconds * 1000)
                self._enter(Phase.CLOSING_MAKER, now)
            else:
                self._start_hold(now)
        else:
            self._enter(Phase.CLOSING_HEDGE, now)
        self.ctx.log.info("rebuilt: %s, side %s", self.phase.value, self.side)
