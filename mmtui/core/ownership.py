"""Which of the orders a venue lists are ours — proven, never guessed.

mmtui touches only orders it can prove are its own. A client id's form proves
nothing where the venue's id space is shared with other tools (Backpack's
uint32 ids: Hummingbot uses 32-bit ids too; a foreign id can decode to our run
tag). The proof is what we sent: this run's order manager, or the journal's
record of an earlier run's order with the same wire client id, on the same
venue, market and side. Everything else is another tool's: listed, shown,
never cancelled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from connectors.base import OpenOrder
from mmtui.core.orders import Order, OrderManager


class SentRecords(Protocol):
    """The journal's record of what we sent (``Journal.sent_orders``)."""

    def sent_orders(
        self, venue: str, venue_client_ids: list[str]
    ) -> dict[str, dict[str, object]]: ...


@dataclass(frozen=True, slots=True)
class EarlierOrder:
    """A resting order an earlier run of ours placed (proven by the journal)."""

    listed: OpenOrder
    client_id: str
    strategy: str | None
    tag: str


@dataclass(slots=True)
class Listing:
    """One venue's open orders, sorted by owner."""

    this_run: list[tuple[OpenOrder, Order]]
    earlier: list[EarlierOrder]
    foreign: list[OpenOrder]


def this_runs(orders: OrderManager, venue: str, listed: OpenOrder) -> Order | None:
    """Our order of this run that ``listed`` is, if it is one (same wire id as sent)."""
    order = orders.resolve(venue, listed.client_id, listed.venue_order_id)
    if order is None:
        return None
    if (
        order.venue_client_id is not None
        and listed.venue_client_id is not None
        and order.venue_client_id != listed.venue_client_id
    ):
        return None
    if order.symbol != listed.symbol or order.side is not listed.side:
        return None
    return order


async def sort_listing(
    venue: str,
    listed: Iterable[OpenOrder],
    orders: OrderManager,
    journal: SentRecords | None,
) -> Listing:
    """Split a venue's open orders into this run's, earlier runs' and other tools'."""
    out = Listing([], [], [])
    unknown: list[OpenOrder] = []
    for o in listed:
        order = this_runs(orders, venue, o)
        if order is not None:
            out.this_run.append((o, order))
        else:
            unknown.append(o)
    wire_ids = sorted({o.venue_client_id for o in unknown if o.venue_client_id})
    sent: dict[str, dict[str, object]] = {}
    if journal is not None and wire_ids:
        sent = await asyncio.to_thread(journal.sent_orders, venue, wire_ids)
    for o in unknown:
        row = sent.get(o.venue_client_id or "")
        if row is not None and row["symbol"] == o.symbol and row["side"] == o.side.value:
            strategy = row.get("strategy")
            out.earlier.append(
                EarlierOrder(
                    listed=o,
                    client_id=str(row["client_id"]),
                    strategy=None if strategy is None else str(strategy),
                    tag=str(row.get("tag") or ""),
                )
            )
        else:
            out.foreign.append(o)
    return out


__all__ = ["EarlierOrder", "Listing", "SentRecords", "sort_listing", "this_runs"]
