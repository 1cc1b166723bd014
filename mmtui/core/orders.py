"""The order manager: every order the process sends, and its state machine.

Pure state, no I/O: the engine sends requests and feeds back what the venue
says (acks, order updates, fills); this module decides what each means.

State machine::

    pending -> open -> partially_filled -> filled
       |         |            |
       +---------+------------+--> cancelled / rejected / expired / lost

``lost``: the venue never reported the order and, asked by client id, does not
know it (dropped without a report, or a place whose answer was lost and which
never landed). Filled quantity comes only from fills, never from a terminal
status; a late fill of a lost or cancelled order still counts.
"""

from __future__ import annotations

import logging
import secrets
import string
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from connectors.base import (
    ZERO,
    Fill,
    OrderAck,
    OrderRequest,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Side,
    TimeInForce,
)

log = logging.getLogger("mmtui.orders")

CLIENT_ID_MARK = "mm"
"""Every client id we send starts with this, then the run prefix."""

_ALLOWED: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset(
        {
            OrderStatus.OPEN,
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.CANCELLED,
            OrderStatus.REJECTED,
            OrderStatus.EXPIRED,
            OrderStatus.LOST,
        }
    ),
    OrderStatus.OPEN: frozenset(
        {
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.CANCELLED,
            OrderStatus.EXPIRED,
            OrderStatus.LOST,
        }
    ),
    OrderStatus.PARTIALLY_FILLED: frozenset(
        {
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.CANCELLED,
            OrderStatus.EXPIRED,
            OrderStatus.LOST,
        }
    ),
}


def new_run_prefix() -> str:
    """A short random prefix that tells this run's orders from any other run's."""
    alphabet = string.ascii_lowercase + string.digits
    return CLIENT_ID_MARK + "".join(secrets.choice(alphabet) for _ in range(5))


@dataclass(slots=True)
class Order:
    client_id: str
    venue: str
    symbol: str
    side: Side
    size: Decimal
    type: OrderType
    price: Decimal | None
    time_in_force: TimeInForce
    post_only: bool
    reduce_only: bool
    strategy: str | None
    created_ms: int
    status: OrderStatus = OrderStatus.PENDING
    filled: Decimal = ZERO
    notional_filled: Decimal = ZERO
    fees: Decimal = ZERO
    venue_order_id: str | None = None
    reason: str = ""
    updated_ms: int = 0
    cancel_requested: bool = False
    amending: bool = False
    """A modify (new price/size in place) is on its way to the venue."""
    amends: int = 0
    tag: str = ""
    fill_ids: set[str] = field(default_factory=set)
    venue_client_id: str | None = None
    """Our client id in the venue's wire form, as sent: the proof the order is ours."""
    reported: bool = False
    """The venue has reported the order on its own (a stream update, a fill) or
    when asked (a lookup): it is not a phantom. A place's answer does not count —
    Backpack says "New" for an order it may still not book, Lighter says only that
    the transaction arrived."""
    answered_ms: int | None = None
    """When the place request ended (answered, refused, or its answer lost); None
    while it is still in the gateway (queued, or retried after a 429)."""
    outcome_unknown: bool = False
    """The place request's answer was lost: the order may or may not be live."""
    lookup_misses: int = 0
    """Lookups by client id in a row that found nothing at the venue."""
    checked_ms: int = 0
    """When the core last looked this order up (0: never)."""
    cancel_requested_ms: int = 0
    cancel_sends: int = 0
    amend_check_ms: int = 0
    """When to verify an acknowledged modify took effect (0: nothing to verify)."""

    @property
    def remaining(self) -> Decimal:
        return max(ZERO, self.size - self.filled)

    @property
    def is_live(self) -> bool:
        return not self.status.is_terminal

    @property
    def avg_fill_price(self) -> Decimal | None:
        return self.notional_filled / self.filled if self.filled else None

    def request(self) -> OrderRequest:
        return OrderRequest(
            client_id=self.client_id,
            symbol=self.symbol,
            side=self.side,
            size=self.size,
            type=self.type,
            price=self.price,
            time_in_force=self.time_in_force,
            post_only=self.post_only,
            reduce_only=self.reduce_only,
        )


@dataclass(slots=True)
class OrderCounters:
    placed: int = 0
    rejected: int = 0
    cancelled: int = 0
    filled: int = 0
    expired: int = 0
    fills: int = 0
    cancel_requests: int = 0
    amended: int = 0
    lost: int = 0
    unknown_outcomes: int = 0


KEEP_ENDED = 500
"""Ended orders ``OrderManager.prune`` always keeps (the newest)."""
PRUNE_AFTER_MS = 30_000
"""How long an ended order's record is kept at least: a fill reported after the
order's end (a fill channel lagging the order channel) normally comes within it. A
later one finds the order in the journal (``late_fills``)."""


