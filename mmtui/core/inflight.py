"""Orders the venue has not settled, looked up by client id until it has.

Real venues accept an order and never say so (Lighter drops some invalid orders
without a report), lose the answer to a place (a timeout, a 5xx, a dropped
connection), or acknowledge a cancel or a modify that then does not happen.
NautilusTrader (``live/execution_engine`` in-flight checks) and Hummingbot
(lost orders after repeated failed status lookups) both resolve these by asking
the venue; so does this module. An order is due for a lookup when:

* its place request ended ``grace_s`` ago (``unknown_grace_s`` when the answer
  was lost) and the venue has not reported it since — neither on its stream nor
  by a fill (an answer "accepted" is not a report: a venue may still drop it). A
  place still in the gateway (queued by the rate limiter, waiting out a 429) is
  not looked up: it may not have been sent yet;
* its cancel was requested ``cancel_grace_s`` ago and it is still live;
* a modify was acknowledged and is due to be verified;
* reconcile asked (the venue no longer lists it as open).

The venue's answer settles it: live (the order is open after all), done (its
final state — and when the venue reports more filled than we saw, the fills are
recovered from its history first), or unknown. ``misses_to_lost`` unknowns in a
row end the order as LOST: reported, journaled, counted — never a phantom live
order that holds risk limits. A cancel that keeps not taking effect is sent
again, at most ``max_cancel_sends`` times, then reported loudly.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from connectors.base import OrderStatus, VenueError, VenueOrder
from mmtui.core.orders import Order, OrderManager

log = logging.getLogger("mmtui.inflight")


@dataclass(frozen=True, slots=True)
class InflightPolicy:
    grace_s: float = 5.0
    """A pending order with no word from the venue for this long is looked up."""
    unknown_grace_s: float = 1.0
    """A place whose answer was lost is looked up this soon."""
    recheck_s: float = 2.0
    """Between two lookups of one order."""
    misses_to_lost: int = 2
    """Lookups in a row that find nothing before the order ends LOST."""
    cancel_grace_s: float = 5.0
    max_cancel_sends: int = 3
    amend_check_s: float = 2.0


Lookup = Callable[[Order], Awaitable[VenueOrder | None]]
Settle = Callable[[Order, VenueOrder], None]
Lost = Callable[[Order, str], None]
Resend = Callable[[Order], None]


class InflightChecker:
    def __init__(
        self,
        orders: OrderManager,
        *,
        lookup: Lookup,
        settle: Settle,
        lost: Lost,
        resend_cancel: Resend,
        policy: InflightPolicy | None = None,
    ) -> None:
        self.orders = orders
        self._lookup = lookup
        self._settle = settle
        self._lost = lost
        self._resend_cancel = resend_cancel
        self.policy = policy or InflightPolicy()
        self._requested: set[str] = set()
        self.lookups = 0
        self.lookup_errors = 0

    def request_check(self, order: Order) -> None:
        """Look ``order`` up at the next round (reconcile: the venue stopped listing it)."""
        self._requested.add(order.client_id)

    def due(self, now_ms: int) -> list[tuple[Order, str]]:
        """The live orders to look up now, each with why."""
        p = self.policy
        out: list[tuple[Order, str]] = []
        for order in self.orders.live():
            if order.checked_ms and now_ms - order.checked_ms < p.recheck_s * 1000:
                continue
            why = ""
            if order.client_id in self._requested:
                why = "not listed by the venue"
            elif not order.reported and order.answered_ms is not None:
                wait = p.unknown_grace_s if order.outcome_unknown else p.grace_s
                if now_ms - order.answered_ms >= wait * 1000:
                    why = "answer lost" if order.outcome_unknown else "no report from the venue"
            elif order.cancel_requested and order.cancel_requested_ms:
                if now_ms - order.cancel_requested_ms >= p.cancel_grace_s * 1000:
                    why = "cancel not taking effect"
            elif order.amend_check_ms and now_ms >= order.amend_check_ms:
                why = "verify modify"
            if why:
                out.append((order, why))
        return out

    async def check(self, now_ms: int) -> int:
        """Look up every due order once; returns how many were looked up."""
        due = self.due(now_ms)
        for order, why in due:
            self._requested.discard(order.client_id)
            order.checked_ms = now_ms
            self.lookups += 1
            try:
                found = await self._lookup(order)
            except VenueError as exc:
                self.lookup_errors += 1
                log.warning(
                    "%s: looking up %s (%s) failed: %s", order.venue, order.client_id, why, exc
                )
                continue
            except Exception:
                self.lookup_errors += 1
                log.exception("%s: looking up %s (%s) failed", order.venue, order.client_id, why)
                continue
            if not order.is_live:
                continue  # settled by the stream while we asked
            if found is None:
                self._missing(order, why)
            else:
                self._found(order, why, found)
        return len(due)

    # -- outcomes ---------------------------------------------------------------

    def _missing(self, order: Order, why: str) -> None:
        order.lookup_misses += 1
        if order.lookup_misses < self.policy.misses_to_lost:
            log.info(
                "%s: %s (%s): the venue does not know it (%d/%d)",
                order.venue,
                order.client_id,
                why,
                order.lookup_misses,
                self.policy.misses_to_lost,
            )
            return
        reason = f"lost: the venue does not know it ({why}; {order.lookup_misses} lookups)"
        log.warning("%s: order %s %s", order.venue, order.client_id, reason)
        self._lost(order, reason)

    def _found(self, order: Order, why: str, found: VenueOrder) -> None:
        order.lookup_misses = 0
        verifying = order.amend_check_ms != 0
        order.amend_check_ms = 0
        if verifying and found.status.is_live:
            self._verify_amend(order, found)
        self._settle(order, found)
        if not order.is_live or not order.cancel_requested or not found.status.is_live:
            return
        if found.status is OrderStatus.PENDING:
            return  # the venue has not booked it yet: the cancel follows the booking
        if order.cancel_sends >= self.policy.max_cancel_sends:
            log.error(
                "%s: order %s is still open after %d cancels; it keeps resting",
                order.venue,
                order.client_id,
                order.cancel_sends,
            )
            return
        log.warning(
            "%s: order %s still open %s: cancelling again", order.venue, order.client_id, why
        )
        self._resend_cancel(order)

    @staticmethod
    def _verify_amend(order: Order, found: VenueOrder) -> None:
        if found.price is not None and found.price != order.price:
            log.warning(
                "%s: modify of %s did not take: the venue has %s @ %s, we had %s @ %s",
                order.venue,
                order.client_id,
                found.size,
                found.price,
                order.size,
                order.price,
            )
            order.price = found.price
            order.size = found.size


__all__ = ["InflightChecker", "InflightPolicy"]
