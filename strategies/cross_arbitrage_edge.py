"""The arbitrage edge, priced through the books (pure functions): the worst price a
sweep of the pair's size reaches, the gross edge of buying the cheap market and selling
the rich one, the round-trip taker fees, and the better direction now."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from connectors.base import Instrument
from connectors.book import OrderBook

HUNDRED = Decimal(100)
SWEEP_DEPTH = 20


def sweep_price(levels: list[tuple[Decimal, Decimal]], size: Decimal) -> Decimal | None:
    """The worst price a sweep of ``size`` reaches through ``levels`` (best first);
    None if the levels do not hold that much."""
    left = size
    for price, qty in levels:
        left -= qty
        if left <= 0:
            return price
    return None


def gross_edge(buy_price: Decimal, sell_price: Decimal) -> Decimal:
    """Relative edge of buying at ``buy_price`` and selling at ``sell_price``."""
    return sell_price / buy_price - 1


def round_trip_fees(a: Instrument, b: Instrument) -> Decimal:
    """Taker fees of entering and exiting on both venues, as a fraction of notional."""
    return 2 * (a.taker_fee + b.taker_fee)


@dataclass(frozen=True, slots=True)
class Opportunity:
    buy: Instrument  # the cheap market: we buy here
    sell: Instrument  # the rich market: we sell here
    buy_price: Decimal
    sell_price: Decimal
    gross: Decimal
    net: Decimal


def crossing_prices(
    buy_book: OrderBook, sell_book: OrderBook, size: Decimal
) -> tuple[Decimal, Decimal] | None:
    """(the ask a buy of ``size`` sweeps to, the bid a sell of it sweeps to); None if a
    book is too thin."""
    ask = sweep_price(buy_book.asks(SWEEP_DEPTH), size)
    bid = sweep_price(sell_book.bids(SWEEP_DEPTH), size)
    if ask is None or bid is None:
        return None
    return ask, bid


def best_opportunity(
    a: Instrument,
    book_a: OrderBook,
    b: Instrument,
    book_b: OrderBook,
    size: Decimal,
    cost: Decimal,
) -> Opportunity | None:
    """The better direction for ``size`` on these books (None if a book is too thin)."""
    best: Opportunity | None = None
    for buy, bbook, sell, sbook in ((a, book_a, b, book_b), (b, book_b, a, book_a)):
        prices = crossing_prices(bbook, sbook, size)
        if prices is None or prices[0] <= 0:
            continue
        ask, bid = prices
        gross = gross_edge(ask, bid)
        opp = Opportunity(buy, sell, ask, bid, gross, gross - cost)
        if best is None or opp.net > best.net:
            best = opp
    return best
