"""The market as everyone else quotes it: the book with our own resting orders
taken out. Every quoting strategy prices off these, never off the plain book.

Why: a strategy's own quotes are often the touch. Priced off the plain book, a
strategy whose bid and ask are the best prices reads its own quotes back as
the market: when the rest of the book moves, the mid it sees barely moves (half
of it is its own orders) and it does not follow. Taking our resting size out
level by level, the touch is the best price with someone else's size left.

Our size counts only once the venue has it on the book: a PENDING order is not
there yet (taking it out could hide someone else's size at that price). Orders
being cancelled still rest until the venue confirms, so they count.
Prices are integer ticks and lots on the hot path, ``Decimal`` at the edges.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from connectors.base import Instrument, OrderStatus, Side
from connectors.book import OrderBook
from strategies.base import OrderView


def external_touch(levels: list[tuple[int, int]], own_lots: dict[int, int]) -> int | None:
    """The best price (ticks) with size left once our own lots are taken out;
    ``levels`` best first, as ``OrderBook.bids_ticks`` / ``asks_ticks`` give them."""
    for price, lots in levels:
        if lots - own_lots.get(price, 0) > 0:
            return price
    return None


def own_lots(inst: Instrument, orders: Iterable[OrderView], side: Side) -> dict[int, int]:
    """Our resting size on one side, lots by price in ticks."""
    lots: dict[int, int] = {}
    for o in orders:
        if o.side is not side or o.price is None or o.status is OrderStatus.PENDING:
            continue
        if not o.is_live:
            continue
        t = inst.price_to_ticks(o.price)
        lots[t] = lots.get(t, 0) + inst.size_to_lots(o.remaining)
    return lots


def external_best(
    book: OrderBook, inst: Instrument, side: Side, orders: Iterable[OrderView]
) -> Decimal | None:
    """The best bid (``Side.BUY``) or ask (``Side.SELL``) of everyone else."""
    own = own_lots(inst, orders, side)
    depth = len(own) + 1  # each of our price levels hides at most one book level
    levels = book.bids_ticks(depth) if side is Side.BUY else book.asks_ticks(depth)
    ticks = external_touch(levels, own)
    return None if ticks is None else inst.ticks_to_price(ticks)


def external_bbo(
    book: OrderBook, inst: Instrument, orders: Iterable[OrderView]
) -> tuple[Decimal | None, Decimal | None]:
    """(best bid, best ask) of everyone else."""
    mine = list(orders)
    return external_best(book, inst, Side.BUY, mine), external_best(book, inst, Side.SELL, mine)


def external_mid(book: OrderBook, inst: Instrument, orders: Iterable[OrderView]) -> Decimal | None:
    """The mid of everyone else's touch; the plain mid when one side holds only our
    own orders (there is no other price to go by)."""
    bid, ask = external_bbo(book, inst, orders)
    if bid is None or ask is None or bid >= ask:
        return book.mid()
    return (bid + ask) / 2


__all__ = ["external_bbo", "external_best", "external_mid", "external_touch", "own_lots"]
