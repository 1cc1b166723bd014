"""A venue's public feed only: books and trades, no keys, nothing private.

Every venue connector can run without keys (``keys=None``): it connects, reads the
markets, keeps books and public trades, and opens no private stream, signs nothing
and arms no dead-man's switch. ``PublicFeed`` wraps such a connector so that what
is left of the ``Connector`` protocol — orders, lists, positions, balances — is
refused the same way on every venue, at once and in one line: a recorder or a paper
venue can never send an order or read an account by mistake.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

from connectors.base import (
    Balance,
    ConnectionState,
    ConnectorStats,
    EventSink,
    Fill,
    Instrument,
    OpenOrder,
    OrderAck,
    OrderRequest,
    Position,
    VenueOrder,
)
from connectors.common.errors import ErrorCode, VenueError

if TYPE_CHECKING:
    from connectors.book import OrderBook

PUBLIC_ONLY = "public feed only: no keys"


def public_only_error(venue: str, what: str) -> VenueError:
    """The refusal of a private call on a public feed (not retryable)."""
    return VenueError(f"{venue}: {what}: {PUBLIC_ONLY}", code=ErrorCode.NO_KEYS)


class PublicFeed:
    """The public half of ``inner`` (a connector built without keys): ``connect``,
    ``instruments``, ``subscribe_books``, ``book`` and the events (``BookChanged``,
    ``Trade``, ``ConnectionChanged``) pass through; every private call raises
    ``VenueError`` (``ErrorCode.NO_KEYS``, "public feed only: no keys")."""

    def __init__(self, inner: Any) -> None:
        keys = getattr(inner, "keys", None)
        if keys is not None:
            raise ValueError(f"{inner.name}: a public feed is built without keys")
        self.inner = inner
        self.name: str = inner.name
        self.stats: ConnectorStats = inner.stats

    # -- the public half ------------------------------------------------------------

    @property
    def state(self) -> ConnectionState:
        return self.inner.state

    async def connect(self, sink: EventSink) -> None:
        await self.inner.connect(sink)

    async def close(self) -> None:
        await self.inner.close()

    async def instruments(self) -> dict[str, Instrument]:
        return await self.inner.instruments()

    async def subscribe_books(self, symbols: list[str]) -> None:
        await self.inner.subscribe_books(symbols)

    def book(self, symbol: str) -> OrderBook | None:
        return self.inner.book(symbol)

    # -- everything private: refused -----------------------------------------------

    def _refuse(self, what: str) -> NoReturn:
        raise public_only_error(self.name, what)

    async def place(self, request: OrderRequest) -> OrderAck:
        self._refuse(f"place {request.client_id}")

    async def cancel(self, symbol: str, client_id: str) -> bool:
        self._refuse(f"cancel {client_id}")

    async def cancel_all(
        self, symbol: str | None = None, client_id_prefix: str | None = None
    ) -> int:
        self._refuse("cancel all")

    async def open_orders(self, symbol: str | None = None) -> list[OpenOrder]:
        self._refuse("open orders")

    async def lookup_order(self, symbol: str, client_id: str) -> VenueOrder | None:
        self._refuse(f"lookup {client_id}")

    async def fills_since(self, since_ms: int, symbol: str | None = None) -> list[Fill]:
        self._refuse("fill history")

    def venue_client_id(self, client_id: str) -> str:
        self._refuse("client ids")

    async def positions(self) -> list[Position]:
        self._refuse("positions")

    async def balances(self) -> list[Balance]:
        self._refuse("balances")


__all__ = ["PUBLIC_ONLY", "PublicFeed", "public_only_error"]
