"""What the console shows of each venue beyond orders and positions: the account as
the venue states it (polled through the gateway, never on the hot path), the funding
it settled on us, the public trade tape of the books we follow, and order round
trips. Nothing here trades; a venue that cannot say leaves its last reading and
the reason."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Mapping
from decimal import Decimal

from connectors.base import (
    ZERO,
    AccountReader,
    AccountState,
    FundingPayment,
    Trade,
    VenueError,
)
from mmtui.core.clock import Clock
from mmtui.core.gateway import VenueGateway
from mmtui.core.markets import Markets
from mmtui.core.ratelimit import Priority

log = logging.getLogger("mmtui.venue_watch")

TAPE_SIZE = 200
FUNDING_KEPT = 200


class VenueWatch:
    def __init__(
        self,
        *,
        clock: Clock,
        markets: Markets,
        gateways: Mapping[str, VenueGateway],
        note_event: Callable[[str, str], None],
        symbols: Callable[[str], list[str]],
        interval_s: float = 5.0,
    ) -> None:
        self._clock = clock
        self._markets = markets
        self._gateways = gateways
        self._note_event = note_event
        self._symbols = symbols
        """Venue -> the symbols we follow there (the account is read for them)."""
        self.interval_s = interval_s
        self.accounts: dict[str, AccountState] = {}
        self.account_errors: dict[str, str] = {}
        self.funding: dict[str, deque[FundingPayment]] = {}
        self.funding_total: dict[tuple[str, str], Decimal] = {}
        """(venue, symbol) -> funding settled on us this session (negative: paid)."""
        self.tapes: dict[tuple[str, str], deque[Trade]] = {}
        self._rereads: set[asyncio.Task[None]] = set()
        self._read_ms: dict[str, int] = {}

    # -- events ---------------------------------------------------------------

    def on_trade(self, trade: Trade) -> None:
        key = (trade.venue, trade.symbol)
        tape = self.tapes.get(key)
        if tape is None:
            tape = self.tapes[key] = deque(maxlen=TAPE_SIZE)
        tape.append(trade)

    def on_funding(self, payment: FundingPayment) -> None:
        kept = self.funding.setdefault(payment.venue, deque(maxlen=FUNDING_KEPT))
        kept.append(payment)
        key = (payment.venue, payment.symbol)
        self.funding_total[key] = self.funding_total.get(key, ZERO) + payment.amount
        self._reread()  # the account's figures changed: show them now, not at the next poll
        verb = "received" if payment.amount >= 0 else "paid"
        self._note_event(
            "funding",
            f"{payment.venue} {payment.symbol}: {verb} {abs(payment.amount):.4f} "
            f"at {payment.rate * 100:.4f}% on {payment.position_size:+}",
        )

    # -- polling --------------------------------------------------------------

    def _reread(self) -> None:
        if self._rereads:
            return  # one is on its way
        task = asyncio.get_running_loop().create_task(self.refresh(), name="account reread")
        self._rereads.add(task)
        task.add_done_callback(self._rereads.discard)

    def readers(self) -> dict[str, AccountReader]:
        return {
            name: conn
            for name, conn in self._markets.connectors.items()
            if isinstance(conn, AccountReader)
        }

    async def refresh(self, *, due_only: bool = False) -> None:
        """Read every venue's account once (rate-limited as a query); ``due_only``: only
        those whose own interval (a connector's ``account_poll_s``, else the watch's)
        has passed since their last reading."""
        now = self._clock.now_ms()
        for name, conn in self.readers().items():
            every_ms = 1000 * getattr(conn, "account_poll_s", self.interval_s)
            if due_only and now - self._read_ms.get(name, -every_ms) < every_ms:
                continue
            self._read_ms[name] = now
            symbols = self._symbols(name)
            try:
                state = await self._gateways[name].call(
                    "account", Priority.QUERY, lambda c=conn, s=symbols: c.read_account(s)
                )
            except VenueError as exc:
                self._failed(name, str(exc))
                continue
            except Exception as exc:  # a connector bug: this view goes stale, nothing else
                reason = f"connector error: {exc!r}"
                if self.account_errors.get(name) != reason:
                    log.exception("%s: reading the account raised", name)
                self.account_errors[name] = reason
                continue
            self.accounts[name] = state
            self.account_errors.pop(name, None)

    def _failed(self, venue: str, reason: str) -> None:
        if self.account_errors.get(venue) != reason:
            log.warning("%s: account not read: %s", venue, reason)
        self.account_errors[venue] = reason

    async def run(self) -> None:
        while True:
            await self.refresh(due_only=True)
            await self._clock.sleep(self.interval_s)

    def gateway(self, venue: str) -> VenueGateway | None:
        return self._gateways.get(venue)

    def round_trips(self, venue: str) -> tuple[int, ...]:
        gateway = self._gateways.get(venue)
        return tuple(gateway.round_trips) if gateway is not None else ()


def percentile(samples: tuple[int, ...], q: float) -> int | None:
    """The nearest-rank ``q`` quantile (0 < q <= 1) of ``samples``; None without any."""
    if not samples:
        return None
    ordered = sorted(samples)
    rank = max(1, -(-len(ordered) * q // 1))
    return ordered[int(rank) - 1]


__all__ = ["VenueWatch", "percentile"]
