"""What the take-profit ladders (``trend_ladder``, ``hedge_ladder``) share: their
order tags, a *lot* (the filled part of one entry until its take-profits close
it), the take-profit's price, and the lots' bookkeeping as entries and
take-profits fill.

Each ladder keeps its lots in a dict by entry client id; its own ``Lot`` extends
``LadderLot`` with what only it needs (the trend ladder's entry side, the hedge
ladder's hedge state and its price-carrying take-profit tag).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from connectors.base import ZERO, Fill, Instrument, Side
from connectors.book import OrderBook
from strategies.base import OrderView

ENTRY = "entry"
TP_PREFIX = "tp:"


def take_profit_price(
    entry_side: Side, entry: Decimal, tp_abs: Decimal, inst: Instrument
) -> Decimal:
    """The exit for an entry: sell above a buy, buy below a sell; rounded away from the entry."""
    if entry_side is Side.BUY:
        return inst.round_price(entry + tp_abs, Side.SELL)
    return max(inst.tick_size, inst.round_price(entry - tp_abs, Side.BUY))


def passive_limit(side: Side, price: Decimal, book: OrderBook | None, tick: Decimal) -> Decimal:
    """Pull a post-only price back behind the opposite touch if it would cross."""
    if book is None:
        return price
    if side is Side.SELL:
        bid = book.best_bid()
        return max(price, bid + tick) if bid is not None else price
    ask = book.best_ask()
    price = min(price, ask - tick) if ask is not None else price
    return max(price, tick)


@dataclass(slots=True)
class LadderLot:
    """Fills of one entry order and what its take-profits have closed."""

    entry_id: str
    entry_price: Decimal
    tp_price: Decimal
    filled: Decimal = ZERO
    closed: Decimal = ZERO
    entry_done: bool = False

    @property
    def open(self) -> Decimal:
        return max(ZERO, self.filled - self.closed)

    @property
    def tag(self) -> str:
        return TP_PREFIX + self.entry_id


L = TypeVar("L", bound=LadderLot)


def entry_filled(
    lots: dict[str, L], order: OrderView, fill: Fill, new_lot: Callable[[str, Decimal], L]
) -> L:
    """A fill of an entry adds to its lot; the first opens it, at the entry's limit
    price (the fill's price for an entry without one)."""
    lot = lots.get(order.client_id)
    if lot is None:
        price = order.price if order.price is not None else fill.price
        lot = lots[order.client_id] = new_lot(order.client_id, price)
    lot.filled += fill.size
    lot.entry_done = not order.is_live
    return lot


def entry_ended(lots: dict[str, L], entry_id: str) -> None:
    """An entry order ended: its lot takes no more fills, and goes if nothing is open."""
    lot = lots.get(entry_id)
    if lot is not None:
        lot.entry_done = True
        if lot.open <= 0:
            del lots[lot.entry_id]


def take_profit_filled(lots: dict[str, L], entry_id: str | None, size: Decimal) -> L | None:
    """A take-profit's fill closes that much of its lot (``entry_id``'s); a lot
    closed whose entry has ended goes. Returns the lot (None: no such lot)."""
    lot = lots.get(entry_id) if entry_id is not None else None
    if lot is not None:
        lot.closed = min(lot.filled, lot.closed + size)
        if lot.open <= 0 and lot.entry_done:
            del lots[lot.entry_id]
    return lot


def trim_lots(ordered: Iterable[L], excess: Decimal) -> list[L]:
    """Close ``excess`` of the lots' open size, lot after lot in the order given
    (the position no longer holds it). Returns the lots it took from."""
    trimmed: list[L] = []
    for lot in ordered:
        if excess <= 0:
            break
        take = min(lot.open, excess)
        lot.closed += take
        excess -= take
        trimmed.append(lot)
    return trimmed


__all__ = [
    "ENTRY",
    "TP_PREFIX",
    "LadderLot",
    "entry_ended",
    "entry_filled",
    "passive_limit",
    "take_profit_filled",
    "take_profit_price",
    "trim_lots",
]
