"""Account events from the sim venue to a dialect's private streams.

Every emulator listens to the same three kinds of account event (an order
changed, a fill, a position) for each of its accounts and turns each into its
venue's private frames. ``AccountFanout`` owns that listening: it routes each
event to the dialect's handler, keeps one failing handler from taking the
others down, and runs the fault that closes the sockets right before a fill is
pushed (the fill then exists only in the venue's history, as when a venue drops
a connection at the wrong moment).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from connectors.base import Event, Fill, OrderUpdate, Position
from connectors.emulation.faults import FaultState
from connectors.sim.venue import SimVenue

log = logging.getLogger("connectors.emulation.accounts")

A = TypeVar("A")
"""The dialect's own account handle (a name, an index, a user record)."""


class AccountFanout(Generic[A]):
    def __init__(
        self,
        venue: SimVenue,
        faults: FaultState,
        *,
        on_order: Callable[[A, OrderUpdate], None],
        on_fill: Callable[[A, Fill], None],
        on_position: Callable[[A, Position], None],
        drop_sockets: Callable[[], int],
        label: str = "emulator",
    ) -> None:
        self.venue = venue
        self.faults = faults
        self._on_order = on_order
        self._on_fill = on_fill
        self._on_position = on_position
        self._drop_sockets = drop_sockets
        """Drop every WebSocket at once, synchronously (``SocketSet.abort_all``)."""
        self.label = label
        self._listeners: dict[str, Callable[[Event], None]] = {}
        self.failures = 0

    def attach(self, sim_account: str, handle: A) -> None:
        """Route ``sim_account``'s events to the handlers with ``handle``."""
        if sim_account in self._listeners:
            return

        def listener(event: Event) -> None:
            self.route(handle, event)

        self._listeners[sim_account] = listener
        self.venue.on_account(sim_account, listener)

    def detach(self, sim_account: str) -> None:
        listener = self._listeners.pop(sim_account, None)
        if listener is not None:
            self.venue.remove_account_listener(sim_account, listener)

    def route(self, handle: A, event: Event) -> None:
        try:
            if isinstance(event, OrderUpdate):
                self._on_order(handle, event)
            elif isinstance(event, Fill):
                if self.faults.take_close_on_fill():
                    dropped = self._drop_sockets()
                    log.info(
                        "%s: dropped %d sockets right before a fill (fault)", self.label, dropped
                    )
                self._on_fill(handle, event)
            elif isinstance(event, Position):
                self._on_position(handle, event)
        except Exception:
            self.failures += 1
            log.exception("%s: account event failed (%r: %r)", self.label, handle, event)


def sim_mid(venue: SimVenue, symbol: str) -> Any:
    """The sim book's mid as a Decimal (None when a side is empty)."""
    bids, asks, _ = venue.snapshot(symbol, 1)
    if not bids or not asks:
        return None
    inst = venue.instruments[symbol]
    return inst.ticks_to_price(bids[0][0] + asks[0][0]) / 2


__all__ = ["AccountFanout", "sim_mid"]
