"""The order path: intents out, order states and fills back in.

Out: ``submit_order`` (create -> risk check -> gateway), ``request_cancel`` and
``request_amend``. In: the gateway's acks, cancel results and lost answers, and
the connectors' order updates and fills. Every change of an order's status goes
through one hook, ``order_changed``: journal the order, wake whoever waits for
it to end, hand it to its strategy.

Fills are checked, deduplicated and booked by ``fill_intake.FillIntake``, which
this path owns and hands ``order_changed``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

from connectors.base import (
    Fill,
    Modifiable,
    OrderAck,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Side,
    TimeInForce,
    VenueError,
    Withdrawable,
)
from mmtui.core import numbers
from mmtui.core.clock import Clock
from mmtui.core.fill_intake import FillIntake
from mmtui.core.gateway import VenueGateway
from mmtui.core.journal import Journal, writable
from mmtui.core.late_fills import LateFills
from mmtui.core.latency import Latency
from mmtui.core.markets import Markets
from mmtui.core.orders import Order, OrderManager
from mmtui.core.positions import PositionBook
from mmtui.core.ratelimit import Priority, RateLimiter
from mmtui.core.risk import RiskEngine, RiskInput

if TYPE_CHECKING:
    from mmtui.core.runner import StrategyRunner

log = logging.getLogger("mmtui.engine")


class OrderPath:
    """Owns the per-venue gateways; the engine routes order events here."""

    def __init__(
        self,
        *,
        clock: Clock,
        markets: Markets,
        orders: OrderManager,
        positions: PositionBook,
        strategy_positions: PositionBook,
        risk: RiskEngine,
        journal: Journal | None,
        strategies: Mapping[str, StrategyRunner],
        rate_limiters: Mapping[str, RateLimiter],
        accepting: Callable[[], bool],
        note_event: Callable[[str, str], None] | None = None,
        first_sight: Callable[[Fill, bool], bool] | None = None,
        amend_check_s: float = 2.0,
        latency: Latency | None = None,
    ) -> None:
        self._clock = clock
        self.latency = latency or Latency()
        """Tick-to-trade ends here: a place or a modify handed to the connector."""
        self._markets = markets
        self._orders = orders
        self._positions = positions
        self._risk = risk
        self._journal = journal
        self._strategies = strategies
        self._accepting = accepting
        self._note_event = note_event or (lambda kind, detail: None)
        self._amend_check_ms = int(amend_check_s * 1000)
        self.gateways = {
            name: VenueGateway(
                conn,
                rate_limiters.get(name),
                on_ack=self._on_ack,
                on_cancel_result=self._on_cancel_result,
                on_unknown=self._on_unknown,
                now_ms=clock.now_ms,
                sent=self.latency.request_sent,
            )
            for name, conn in markets.connectors.items()
        }
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self.fills = FillIntake(
            clock=clock,
            markets=markets,
            orders=orders,
            positions=positions,
            strategy_positions=strategy_positions,
            risk=risk,
            journal=journal,
            note_event=self._note_event,
            # the one gate every fill passes (FillRecovery.first_sight)
            first_sight=first_sight or (lambda fill, trusted: True),
            runner_of=self._runner_of,
            order_changed=self.order_changed,
            journal_order=self._journal_order,
        )
        """Fills in: checked, deduplicated, booked (``fill_intake``)."""

    # -- out: intents ---------------------------------------------------------

    def submit_order(
        self,
        *,
        venue: str,
        symbol: str,
        side: Side,
        size: Decimal,
        price: Decimal | None,
        order_type: OrderType = OrderType.LIMIT,
        time_in_force: TimeInForce = TimeInForce.GTC,
        post_only: bool = False,
        reduce_only: bool = False,
        strategy: str | None = None,
        tag: str = "",
        bypass_risk: bool = False,
    ) -> Order:
        """Create, risk-check and send an order. Never blocks: returns the order at once.

        Terms that are not finite Decimals on the grid reject the order (a flatten's
        too), whatever they are: the order's record keeps what can be kept of them
        (``numbers.recordable``) and its reason names them as they came."""
        now = self._clock.now_ms()
        inst = self._markets.instrument(venue, symbol)  # an unknown market creates no order
        bad_terms = self._risk.terms(inst, size, price)
        order = self._orders.create(
            venue=venue,
            symbol=symbol,
            side=side,
            size=numbers.recordable(size),
            price=None if price is None else numbers.recordable(price),
            now_ms=now,
            order_type=order_type,
            time_in_force=time_in_force,
            post_only=post_only,
            reduce_only=reduce_only,
            strategy=strategy,
            tag=tag,
        )
        reason: str | None
        if not self._accepting():
            reason = "engine not running"
        elif bad_terms is not None:
            reason = bad_terms
            self._risk.count_rejection(reason)
        elif bypass_risk:
            reason = None
        else:
            reason = self._risk.check(self.risk_input(order, price, size), now)
        if reason is None:
            try:
                order.venue_client_id = self._markets.connectors[venue].venue_client_id(
                    order.client_id
                )
            except (VenueError, ValueError) as exc:
                reason = f"client id: {exc}"
        if reason is not None:
            self._orders.reject(order, f"risk: {reason}", now)
            # Never call back into the strategy from inside its own place() call.
            self.order_changed(order, deliver_soon=True)
            return order
        self._orders.mark_sent(order)
        self._journal_order(order)
        self.gateways[venue].place(order)
        return order

    def risk_input(self, order: Order, price: Decimal | None, size: Decimal) -> RiskInput:
        """What the risk check sees for ``order`` at ``price`` and ``size`` (a new
        order's own terms, or an amend's), the order itself not counted as open."""
        venue, symbol = order.venue, order.symbol
        return RiskInput(
            instrument=self._markets.instrument(venue, symbol),
            side=order.side,
            size=size,
            price=price,
            order_type=order.type,
            reduce_only=order.reduce_only,
            position=self._positions.get((venue, symbol)).size,
            open_same_side=self._orders.open_size(venue, symbol, order.side, exclude=order),
            open_orders=self._orders.live_count() - 1,
            book=self._markets.book(venue, symbol),
        )

    def request_cancel(self, order: Order) -> bool:
        """Ask the venue to cancel; False if the order is not live."""
        if not order.is_live:
            return False
        first = not order.cancel_requested
        self._orders.mark_cancel_requested(order, self._clock.now_ms())
        if order.status is OrderStatus.PENDING and order.venue_order_id is None:
            if first:
                self._withdraw(order)  # not left yet: taken back, its place answers CANCELLED
            return True  # else the cancel goes out when the place is acknowledged
        if first:
            self._send_cancel(order)
        return True

    def _holder(self, order: Order) -> Withdrawable | None:
        """The connector that may still hold ``order``'s place (not answered yet) and can
        take it back or change it before it leaves (``connectors.base.Withdrawable``)."""
        if order.answered_ms is not None or order.venue_order_id is not None:
            return None
        conn = self._markets.connectors[order.venue]
        return conn if isinstance(conn, Withdrawable) else None

    def _withdraw(self, order: Order) -> bool:
        holder = self._holder(order)
        if holder is None:
            return False
        try:
            return holder.withdraw(order.symbol, order.client_id)
        except VenueError as exc:
            log.warning("%s: withdrawing %s failed: %s", order.venue, order.client_id, exc)
            return False

    def resend_cancel(self, order: Order) -> None:
        """A cancel the venue acknowledged but that changed nothing: send it again."""
        if order.is_live:
            self._send_cancel(order)

    def _send_cancel(self, order: Order) -> None:
        order.cancel_sends += 1
        self.gateways[order.venue].cancel(order)

    def can_amend(self, venue: str) -> bool:
        """The venue changes a resting order's price/size in one request."""
        return isinstance(self._markets.connectors[venue], Modifiable)

    def request_amend(self, order: Order, price: Decimal, size: Decimal | None = None) -> bool:
        """Move a resting limit order to ``price`` (and ``size``: the new total; default
        unchanged) in one venue request instead of a cancel and a new order.

        False, and nothing sent, when the venue cannot modify orders, the order is not
        resting (pending, cancelling, already amending) or the risk check refuses the
        new terms: the caller then cancels and places as usual. The order keeps its
        client id; its price and size change once the venue accepted the request.

        A pending order whose place has not left the connector yet
        (``connectors.base.Withdrawable``) leaves with the new terms instead: one
        request, not a place and a modify.
        """
        holder = self._holder(order) if order.status is OrderStatus.PENDING else None
        if (
            not self._accepting()
            or order.type is not OrderType.LIMIT
            or order.cancel_requested
            or order.amending
        ):
            return False
        if holder is None and (
            not self.can_amend(order.venue)
            or order.status not in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)
        ):
            return False
        new_size = order.size if size is None else size
        bad_terms = self._risk.terms(
            self._markets.instrument(order.venue, order.symbol), new_size, price
        )
        if bad_terms is not None:
            self._risk.count_rejection(bad_terms)
            log.info("%s: amend of %s refused by risk: %s", order.venue, order.client_id, bad_terms)
            return False
        remaining = new_size - order.filled
        if remaining <= 0:
            return False
        reason = self._risk.check(self.risk_input(order, price, remaining), self._clock.now_ms())
        if reason is not None:
            log.info("%s: amend of %s refused by risk: %s", order.venue, order.client_id, reason)
            return False
        if holder is not None:
            return self._restate(holder, order, price, new_size)
        order.amending = True
        gateway = self.gateways[order.venue]
        gateway.spawn(self._amend(gateway, order, price, new_size, remaining), "amend")
        return True

    async def _amend(
        self, gateway: VenueGateway, order: Order, price: Decimal, size: Decimal, remaining: Decimal
    ) -> None:
        connector = self._markets.connectors[order.venue]
        assert isinstance(connector, Modifiable)

        async def modify() -> None:
            self.latency.request_sent(order.venue, order.symbol)  # tick-to-trade ends here
            return await connector.modify(order.symbol, order.client_id, remaining, price)

        try:
            await gateway.call("modify", Priority.PLACE, modify)
        except VenueError as exc:
            log.info("%s: amend of %s failed: %s", order.venue, order.client_id, exc)
            return
        finally:
            order.amending = False
        if not order.is_live:
            return  # filled or cancelled meanwhile: the venue ignored the modify
        order.price, order.size = price, size
        self._orders.mark_amended(order)
        order.updated_ms = self._clock.now_ms()
        # An acknowledged modify may still not happen (Lighter sequences the tx and
        # may drop it): look the order up soon and take the venue's terms if not.
        order.amend_check_ms = order.updated_ms + self._amend_check_ms
        self._journal_order(order)  # new terms, same status: nothing to deliver

    def _restate(self, holder: Withdrawable, order: Order, price: Decimal, size: Decimal) -> bool:
        """New terms for a place that has not left: it leaves with them."""
        try:
            if not holder.restate(order.symbol, order.client_id, size, price):
                return False
        except VenueError as exc:
            log.info("%s: restating %s failed: %s", order.venue, order.client_id, exc)
            return False
        order.price, order.size = price, size
        self._orders.mark_amended(order)
        order.updated_ms = self._clock.now_ms()
        self._journal_order(order)  # new terms, same status: nothing to deliver
        return True

    def terminal(self, order: Order) -> asyncio.Future[None]:
        """A future that is done once ``order`` reaches a terminal status."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(order.client_id, []).append(future)
        return future

    # -- in: acks from the gateway --------------------------------------------

    def _on_ack(self, order: Order, ack: OrderAck) -> None:
        now = self._clock.now_ms()
        before = order.status
        self._orders.apply_ack(ack, now)
        if order.status is not before:
            self.order_changed(order)
        if order.status is OrderStatus.REJECTED:
            log.info(
                "%s %s %s %s @ %s rejected: %s",
                order.venue,
                order.symbol,
                order.side.value,
                order.size,
                order.price,
                order.reason,
            )
        if order.cancel_requested and order.is_live and order.cancel_sends == 0:
            self._send_cancel(order)

    def _on_unknown(self, order: Order, reason: str) -> None:
        """The place's answer was lost: never resent; the order is looked up."""
        self._orders.mark_outcome_unknown(order, reason, self._clock.now_ms())
        self._journal_order(order)

    def mark_lost(self, order: Order, reason: str) -> None:
        """The venue does not know the order: it ends LOST, journaled and delivered."""
        if self._orders.mark_lost(order, reason, self._clock.now_ms()):
            self._note_event("order_lost", f"{order.venue} {order.client_id}: {reason}")
            self.order_changed(order)

    def _on_cancel_result(self, order: Order, ok: bool, reason: str) -> None:
        if not ok and order.is_live:
            log.info("%s: cancel %s not confirmed (%s)", order.venue, order.client_id, reason)

    # -- in: order updates and fills from the connectors ----------------------

    def on_order_update(self, update: OrderUpdate) -> None:
        now = self._clock.now_ms()
        order = self._orders.get(update.client_id) if update.client_id else None
        before = order.status if order is not None else None
        order = self._orders.apply_update(update, now)
        if order is None:
            return
        if order.status is not before:
            self.order_changed(order)
        if order.is_live and order.cancel_requested and order.cancel_sends == 0:
            self._send_cancel(order)  # a cancel waiting for the venue to know the order

    def on_fill(self, fill: Fill) -> None:
        self.fills.on_fill(fill)

    @property
    def foreign_fills(self) -> int:
        """Fills of no order of ours that moved the account (liquidations, other tools)."""
        return self.fills.foreign

    @property
    def refused_fills(self) -> int:
        """Fills refused as impossible (``fill_check``): journaled, alerted, not applied."""
        return self.fills.refused

    @property
    def late(self) -> LateFills:
        """Fills of orders of ours whose records were pruned: found in the journal."""
        return self.fills.late

    # -- the transition hook --------------------------------------------------

    def order_changed(self, order: Order, *, deliver_soon: bool = False) -> None:
        """Every change of an order's status comes through here: journal it, wake
        whoever waits for it to end, hand it to its strategy (``deliver_soon``: on
        the next loop turn, for a change made inside the strategy's own call)."""
        self._journal_order(order)
        if deliver_soon:
            asyncio.get_running_loop().call_soon(self._deliver, order)
        else:
            self._deliver(order)

    def _deliver(self, order: Order) -> None:
        if order.status.is_terminal:
            for future in self._waiters.pop(order.client_id, ()):
                if not future.done():
                    future.set_result(None)
        runner = self._runner_of(order)
        if runner is not None:
            runner.deliver_order(order)

    def _runner_of(self, order: Order) -> StrategyRunner | None:
        return self._strategies.get(order.strategy) if order.strategy else None

    def _journal_order(self, order: Order) -> None:
        if not writable(self._journal):
            return
        self._journal.record_order(
            ts_ms=order.updated_ms,
            client_id=order.client_id,
            venue=order.venue,
            symbol=order.symbol,
            side=order.side.value,
            order_type=order.type.value,
            price=order.price,
            size=order.size,
            filled=order.filled,
            status=order.status.value,
            reason=order.reason,
            strategy=order.strategy,
            venue_order_id=order.venue_order_id,
            post_only=order.post_only,
            reduce_only=order.reduce_only,
            tag=order.tag,
            venue_client_id=order.venue_client_id,
        )
