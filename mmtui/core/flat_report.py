"""What a flatten leaves, said plainly: a strategy's share of a market, the venue's
position there, and whose the remainder is (another strategy's, or nobody's)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from connectors.base import ZERO


def describe_market(
    venue: str,
    symbol: str,
    account: Mapping[str, Decimal],
    books: Mapping[tuple[str, str], Decimal],
    strategy: str | None,
) -> str:
    """One market after a flatten, e.g. ``strategy perp_btc BTC-PERP: +0.000 (flat);
    venue sim BTC-PERP: +0.010 — another strategy's (mm_2 +0.010)``.

    ``account``: the venue's size per symbol as it reported it last; ``books``: every
    strategy's share per (strategy, symbol) on the venue."""
    size = account.get(symbol, ZERO)
    shares = {name: share for (name, s), share in books.items() if s == symbol and share != 0}
    parts = []
    if strategy is not None:
        mine = books.get((strategy, symbol), ZERO)
        parts.append(
            f"strategy {strategy} {symbol}: {mine:+} ({'flat' if mine == 0 else 'NOT flat'})"
        )
    venue_part = f"venue {venue} {symbol}: {size:+}"
    if size == 0 and not shares:
        parts.append(f"{venue_part} (flat)")
        return "; ".join(parts)
    others = {n: v for n, v in shares.items() if n != strategy}
    unattributed = size - sum(shares.values(), ZERO)
    whose = []
    if others:
        listed = ", ".join(f"{n} {v:+}" for n, v in sorted(others.items()))
        whose.append(f"other strategies' ({listed})")
    if unattributed != 0:
        whose.append(f"{unattributed:+} not ours (no strategy holds it)")
    if strategy is not None and shares.get(strategy):
        whose.append(f"{shares[strategy]:+} {strategy}'s")
    parts.append(f"{venue_part} — " + ", ".join(whose) if whose else venue_part)
    return "; ".join(parts)
