"""The venues the engine trades on: their connectors, the instruments they list,
and what each connection last reported. Every part of the core looks markets
up here (an unknown market is an ``EngineError``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from connectors.base import Balance, ConnectionState, Connector, Instrument, Position, Trade
from connectors.book import OrderBook


class EngineError(Exception):
    """The engine cannot do what was asked (bad name, not started, ...)."""


@dataclass(slots=True)
class VenueStatus:
    state: ConnectionState = ConnectionState.DISCONNECTED
    detail: str = ""
    venue_positions: dict[str, Position] = field(default_factory=dict)
    balances: dict[str, Balance] = field(default_factory=dict)
    last_trade: Trade | None = None


class Markets:
    """Connectors by venue name, instruments by (venue, symbol), status by venue."""

    def __init__(self, connectors: dict[str, Connector]) -> None:
        self.connectors = dict(connectors)
        self.instruments: dict[tuple[str, str], Instrument] = {}
        self.status: dict[str, VenueStatus] = {name: VenueStatus() for name in connectors}

    def instrument(self, venue: str, symbol: str) -> Instrument:
        try:
            return self.instruments[(venue, symbol)]
        except KeyError:
            raise EngineError(f"unknown market {venue}/{symbol}") from None

    def book(self, venue: str, symbol: str) -> OrderBook | None:
        conn = self.connectors.get(venue)
        return conn.book(symbol) if conn is not None else None

    def mark(self, venue: str, symbol: str) -> Decimal | None:
        book = self.book(venue, symbol)
        return book.mid() if book is not None and book.is_valid() else None
