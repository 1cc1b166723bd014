"""Numbers from the wire, bounded, and the core's Decimals back to the wire.

Every venue sends prices and sizes as decimal strings (or JSON numbers) and
wants them back as strings on the instrument's grid. A number read from a frame
is checked before any arithmetic: at most ``MAX_DIGITS`` characters, a finite
value, an exponent within ``MAX_EXPONENT`` — so ``"1e999990"`` is refused at
once instead of stalling the loop in a huge Decimal division.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.common.errors import ErrorCode, VenueError

Level = tuple[int, int]
"""(price in ticks, size in lots): the book's integer form."""

MAX_DIGITS = 48
"""Characters of a number's text (sign, digits, point, exponent)."""
MAX_EXPONENT = 30
"""|adjusted exponent| of any price, size or amount we accept (1e-30 .. 1e30)."""


class BadNumber(ValueError):
    """A wire number that is not one: unreadable, not finite, or out of bounds."""


def parse_decimal(value: Any, what: str = "number") -> Decimal:
    """A wire number (str, int or JSON float) as an exact, bounded Decimal.

    Raises ``BadNumber`` naming ``what``. Booleans and None are refused.
    """
    if isinstance(value, bool) or value is None:
        raise BadNumber(f"{what}: {value!r} is not a number")
    if isinstance(value, Decimal):
        text = format(value, "f") if value.is_finite() else str(value)
    elif isinstance(value, int | float | str):
        text = str(value).strip()
    else:
        raise BadNumber(f"{what}: {type(value).__name__} is not a number")
    if not text or len(text) > MAX_DIGITS:
        raise BadNumber(f"{what}: {text[:MAX_DIGITS]!r}{'...' if text else ''} is not a number")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise BadNumber(f"{what}: {text!r} is not a number") from None
    if not number.is_finite():
        raise BadNumber(f"{what}: {text!r} is not finite")
    if number and abs(number.adjusted()) > MAX_EXPONENT:
        raise BadNumber(f"{what}: {text!r} is out of range")
    return number


def optional_decimal(value: Any, what: str = "number", default: Decimal | None = None) -> Any:
    """``parse_decimal`` where the field may be absent (None or ""): ``default`` then."""
    if value is None or value == "":
        return default
    return parse_decimal(value, what)


def to_units(value: Any, unit: Decimal, what: str = "number") -> int:
    """A wire number on the ``unit`` grid -> integer units; ``BadNumber`` if off-grid."""
    number = parse_decimal(value, what)
    q = number / unit
    n = int(q)
    if q != n:
        raise BadNumber(f"{what}: {value} is not a multiple of {unit}")
    return n


def levels(
    raw: Iterable[Any], tick: Decimal, step: Decimal, *, allow_zero: bool = True
) -> list[Level]:
    """``[[price, size], ...]`` -> ``[(ticks, lots), ...]``.

    A negative size, a non-positive price, or (with ``allow_zero=False``, as in a
    snapshot) a zero size is refused with ``BadNumber``.
    """
    out: list[Level] = []
    for entry in raw:
        if not isinstance(entry, list | tuple) or len(entry) < 2:
            raise BadNumber(f"level {entry!r} is not [price, size]")
        ticks = to_units(entry[0], tick, "price")
        lots = to_units(entry[1], step, "size")
        if ticks <= 0:
            raise BadNumber(f"level price {entry[0]} is not positive")
        if lots < 0 or (lots == 0 and not allow_zero):
            raise BadNumber(f"level size {entry[1]} is not allowed here")
        out.append((ticks, lots))
    return out


def decimal_string(value: Decimal, unit: Decimal, what: str) -> str:
    """``value`` as a plain decimal string with ``unit``'s exponent; it must be on the grid
    (``what`` is ``"price"`` or ``"size"``: the error code follows it)."""
    if not value.is_finite() or value % unit != 0:
        code = ErrorCode.INVALID_PRICE if what == "price" else ErrorCode.INVALID_SIZE
        raise VenueError(f"{what} {value} is not a multiple of {unit}", code=code)
    exp = unit.normalize().as_tuple().exponent
    q = value.quantize(Decimal(1).scaleb(min(int(exp), 0)))
    return format(q, "f")


def decimals_of(increment: Decimal) -> int:
    """Places after the point of an increment (0.001 -> 3, 5 -> 0)."""
    return max(0, -int(increment.normalize().as_tuple().exponent))


def scaled_int(value: Decimal, decimals: int, what: str) -> int:
    """An exact Decimal as an integer of 10**-decimals (Lighter's price/size form)."""
    scaled = value.scaleb(decimals)
    if scaled != scaled.to_integral_value():
        code = ErrorCode.INVALID_PRICE if what == "price" else ErrorCode.INVALID_SIZE
        raise VenueError(f"{what} {value} has more than {decimals} decimals", code=code)
    return int(scaled)


def epoch_ms(value: Any, unit: str) -> int:
    """A venue timestamp (int or string) in ``unit`` (``s``, ``ms``, ``us``, ``ns``) -> ms;
    0 when absent or unreadable."""
    divisor = {"s": None, "ms": 1, "us": 1_000, "ns": 1_000_000}[unit]
    if value is None or isinstance(value, bool):
        return 0
    try:
        n = int(value) if isinstance(value, int | float) else int(str(value).strip())
    except (TypeError, ValueError, OverflowError):
        return 0
    if n < 0 or n > 10**20:
        return 0
    return n * 1000 if divisor is None else n // divisor


__all__ = [
    "MAX_DIGITS",
    "MAX_EXPONENT",
    "BadNumber",
    "Level",
    "decimal_string",
    "decimals_of",
    "epoch_ms",
    "levels",
    "optional_decimal",
    "parse_decimal",
    "scaled_int",
    "to_units",
]
