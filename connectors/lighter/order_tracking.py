"""What the Lighter connector knows of its orders between the venue's answers.

``sendTx`` returns no order index, so the connector follows its orders itself: the
creates it sent that the account's order stream has not shown yet (with their nonce,
until their ``ExpiredAt``), the exchange order indexes the stream shows live for each
client order index, and the markets where the stream showed orders at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from decimal import Decimal

from connectors.base import OrderStatus, OrderUpdate

TX_TTL_MS = 600_000
"""A transaction the sequencer has not executed by its ``ExpiredAt`` (the signer sets
now + 10 min) never will be."""
LOOKUP_PATIENCE_S = 3.0
"""How long a lookup waits for our own queued create to execute before it says it cannot
tell (a Standard account's orders execute in ~200-300 ms: NautilusTrader's tier table)."""


class OrderTracker:
    def __init__(
        self, executed: Callable[[int], Awaitable[bool]], now_ms: Callable[[], int]
    ) -> None:
        self._executed = executed
        """The signer's ``executed(nonce)``: has the sequencer applied that nonce."""
        self._now_ms = now_ms
        self.live: dict[int, set[str]] = {}
        """Client order index -> the exchange order indexes the stream shows live."""
        self.in_flight: dict[int, tuple[int, int | None]] = {}
        """Client order index -> (when we sent its create in ms, its nonce), until the
        stream shows the order."""
        self.filled: dict[int, Decimal] = {}
        """Client order index -> what its live order filled, as the stream last said (a
        modify's size is the order's new total: docs/venues/lighter.md)."""
        self.markets: set[int] = set()
        """Markets where the account's order stream showed orders (ours or not)."""
        self.snapshot = False
        """Whether this connection's order stream has sent its snapshot (every live
        order of the account)."""

    def sent(self, index: int, nonce: int | None = None) -> None:
        """Our create of ``index`` is on its way (its nonce once it is signed)."""
        now = self._now_ms()
        if len(self.in_flight) > 1000:
            for old in [i for i, (t, _) in self.in_flight.items() if now - t >= TX_TTL_MS]:
                del self.in_flight[old]
        self.in_flight[index] = (now, nonce)

    def refused(self, index: int) -> None:
        """The venue refused our create of ``index``: nothing is on its way."""
        self.in_flight.pop(index, None)

    def on_its_way(self, index: int) -> bool:
        """Our create of ``index`` was sent within its ``ExpiredAt`` and not seen yet."""
        sent = self.in_flight.get(index)
        return sent is not None and self._now_ms() - sent[0] < TX_TTL_MS

    async def queued(self, index: int) -> bool:
        """Whether our create of ``index`` may still be waiting for the sequencer: sent
        within its ``ExpiredAt`` and its nonce not executed after ``LOOKUP_PATIENCE_S``."""
        sent = self.in_flight.get(index)
        if sent is None or self._now_ms() - sent[0] >= TX_TTL_MS:
            return False
        nonce = sent[1]
        if nonce is None:
            return False  # never signed: never sent
        loop = asyncio.get_running_loop()
        end = loop.time() + LOOKUP_PATIENCE_S
        while not await self._executed(nonce):
            if loop.time() >= end:
                return True
            await asyncio.sleep(0.1)
        return False

    def seen(self, index: int | None, update: OrderUpdate) -> OrderUpdate:
        """The stream showed an order of client order ``index``: it is no longer on its
        way, and it is live or not. Returns the update as the core should see it."""
        if index is not None:
            self.in_flight.pop(index, None)
        live = self.live.get(index, set()) if index is not None else set()
        if update.status is OrderStatus.REJECTED and update.venue_order_id in live:
            # it rested first: a modify made it cross (post-only) -> cancelled
            update = replace(update, status=OrderStatus.CANCELLED)
        if index is not None and update.venue_order_id is not None:
            if update.status.is_terminal:
                live.discard(update.venue_order_id)
                if not live:
                    self.live.pop(index, None)
                    self.filled.pop(index, None)
            else:
                self.live.setdefault(index, set()).add(update.venue_order_id)
                if update.filled_size is not None:
                    self.filled[index] = update.filled_size
        return update


__all__ = ["LOOKUP_PATIENCE_S", "TX_TTL_MS", "OrderTracker"]
