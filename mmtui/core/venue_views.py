"""The read model's views of the venues beyond orders and positions: accounts and
funding, health, the trade tape, PnL over time and a strategy's parameters. Built
on request from ``VenueWatch``, ``PnlHistory`` and ``ParamEditor``; frozen, shared
with nothing that changes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from connectors.base import AccountState, ConnectionState, FundingPayment, Trade
from mmtui.core.markets import Markets
from mmtui.core.venue_watch import VenueWatch, percentile


@dataclass(frozen=True, slots=True)
class AccountView:
    venue: str
    account: AccountState | None
    """The venue's last reading (None: never read, or the venue cannot say)."""
    error: str
    """Why the last reading failed ('' when it did not)."""
    supported: bool
    """The venue's connector reads accounts at all."""
    funding: tuple[tuple[str, Decimal], ...]
    """(symbol, funding settled on us this session; negative: paid)."""
    payments: tuple[FundingPayment, ...]
    """The latest settlements, oldest first."""


@dataclass(frozen=True, slots=True)
class BookAge:
    symbol: str
    age_ms: int | None
    valid: bool


@dataclass(frozen=True, slots=True)
class HealthView:
    venue: str
    state: ConnectionState
    detail: str
    round_trip_p50_ms: int | None
    round_trip_p99_ms: int | None
    round_trips: int
    rate_limit_used_pct: float | None
    """Share of the rate limiter's bucket spent now (None: no limiter)."""
    rate_limit_waiting: int
    rate_limit_backoff_s: float
    reconnects: int
    resyncs: int
    frames: int
    bad_frames: int
    books: tuple[BookAge, ...]
    counters: tuple[tuple[str, float], ...] = ()
    """The connector's own counters (``ConnectorStats.extra``: auth tokens, unknown
    frames, signing time ...)."""


@dataclass(frozen=True, slots=True)
class SessionInfo:
    run_id: str
    mode: str
    started_ms: int
    now_ms: int
    config_path: str
    journal_path: str

    @property
    def uptime_s(self) -> float:
        return max(0, self.now_ms - self.started_ms) / 1000 if self.started_ms else 0.0


def account_views(markets: Markets, watch: VenueWatch) -> tuple[AccountView, ...]:
    readers = watch.readers()
    out = []
    for venue in markets.connectors:
        funding = tuple(
            (symbol, amount)
            for (v, symbol), amount in sorted(watch.funding_total.items())
            if v == venue
        )
        out.append(
            AccountView(
                venue=venue,
                account=watch.accounts.get(venue),
                error=watch.account_errors.get(venue, ""),
                supported=venue in readers,
                funding=funding,
                payments=tuple(watch.funding.get(venue, ())),
            )
        )
    return tuple(out)


def health_views(
    markets: Markets, watch: VenueWatch, subscribed: Callable[[], set[tuple[str, str]]], now_ms: int
) -> tuple[HealthView, ...]:
    out = []
    followed = subscribed()
    for venue, conn in markets.connectors.items():
        status = markets.status[venue]
        trips = watch.round_trips(venue)
        gateway = watch.gateway(venue)
        limiter = gateway.limiter if gateway is not None else None
        used = waiting = None
        backoff = 0.0
        if limiter is not None:
            snap = limiter.snapshot()
            used = 100.0 * (1 - snap.tokens / snap.ceiling) if snap.ceiling else None
            waiting, backoff = snap.waiting, snap.backoff_remaining_s
        books = []
        for v, symbol in sorted(followed):
            if v != venue:
                continue
            book = markets.book(venue, symbol)
            books.append(
                BookAge(
                    symbol,
                    book.age_ms(now_ms) if book is not None else None,
                    book is not None and book.is_valid(),
                )
            )
        out.append(
            HealthView(
                venue=venue,
                state=status.state,
                detail=status.detail,
                round_trip_p50_ms=percentile(trips, 0.5),
                round_trip_p99_ms=percentile(trips, 0.99),
                round_trips=len(trips),
                rate_limit_used_pct=used,
                rate_limit_waiting=waiting or 0,
                rate_limit_backoff_s=backoff,
                reconnects=conn.stats.reconnects,
                resyncs=conn.stats.resyncs,
                frames=conn.stats.frames,
                bad_frames=conn.stats.bad_frames,
                books=tuple(books),
                counters=tuple(sorted(conn.stats.extra.items())),
            )
        )
    return tuple(out)


def tape(watch: VenueWatch, venue: str, symbol: str, limit: int) -> tuple[Trade, ...]:
    """The latest public trades on one market, newest first."""
    trades = watch.tapes.get((venue, symbol), ())
    return tuple(reversed(tuple(trades)[-limit:])) if limit > 0 else ()


__all__ = [
    "AccountView",
    "BookAge",
    "HealthView",
    "SessionInfo",
    "account_views",
    "health_views",
    "tape",
]
