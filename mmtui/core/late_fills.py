"""Late fills: a fill of an order of ours whose record was already pruned.

``OrderManager.prune`` forgets an ended order's record after ``PRUNE_AFTER_MS``
(bounded memory over a long session). A fill can still be reported later — a
fill history read after a long reconnect, a venue whose fill channel lags its
order channel. Such a fill carries this run's client id, so it is provably ours:

* the account's position moves at once (``OrderPath`` applies it before asking);
* the order is rebuilt from the journal (its last row and this run's fills of it,
  read off the loop); if the fill names the same market, side and venue order (the
  id's form alone proves nothing: Backpack's uint32 client ids are shared with
  other tools), the order is put back as an ended record and the fill booked to
  it as any late fill is: the strategy's share, the journal rows, the strategy's
  ``on_fill``;
* fills of the same order arriving while it is looked up wait for it, in order.

No journal, a journal that does not know the order, a fill of another order, or a
read that fails: the fill stays booked to the account only, as a fill of no order of ours (logged at
WARNING with the reason, journaled, counted).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Mapping
from decimal import Decimal

from connectors.base import ZERO, Fill, OrderStatus, OrderType, Side, TimeInForce
from mmtui.core.journal import Journal, writable
from mmtui.core.orders import Order, OrderManager

log = logging.getLogger("mmtui.engine")

SETTLE_TIMEOUT_S = 5.0
"""How long a shutdown waits for lookups in flight before booking their fills to the
account only."""


def rebuild(row: Mapping[str, object]) -> Order | None:
    """An ended order from its last journal row (``Journal.order_state``); None when
    the row does not describe an ended order (a forgotten order always ended)."""
    try:
        status = OrderStatus(str(row["status"]))
        order_type = OrderType(str(row["order_type"]))
        side = Side(str(row["side"]))
    except ValueError:
        return None
    if not status.is_terminal:
        return None
    price = row["price"]
    size = row["size"]
    filled = row["filled"]
    if not isinstance(size, Decimal) or not isinstance(filled, Decimal):
        return None
    fills = row.get("fills")
    fill_rows = fills if isinstance(fills, list) else []
    notional = sum((_dec(f, "price") * _dec(f, "size") for f in fill_rows), ZERO)
    seen = sum((_dec(f, "size") for f in fill_rows), ZERO)
    if filled > seen and isinstance(price, Decimal):
        notional += (filled - seen) * price  # filled in an earlier run (an adopted order)
    filled = max(filled, seen)
    strategy = row["strategy"]
    venue_order_id = row["venue_order_id"]
    venue_client_id = row["venue_client_id"]
    return Order(
        client_id=str(row["client_id"]),
        venue=str(row["venue"]),
        symbol=str(row["symbol"]),
        side=side,
        size=size,
        type=order_type,
        price=price if isinstance(price, Decimal) else None,
        time_in_force=TimeInForce.GTC,  # not journaled; the order has ended either way
        post_only=bool(row["post_only"]),
        reduce_only=bool(row["reduce_only"]),
        strategy=None if strategy is None else str(strategy),
        created_ms=int(str(row["ts_ms"])),
        status=status,
        filled=filled,
        notional_filled=notional,
        fees=sum((_dec(f, "fee") for f in fill_rows), ZERO),
        venue_order_id=None if venue_order_id is None else str(venue_order_id),
        reason=str(row["reason"]),
        updated_ms=int(str(row["ts_ms"])),
        tag=str(row["tag"]),
        fill_ids={str(f["trade_id"]) for f in fill_rows if f.get("trade_id")},
        venue_client_id=None if venue_client_id is None else str(venue_client_id),
        reported=True,
    )


def _differs(order: Order, fill: Fill) -> str:
    """Why ``fill`` is not of ``order`` though it carries its client id ("" if it is):
    the id's form proves nothing (a venue's client id space can be shared with other
    tools), so the fill must name the same market and side, and the same venue order
    where both know it."""
    if (fill.venue, fill.symbol, fill.side) != (order.venue, order.symbol, order.side):
        return (
            f"the journal's {order.client_id} is {order.venue} {order.symbol} "
            f"{order.side.value}: a different order"
        )
    if fill.venue_order_id and order.venue_order_id and fill.venue_order_id != order.venue_order_id:
        return (
            f"the journal's {order.client_id} is venue order {order.venue_order_id}, "
            f"the fill's {fill.venue_order_id}: a different order"
        )
    return ""


def _dec(row: Mapping[str, object], key: str) -> Decimal:
    value = row.get(key)
    return value if isinstance(value, Decimal) else ZERO


class LateFills:
    """Finds forgotten orders of ours in the journal for the fills that name them."""

    def __init__(
        self,
        *,
        orders: OrderManager,
        journal: Journal | None,
        now_ms: Callable[[], int],
        book: Callable[[Fill, Order | None, str], None],
    ) -> None:
        """``book(fill, order, why)``: settle a fill whose account share is applied
        already — to ``order`` (rebuilt, back in the order manager), or, when None, to
        no order of ours for the reason ``why``."""
        self._orders = orders
        self._journal = journal
        self._now_ms = now_ms
        self._book = book
        self._waiting: dict[str, list[Fill]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.found = 0
        """Late fills booked to an order rebuilt from the journal."""

    def wants(self, fill: Fill) -> bool:
        """``fill`` names an order of this run whose record is forgotten."""
        return self._orders.forgotten(fill.client_id)

    def find(self, fill: Fill) -> None:
        """Look the fill's order up (once per order) and book the fill to it."""
        client_id = fill.client_id
        assert client_id is not None  # wants() said so
        waiting = self._waiting.get(client_id)
        if waiting is not None:
            waiting.append(fill)  # its order is being looked up: booked after, in order
            return
        journal = self._journal
        if not writable(journal):
            self._book(fill, None, "its record was pruned and no journal is open to find it")
            return
        self._waiting[client_id] = [fill]
        log.info("late fill of forgotten order %s: looking it up in the journal", client_id)
        self._tasks[client_id] = asyncio.get_running_loop().create_task(
            self._look_up(journal, client_id), name=f"late fill {client_id}"
        )

    async def _look_up(self, journal: Journal, client_id: str) -> None:
        why = "the journal has no ended order with this client id"
        order: Order | None = None
        try:
            # its last row may still be queued for the writer
            await asyncio.to_thread(journal.flush)
            row = await asyncio.to_thread(journal.order_state, client_id)
            if row is not None:
                order = rebuild(row)
        except (sqlite3.Error, OSError, ArithmeticError, ValueError) as exc:
            why = f"reading the journal failed: {exc}"
            log.error("late fill of forgotten order %s: %s", client_id, why)
        finally:
            self._tasks.pop(client_id, None)
        self._settle(client_id, order, why)

    def _settle(self, client_id: str, order: Order | None, why: str) -> None:
        fills = self._waiting.pop(client_id, [])
        for fill in fills:
            differs = _differs(order, fill) if order is not None else why
            if differs:
                self._book(fill, None, differs)
                continue
            assert order is not None
            if self._orders.get(client_id) is None:
                self._orders.restore(order, self._now_ms())
            self.found += 1
            self._book(fill, order, "")

    async def settle_all(self, timeout: float = SETTLE_TIMEOUT_S) -> None:
        """At shutdown: let lookups in flight finish (bounded), then book what still
        waits to the account only (the journal is about to close)."""
        tasks = list(self._tasks.values())
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        for client_id, task in list(self._tasks.items()):
            task.cancel()
            self._tasks.pop(client_id, None)
        for client_id in list(self._waiting):
            self._settle(client_id, None, "shutting down before the journal answered")
