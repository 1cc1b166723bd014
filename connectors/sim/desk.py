"""What an account sees of a local venue, the same on the sim (``SimVenue``) and the
replay / paper venue (``connectors.replay.venue.QueueVenue``): its instruments, its
orders looked up by client id, its fills, positions and balances, the listeners of its
events, and the order ids and updates the venue hands out.

A venue using it sets ``name``, ``now_ms``, ``accounts`` (``SimAccounts``), ``_orders``
(``OrderRecords``), ``_markets`` (symbol -> a market with an ``instrument``) and
``_next_order_id``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from connectors.base import (
    Balance,
    Fill,
    Instrument,
    OrderStatus,
    OrderUpdate,
    Position,
    VenueOrder,
)
from connectors.sim.accounts import AccountListener, SimAccounts
from connectors.sim.orders import OrderRecord, OrderRecords


class VenueDesk:
    name: str
    now_ms: int
    accounts: SimAccounts
    _orders: OrderRecords
    _markets: dict[str, Any]
    _next_order_id: int

    @property
    def history_size(self) -> int:
        """How many finished orders the venue remembers."""
        return self._orders.size

    @property
    def fill_history_size(self) -> int:
        """How many fills per account the venue remembers."""
        return self.accounts.history_size

    @property
    def collateral_asset(self) -> str:
        return self.accounts.collateral_asset

    @property
    def starting_collateral(self) -> Decimal:
        return self.accounts.starting_collateral

    @property
    def instruments(self) -> dict[str, Instrument]:
        return {s: m.instrument for s, m in self._markets.items()}

    def on_account(self, account: str, listener: AccountListener) -> None:
        self.accounts.on_event(account, listener)

    def remove_account_listener(self, account: str, listener: AccountListener) -> None:
        self.accounts.remove_listener(account, listener)

    def lookup(self, account: str, client_id: str) -> VenueOrder | None:
        """The account's order with this client id, live or finished (the newest); on the
        replay venue PENDING while it is on its way to the book."""
        found = self._orders.find(account, client_id)
        if found is None:
            return None
        order_id, record = found
        return record.venue_order(self.name, order_id, self._markets[record.symbol].instrument)

    def fills_since(self, account: str, since_ms: int, symbol: str | None = None) -> list[Fill]:
        """The account's fills at or after ``since_ms``, oldest first."""
        return self.accounts.fills_since(account, since_ms, symbol)

    def positions(self, account: str) -> list[Position]:
        return self.accounts.positions(account)

    def balances(self, account: str) -> list[Balance]:
        return self.accounts.balances(account)

    def _update(
        self, record: OrderRecord, order_id: int, status: OrderStatus, reason: str = ""
    ) -> OrderUpdate:
        inst = self._markets[record.symbol].instrument
        return record.update(self.name, order_id, inst, status, reason, self.now_ms)

    def _new_order_id(self) -> int:
        order_id = self._next_order_id
        self._next_order_id += 1
        return order_id

    def _market(self, symbol: str) -> Any:
        m = self._markets.get(symbol)
        if m is None:
            raise KeyError(f"{self.name}: unknown symbol {symbol!r}")
        return m


__all__ = ["VenueDesk"]
