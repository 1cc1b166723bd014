"""The one check of a number the core is handed: a finite ``Decimal``, positive where
it must be, on its grid. The risk API checks an order's price and size with it, the
fill intake a fill's; both turn a problem into a reason, never an exception.

``problem`` answers None for a good number, else one line naming the value and what
is wrong with it: a float, an int, a string or a bool is not a Decimal (an int or a
float may already be rounded or scaled wrongly: the core never guesses), NaN and
infinities are not numbers, a value off the instrument's grid is not a price or
size the venue can hold.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

MAX_ADJUSTED_EXPONENT = 30
"""Decimal digits left of the point a price, size or fee may have (1e30): anything
larger is a corrupt number, and arithmetic on ``1e999990`` is not cheap."""


def problem(
    name: str,
    value: object,
    *,
    grid: Decimal | None = None,
    grid_name: str = "",
    positive: bool = True,
) -> str | None:
    """None when ``value`` is a finite Decimal (> 0 when ``positive``, a multiple of
    ``grid`` when given); otherwise ``"<name>: <what is wrong>"``."""
    if isinstance(value, bool) or not isinstance(value, Decimal):
        kind = type(value).__name__
        article = "an" if kind[:1] in "aeiou" else "a"
        return f"{name}: {shown(value)} is {article} {kind}, not a Decimal"
    if value.is_nan():
        return f"{name}: {value} is not a number"
    if value.is_infinite():
        return f"{name}: {value} is not finite"
    if value.adjusted() > MAX_ADJUSTED_EXPONENT:
        return f"{name}: {value:.3E} is out of range"
    if positive and value <= 0:
        return f"{name}: {value} must be positive"
    if grid is not None and not on_grid(value, grid):
        label = f"{grid_name} " if grid_name else ""
        return f"{name}: {value} not a multiple of {label}{grid}"
    return None


def on_grid(value: Decimal, grid: Decimal) -> bool:
    """``value`` is a whole multiple of ``grid`` (False when that cannot be computed)."""
    try:
        return value % grid == 0
    except (InvalidOperation, ArithmeticError):
        return False


def recordable(value: object) -> Decimal:
    """What an order record keeps of a number it was handed: the Decimal itself, a
    float's or an int's digits, NaN for anything else — and for a signalling NaN
    (comparing it raises) or a value out of range (printing ``1e999990`` in full
    takes seconds). The record of a rejected order; its reason names the value as
    it came."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            value = Decimal(repr(value))
        except (InvalidOperation, ValueError):  # ValueError: an int of > 4300 digits
            return Decimal("NaN")
    if not isinstance(value, Decimal) or value.is_snan():
        return Decimal("NaN")
    if value.is_finite() and value.adjusted() > MAX_ADJUSTED_EXPONENT:
        return Decimal("NaN")
    return value


def shown(value: object) -> str:
    """``repr(value)`` cut to 40 characters, for a message (never raises)."""
    try:
        text = repr(value)
    except Exception:  # an int of > 4300 digits, an object whose repr fails
        return f"<{type(value).__name__} that cannot be shown>"
    return text if len(text) <= 40 else text[:37] + "..."


__all__ = ["MAX_ADJUSTED_EXPONENT", "on_grid", "problem", "recordable", "shown"]