class OrderManager:
    """Owns every order of this run, keyed by client id."""

    def __init__(self, run_prefix: str | None = None) -> None:
        self.run_prefix = run_prefix or new_run_prefix()
        self._counter = 0
        self._orders: dict[str, Order] = {}
        self._live: dict[str, Order] = {}
        self._by_venue_id: dict[tuple[str, str], str] = {}
        self._ended: dict[str, int] = {}
        """Client id -> when the order ended, oldest first: what ``prune`` may forget (LOST
        orders are never in it: the venue may still report them)."""
        self.counters = OrderCounters()
        self.by_market: dict[tuple[str, str, str], OrderCounters] = {}
        """The same counts per (venue, symbol, strategy or ""): what metrics label."""
        self.pruned = 0
        self._adopted: set[str] = set()
        """Client ids of earlier runs' orders adopted in this run: ours too, once pruned."""

    # -- creation -------------------------------------------------------------

    def next_client_id(self) -> str:
        self._counter += 1
        return f"{self.run_prefix}-{self._counter}"

    def create(
        self,
        *,
        venue: str,
        symbol: str,
        side: Side,
        size: Decimal,
        price: Decimal | None,
        now_ms: int,
        order_type: OrderType = OrderType.LIMIT,
        time_in_force: TimeInForce = TimeInForce.GTC,
        post_only: bool = False,
        reduce_only: bool = False,
        strategy: str | None = None,
        tag: str = "",
    ) -> Order:
        order = Order(
            client_id=self.next_client_id(),
            venue=venue,
            symbol=symbol,
            side=side,
            size=size,
            type=order_type,
            price=price,
            time_in_force=time_in_force,
            post_only=post_only,
            reduce_only=reduce_only,
            strategy=strategy,
            created_ms=now_ms,
            updated_ms=now_ms,
            tag=tag,
        )
        self._orders[order.client_id] = order
        self._live[order.client_id] = order
        return order

    def adopt(
        self,
        *,
        venue: str,
        symbol: str,
        client_id: str,
        venue_order_id: str,
        side: Side,
        price: Decimal,
        size: Decimal,
        remaining: Decimal,
        post_only: bool,
        reduce_only: bool,
        strategy: str | None,
        tag: str,
        now_ms: int,
    ) -> Order:
        """Take over a resting order an earlier run left, keeping its client id."""
        order = Order(
            client_id=client_id,
            venue=venue,
            symbol=symbol,
            side=side,
            size=size,
            type=OrderType.LIMIT,
            price=price,
            time_in_force=TimeInForce.GTC,
            post_only=post_only,
            reduce_only=reduce_only,
            strategy=strategy,
            created_ms=now_ms,
            updated_ms=now_ms,
            tag=tag,
            status=OrderStatus.OPEN if remaining >= size else OrderStatus.PARTIALLY_FILLED,
            filled=max(ZERO, size - remaining),
            notional_filled=max(ZERO, size - remaining) * price,
            venue_order_id=venue_order_id,
            reason="adopted from an earlier run",
        )
        self._orders[client_id] = order
        self._live[client_id] = order
        self._by_venue_id[(venue, venue_order_id)] = client_id
        self._adopted.add(client_id)
        return order

    def restore(self, order: Order, now_ms: int) -> None:
        """Put back the record of an ended order ``prune`` forgot (rebuilt from the
        journal for a late fill); it is pruned again like any ended order."""
        if not order.status.is_terminal or order.client_id in self._orders:
            raise ValueError(f"order {order.client_id}: only a forgotten ended order comes back")
        self._orders[order.client_id] = order
        self._ended[order.client_id] = now_ms
        if order.venue_order_id:
            self._by_venue_id[(order.venue, order.venue_order_id)] = order.client_id

    # -- lookup ---------------------------------------------------------------

    def get(self, client_id: str) -> Order | None:
        return self._orders.get(client_id)

    def is_ours(self, client_id: str | None) -> bool:
        return client_id is not None and client_id in self._orders

    def forgotten(self, client_id: str | None) -> bool:
        """``client_id`` is an order of this run (created or adopted) whose record
        ``prune`` forgot."""
        if client_id is None or client_id in self._orders:
            return False
        if client_id in self._adopted:
            return True
        prefix, dash, number = client_id.rpartition("-")
        return (
            dash == "-"
            and prefix == self.run_prefix
            and number.isdigit()
            and 0 < int(number) <= self._counter
        )

    def live(
        self,
        *,
        venue: str | None = None,
        symbol: str | None = None,
        strategy: str | None = None,
    ) -> Iterator[Order]:
        for order in list(self._live.values()):
            if venue is not None and order.venue != venue:
                continue
            if symbol is not None and order.symbol != symbol:
                continue
            if strategy is not None and order.strategy != strategy:
                continue
            yield order

    def live_count(self) -> int:
        return len(self._live)

    def all(self) -> list[Order]:
        return list(self._orders.values())

    def open_size(
        self, venue: str, symbol: str, side: Side, exclude: Order | None = None
    ) -> Decimal:
        """Remaining size of our live orders on one side, for the projected position.

        Orders already being cancelled do not count: they are on their way out.
        """
        total = ZERO
        for order in self._live.values():
            if (
                order.venue == venue
                and order.symbol == symbol
                and order.side is side
                and not order.cancel_requested
                and order is not exclude
            ):
                total += order.remaining
        return total

    # -- transitions ----------------------------------------------------------

    def _transition(self, order: Order, status: OrderStatus, now_ms: int, reason: str = "") -> bool:
        if status is order.status and status is not OrderStatus.PARTIALLY_FILLED:
            return False
        if status not in _ALLOWED.get(order.status, frozenset()):
            log.debug(
                "order %s: ignoring %s -> %s", order.client_id, order.status.value, status.value
            )
            return False
        order.status = status
        order.updated_ms = now_ms
        if reason:
            order.reason = reason
        if status.is_terminal:
            self._live.pop(order.client_id, None)
            self._count_terminal(order, status)
            if status is not OrderStatus.LOST:
                self._ended[order.client_id] = now_ms
        return True

    def _tallies(self, order: Order) -> tuple[OrderCounters, OrderCounters]:
        """The run's counters and the order's market's (``by_market``)."""
        key = (order.venue, order.symbol, order.strategy or "")
        tally = self.by_market.get(key)
        if tally is None:
            tally = self.by_market[key] = OrderCounters()
        return self.counters, tally

    def _count_terminal(self, order: Order, status: OrderStatus) -> None:
        for c in self._tallies(order):
            if status is OrderStatus.FILLED:
                c.filled += 1
            elif status is OrderStatus.CANCELLED:
                c.cancelled += 1
            elif status is OrderStatus.REJECTED:
                c.rejected += 1
            elif status is OrderStatus.EXPIRED:
                c.expired += 1
            elif status is OrderStatus.LOST:
                c.lost += 1

    def reject(self, order: Order, reason: str, now_ms: int) -> bool:
        return self._transition(order, OrderStatus.REJECTED, now_ms, reason)

    def mark_sent(self, order: Order) -> None:
        for c in self._tallies(order):
            c.placed += 1

    def mark_amended(self, order: Order) -> None:
        """New terms taken (the venue's modify, or a restate before it left)."""
        order.amends += 1
        for c in self._tallies(order):
            c.amended += 1

    def mark_cancel_requested(self, order: Order, now_ms: int = 0) -> None:
        if not order.cancel_requested:
            order.cancel_requested = True
            order.cancel_requested_ms = now_ms
            for c in self._tallies(order):
                c.cancel_requests += 1

    def mark_outcome_unknown(self, order: Order, reason: str, now_ms: int) -> None:
        """The place's answer was lost: the order stays pending until a lookup by
        client id tells whether it landed (never resent: that could double it)."""
        if not order.outcome_unknown:
            order.outcome_unknown = True
            for c in self._tallies(order):
                c.unknown_outcomes += 1
        order.reason = reason
        order.updated_ms = order.answered_ms = now_ms

    def mark_lost(self, order: Order, reason: str, now_ms: int) -> bool:
        """The venue does not know the order: it ends as LOST (never a phantom)."""
        return self._transition(order, OrderStatus.LOST, now_ms, reason)

    def apply_ack(self, ack: OrderAck, now_ms: int) -> Order | None:
        order = self._orders.get(ack.client_id)
        if order is None:
            return None
        order.answered_ms = now_ms
        if ack.venue_order_id:
            self._remember_venue_id(order, ack.venue_order_id)
        if ack.status is OrderStatus.OPEN and order.status is not OrderStatus.PENDING:
            return order  # a fill or update already moved it on
        self._transition(order, ack.status, now_ms, ack.reason)
        return order

    def apply_update(self, update: OrderUpdate, now_ms: int) -> Order | None:
        order = self._resolve(update.venue, update.client_id, update.venue_order_id)
        if order is None:
            return None
        order.reported = True
        order.lookup_misses = 0
        if update.venue_order_id:
            self._remember_venue_id(order, update.venue_order_id)
        status = update.status
        if status is OrderStatus.FILLED and order.filled < order.size:
            # The venue says filled; the quantity arrives with the fills.
            order.reason = order.reason or "venue reports filled; awaiting fills"
            if order.status is OrderStatus.PENDING:
                self._transition(order, OrderStatus.OPEN, now_ms)
            return order
        if (
            update.remaining_size is not None
            and order.is_live
            and status in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)
            and order.filled + update.remaining_size < order.size
            and update.filled_size is not None
            and update.filled_size <= order.filled
        ):
            # The venue shrank the order (a reduce-only trimmed to the position).
            order.size = order.filled + update.remaining_size
            order.reason = update.reason or "venue reduced the order"
        if status is OrderStatus.PARTIALLY_FILLED:
            if order.status is OrderStatus.PENDING:
                self._transition(order, OrderStatus.OPEN, now_ms)
            return order
        self._transition(order, status, now_ms, update.reason)
        return order

    def apply_fill(self, fill: Fill, now_ms: int) -> Order | None:
        """Accumulate a fill; returns the order, or None when the fill is not ours."""
        order = self._resolve(fill.venue, fill.client_id, fill.venue_order_id)
        if order is None:
            return None
        if fill.trade_id and fill.trade_id in order.fill_ids:
            return None  # duplicate delivery
        if fill.trade_id:
            order.fill_ids.add(fill.trade_id)
        order.reported = True
        if fill.venue_order_id and order.venue_order_id is None:
            self._remember_venue_id(order, fill.venue_order_id)
        order.filled += fill.size
        order.notional_filled += fill.price * fill.size
        order.fees += fill.fee
        order.updated_ms = now_ms
        for c in self._tallies(order):
            c.fills += 1
        if order.filled > order.size:
            log.warning(
                "order %s: filled %s exceeds size %s", order.client_id, order.filled, order.size
            )
        if order.status.is_terminal:
            log.info(
                "order %s: late fill %s @ %s after %s",
                order.client_id,
                fill.size,
                fill.price,
                order.status.value,
            )
            return order
        if order.filled >= order.size:
            self._transition(order, OrderStatus.FILLED, now_ms)
        else:
            self._transition(order, OrderStatus.PARTIALLY_FILLED, now_ms)
        return order

    def _remember_venue_id(self, order: Order, venue_order_id: str) -> None:
        order.venue_order_id = venue_order_id
        self._by_venue_id[(order.venue, venue_order_id)] = order.client_id

    def resolve(
        self, venue: str, client_id: str | None, venue_order_id: str | None
    ) -> Order | None:
        """Our order a venue report is about: by the venue's order id first (unique
        at the venue), then by client id, never across venues."""
        if venue_order_id is not None:
            cid = self._by_venue_id.get((venue, venue_order_id))
            if cid is not None:
                return self._orders.get(cid)
        if client_id is not None:
            order = self._orders.get(client_id)
            if order is not None and order.venue == venue:
                if (
                    venue_order_id is not None
                    and order.venue_order_id is not None
                    and order.venue_order_id != venue_order_id
                ):
                    # another venue order carrying our client id (a venue that booked a
                    # duplicate): it is not this order
                    log.warning(
                        "%s: order %s reported for our client id %s, which is venue order %s",
                        venue,
                        venue_order_id,
                        client_id,
                        order.venue_order_id,
                    )
                    return None
                return order
        return None

    _resolve = resolve

    async def prune_every(
        self,
        interval_s: float,
        sleep: Callable[[float], Awaitable[object]],
        now_ms: Callable[[], int],
    ) -> None:
        """``prune`` every ``interval_s`` of the session clock (a background task)."""
        while True:
            await sleep(interval_s)
            self.prune(now_ms())

    def prune(
        self, now_ms: int, *, keep_terminal: int = KEEP_ENDED, min_age_ms: int = PRUNE_AFTER_MS
    ) -> int:
        """Forget orders that ended at least ``min_age_ms`` ago, beyond the newest
        ``keep_terminal`` ended ones (bounded memory over a long session: every order is
        journaled and counted when it ends). A late report of a forgotten order (a fill
        after its record is gone) moves the account at once and finds its order in the
        journal (``late_fills``). LOST orders are kept."""
        forgotten = 0
        while len(self._ended) > keep_terminal:
            client_id, ended_ms = next(iter(self._ended.items()))
            if now_ms - ended_ms < min_age_ms:
                break
            del self._ended[client_id]
            order = self._orders.pop(client_id, None)
            if order is not None and order.venue_order_id:
                self._by_venue_id.pop((order.venue, order.venue_order_id), None)
            forgotten += 1
        self.pruned += forgotten
        return forgotten
