"""A sim venue's records of its accounts' orders: each live order's record by order id
(and by account + client id), and the finished ones by account + client id, the last
``size`` of them (oldest forgotten first), for lookups; a record in the core's forms
(``OrderUpdate``, ``OpenOrder``, ``VenueOrder``)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal

from connectors.base import Instrument, OpenOrder, OrderStatus, OrderUpdate, Side, VenueOrder


@dataclass(slots=True)
class OrderRecord:
    account: str
    client_id: str
    symbol: str
    side: Side
    size_lots: int
    post_only: bool
    reduce_only: bool
    filled_lots: int = 0
    price: Decimal | None = None
    status: OrderStatus = OrderStatus.OPEN
    reason: str = ""

    def update(
        self,
        venue: str,
        order_id: int,
        inst: Instrument,
        status: OrderStatus,
        reason: str,
        ts_ms: int,
    ) -> OrderUpdate:
        return OrderUpdate(
            venue=venue,
            symbol=self.symbol,
            client_id=self.client_id,
            venue_order_id=str(order_id),
            status=status,
            filled_size=inst.lots_to_size(self.filled_lots),
            remaining_size=inst.lots_to_size(self.size_lots - self.filled_lots),
            reason=reason,
            ts_ms=ts_ms,
        )

    def open_order(
        self, venue: str, order_id: int, inst: Instrument, price_ticks: int, remaining_lots: int
    ) -> OpenOrder:
        return OpenOrder(
            venue=venue,
            symbol=self.symbol,
            client_id=self.client_id,
            venue_order_id=str(order_id),
            side=self.side,
            price=inst.ticks_to_price(price_ticks),
            size=inst.lots_to_size(self.size_lots),
            remaining_size=inst.lots_to_size(remaining_lots),
            post_only=self.post_only,
            reduce_only=self.reduce_only,
            venue_client_id=self.client_id,
        )

    def venue_order(self, venue: str, order_id: int, inst: Instrument) -> VenueOrder:
        return VenueOrder(
            venue=venue,
            symbol=self.symbol,
            client_id=self.client_id,
            venue_order_id=str(order_id),
            status=self.status,
            side=self.side,
            price=self.price,
            size=inst.lots_to_size(self.size_lots),
            filled_size=inst.lots_to_size(self.filled_lots),
            reason=self.reason,
        )


class OrderRecords:
    def __init__(self, size: int) -> None:
        self.size = size
        self.live: dict[int, OrderRecord] = {}
        """Order id -> the record of an order still on a book."""
        self._by_client: dict[tuple[str, str], int] = {}
        self._done: OrderedDict[tuple[str, str], tuple[int, OrderRecord]] = OrderedDict()
        """(account, client id) -> the finished order (bounded), for lookups."""

    def add(self, order_id: int, record: OrderRecord) -> None:
        self.live[order_id] = record
        self._by_client[(record.account, record.client_id)] = order_id

    def live_id(self, account: str, client_id: str) -> int | None:
        """The order id of the account's live order with this client id (the newest)."""
        return self._by_client.get((account, client_id))

    def finish(self, order_id: int, status: OrderStatus, reason: str) -> OrderRecord | None:
        """The order left the book: its record, finished; None when it was not live."""
        record = self.live.pop(order_id, None)
        if record is None:
            return None
        record.status, record.reason = status, reason
        key = (record.account, record.client_id)
        if self._by_client.get(key) == order_id:
            del self._by_client[key]
        self._done[key] = (order_id, record)
        self._done.move_to_end(key)
        while len(self._done) > self.size:
            self._done.popitem(last=False)
        return record

    def find(self, account: str, client_id: str) -> tuple[int, OrderRecord] | None:
        """The account's order with this client id, live or finished (the newest)."""
        order_id = self._by_client.get((account, client_id))
        if order_id is not None:
            record = self.live.get(order_id)
            if record is not None:
                return order_id, record
        return self._done.get((account, client_id))


__all__ = ["OrderRecord", "OrderRecords"]
