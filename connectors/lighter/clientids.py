"""Core client ids <-> Lighter's 48-bit client order indexes (the run prefix and counter
packed by ``connectors.common.clientids.LIGHTER``); an id we listed in the venue's raw
form (another tool's order, or an earlier run we cannot name) is that number."""

from __future__ import annotations

from typing import Any

from connectors.common.clientids import ClientIdError, ClientIdMap
from connectors.common.errors import ErrorCode, VenueError
from connectors.lighter import wire


class ClientIndexes:
    def __init__(self, client_ids: ClientIdMap) -> None:
        self.client_ids = client_ids

    def to_index(self, client_id: str) -> int:
        """Our id's client order index; a raw index listed by the venue is itself."""
        if client_id.isdigit() and 0 < int(client_id) <= wire.MAX_CLIENT_ORDER_INDEX:
            return int(client_id)
        try:
            return self.client_ids.to_venue(client_id)
        except ClientIdError as exc:
            raise VenueError(str(exc), code=ErrorCode.INVALID_CLIENT_ID) from None

    def from_index(self, index: int) -> str:
        """A client order index in the core's form when its tag is a run prefix we know;
        otherwise the venue's number as it is (the form alone never proves an order is
        ours: the core matches ``venue_client_id`` against what it sent)."""
        decoded = self.client_ids.from_venue(index)
        if decoded is None or decoded.startswith("mm~"):
            return str(index)
        return decoded

    def of_order(self, o: dict[str, Any]) -> str | None:
        """The client id of one of the venue's orders, None when it has no client index."""
        index = wire.client_index(o)
        return self.from_index(index) if index is not None else None


__all__ = ["ClientIndexes"]
