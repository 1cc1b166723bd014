"""The Lighter markets a connector trades: the active perps of ``orderBookDetails``, by
symbol and by market id, each with its ``Instrument`` (tick = 10^-price_decimals,
step = 10^-size_decimals, minimum size and notional from the venue)."""

from __future__ import annotations

import logging
from typing import Any

from connectors.base import Instrument
from connectors.common.errors import ErrorCode, VenueError
from connectors.lighter import wire

log = logging.getLogger("connectors.lighter")


class LighterMarkets:
    def __init__(self, venue: str) -> None:
        self.venue = venue
        self.by_symbol: dict[str, wire.Market] = {}
        self.by_id: dict[int, wire.Market] = {}
        self.instruments: dict[str, Instrument] = {}

    def load(self, details: Any) -> None:
        """Every active perp of an ``orderBookDetails`` answer; an entry that cannot be
        read is skipped (logged), the others still count."""
        for d in wire.items(details, "order_book_details"):
            try:
                if not isinstance(d, dict) or not wire.is_perp(d):
                    continue
                m = wire.market_from_wire(d)
            except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
                log.warning("%s: market skipped (%r): %s", self.venue, exc, d)
                continue
            self.by_symbol[m.symbol] = m
            self.by_id[m.market_id] = m
            self.instruments[m.symbol] = wire.instrument(self.venue, m)

    def market(self, symbol: str) -> wire.Market:
        m = self.by_symbol.get(symbol)
        if m is None:
            raise VenueError(
                f"{self.venue}: unknown symbol {symbol!r}", code=ErrorCode.UNKNOWN_SYMBOL
            )
        return m

    def all(self) -> list[wire.Market]:
        """Every market, by market id."""
        return sorted(self.by_id.values(), key=lambda x: x.market_id)


__all__ = ["LighterMarkets"]
