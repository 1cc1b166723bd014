"""Pairing markets across venues: which markets two venues share, one order
size (in base units) that both venues accept, and each market's mid.

Venue symbol formats differ (``BTC_USDC_PERP``, ``BTC``, ``BTC-PERP``...), so
markets are matched by the instrument's ``base`` and ``quote`` assets, never by
the symbol text. A venue that does not name the quote (a bare ``BTC``) is
taken to quote in USD-like collateral: USD, USDC and USDT count as one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from math import gcd

from connectors.base import Instrument
from strategies.base import StrategyContext

USD_LIKE = frozenset({"USD", "USDC", "USDT", ""})


@dataclass(frozen=True, slots=True)
class MarketPair:
    base: str
    a: Instrument
    b: Instrument


def quote_key(quote: str) -> str:
    return "USD" if quote.upper() in USD_LIKE else quote.upper()


def shared_markets(a: Iterable[Instrument], b: Iterable[Instrument]) -> list[MarketPair]:
    """Markets of venue A and venue B with the same base and (USD-like) quote asset."""
    by_key = {(inst.base.upper(), quote_key(inst.quote)): inst for inst in b}
    pairs = []
    for inst in a:
        other = by_key.get((inst.base.upper(), quote_key(inst.quote)))
        if other is not None:
            pairs.append(MarketPair(inst.base.upper(), inst, other))
    return sorted(pairs, key=lambda p: p.base)


def common_size(a: Instrument, b: Instrument, wanted: Decimal | None = None) -> Decimal:
    """The smallest size >= ``wanted`` (default: both minimums) that is on both
    venues' step grids and at or above both minimum sizes."""
    step = _lcm(a.step_size, b.step_size)
    floor = max(a.min_size, b.min_size, wanted or Decimal(0))
    return (floor / step).to_integral_value(ROUND_CEILING) * step


def _lcm(x: Decimal, y: Decimal) -> Decimal:
    """Least common multiple of two positive decimal steps (exact)."""
    scale = max(-x.as_tuple().exponent, -y.as_tuple().exponent, 0)  # type: ignore[operator]
    xi, yi = int(x.scaleb(scale)), int(y.scaleb(scale))
    return Decimal(xi * yi // gcd(xi, yi)).scaleb(-scale)


def counterpart(
    ctx: StrategyContext, inst: Instrument, venue: str, symbol: str | None, param: str
) -> Instrument:
    """The market on ``venue`` that trades what ``inst`` trades: ``symbol`` when
    given (checked to be the same asset pair), else found by asset. Errors name
    the strategy parameter ``param`` (e.g. ``hedge_symbol``) to set."""
    base, quote = inst.base.upper(), inst.quote.upper()
    if symbol is not None:
        try:
            other = ctx.instrument(venue, symbol)
        except Exception as exc:
            raise ValueError(f"params.{param}: {symbol!r} on {venue!r}: {exc}") from None
        if not shared_markets([inst], [other]):
            raise ValueError(
                f"params.{param}: {symbol!r} ({other.base}/{other.quote}) is not the same "
                f"market as {inst.symbol} ({base}/{quote})"
            )
        return other
    pairs = shared_markets([inst], ctx.instruments(venue))
    if not pairs:
        raise ValueError(f"no {base}/{quote} market found on {venue!r}; set params.{param}")
    return pairs[0].b


def market_mid(ctx: StrategyContext, venue: str, symbol: str) -> Decimal | None:
    """The mid of one market's book; None while the book is missing or not valid."""
    book = ctx.book(venue, symbol)
    return book.mid() if book is not None and book.is_valid() else None
