"""Fill sanity: a fill a venue reports is applied only if it could have happened.

Refused, with the reason (journaled in ``refused_fills``, alerted, never applied
to orders, positions or strategies):

* a size that is zero, negative, not a number or infinite; a price that is not a
  positive finite number; a fee that is not a finite number (a rebate may be
  negative); a side that is not buy or sell; a time that is not a timestamp;
* a fill for a market the venue does not list (an unknown instrument);
* a fill beyond what is left of our order (a -5 or a 5 on a 0.010 order) — not
  checked for fills of no order of ours (a liquidation has no order to exceed);
* a price absurdly far from the market: more than ``fill_price_band_pct``
  (``risk:`` in the config, default 25%) away from the reference — the book's
  mid while the book is valid, else the market's last known mark (``Markets.mark``:
  the last mid seen or the venue's own mark), else our order's limit price. With
  none of these (a market order on a market with no book and no position) the
  price is not checked. ``fill_price_band_pct: null`` turns the check off.

``refusal`` never raises: whatever it trips over is itself the reason.
"""

from __future__ import annotations

from decimal import Decimal

from connectors.base import Fill, Instrument, Side
from mmtui.core import numbers
from mmtui.core.orders import Order


def refusal(
    fill: Fill,
    *,
    order: Order | None,
    instrument: Instrument | None,
    mark: Decimal | None,
    band_pct: Decimal | None,
) -> str | None:
    """None when ``fill`` could have happened; otherwise why it could not.

    ``order``: our order it fills (None: a fill of no order of ours); ``instrument``:
    the market as the venue lists it (None: unknown); ``mark``: the market's price
    now (None: no mark)."""
    try:
        return (
            _unreadable(fill)
            or _impossible(fill, order, instrument)
            or _absurd(fill, order, mark, band_pct)
        )
    except Exception as exc:  # an unreadable fill is an impossible one
        return f"unreadable fill: {exc!r}"


def _unreadable(fill: Fill) -> str | None:
    if not isinstance(fill.side, Side):
        return f"side: {numbers.shown(fill.side)} is not buy or sell"
    if isinstance(fill.ts_ms, bool) or not isinstance(fill.ts_ms, int) or fill.ts_ms < 0:
        return f"time: {numbers.shown(fill.ts_ms)} is not a timestamp"
    return (
        numbers.problem("size", fill.size)
        or numbers.problem("price", fill.price)
        or numbers.problem("fee", fill.fee, positive=False)
    )


def _impossible(fill: Fill, order: Order | None, instrument: Instrument | None) -> str | None:
    if instrument is None:
        return f"unknown instrument {numbers.shown(fill.venue)}/{numbers.shown(fill.symbol)}"
    if order is not None and fill.size > order.remaining:
        return (
            f"size: {fill.size} beyond the order's remaining {order.remaining} "
            f"(order {order.client_id}: size {order.size}, filled {order.filled})"
        )
    return None


def _absurd(
    fill: Fill, order: Order | None, mark: Decimal | None, band_pct: Decimal | None
) -> str | None:
    if band_pct is None:
        return None
    reference, what = mark, "the market's mark"
    if reference is None and order is not None and order.price is not None:
        reference, what = order.price, "our order's limit price"
    if reference is None or not reference > 0:
        return None
    off = abs(fill.price - reference) / reference * 100
    if off > band_pct:
        return (
            f"price: {fill.price} is {off:.1f}% from {what} {reference} "
            f"(fill_price_band_pct {band_pct})"
        )
    return None


__all__ = ["refusal"]
