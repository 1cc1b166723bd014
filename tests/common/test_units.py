"""Wire numbers are bounded before any arithmetic; grids are exact."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from connectors.base import ErrorCode, VenueError
from connectors.common.units import (
    BadNumber,
    decimal_string,
    epoch_ms,
    levels,
    parse_decimal,
    scaled_int,
    to_units,
)


@pytest.mark.parametrize(
    "value",
    [
        "1e999990",
        "-1e999990",
        "1e-999990",
        "NaN",
        "sNaN",
        "inf",
        "-Infinity",
        "",
        " ",
        "1" * 60,
        "0x10",
        "1,5",
        True,
        None,
        [1],
        {"a": 1},
        float("nan"),
        float("inf"),
    ],
)
def test_impossible_numbers_are_refused_fast(value: object) -> None:
    started = time.perf_counter()
    with pytest.raises(BadNumber):
        parse_decimal(value, "price")
    assert time.perf_counter() - started < 0.05  # no huge Decimal was ever built


def test_error_names_the_field() -> None:
    with pytest.raises(BadNumber, match="price"):
        parse_decimal("abc", "price")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("100.5", Decimal("100.5")),
        (7, Decimal(7)),
        (0.25, Decimal("0.25")),
        ("-3", Decimal(-3)),
        ("1e3", Decimal(1000)),
        ("0", Decimal(0)),
    ],
)
def test_numbers_read_exactly(value: object, expected: Decimal) -> None:
    assert parse_decimal(value) == expected


def test_units_and_levels() -> None:
    assert to_units("100.5", Decimal("0.1")) == 1005
    with pytest.raises(BadNumber, match="multiple"):
        to_units("100.55", Decimal("0.1"))
    assert levels([["1.0", "2"], ("1.1", 0)], Decimal("0.1"), Decimal(1)) == [(10, 2), (11, 0)]
    with pytest.raises(BadNumber):
        levels([["1.0", "-2"]], Decimal("0.1"), Decimal(1))
    with pytest.raises(BadNumber):
        levels([["1.0", "0"]], Decimal("0.1"), Decimal(1), allow_zero=False)
    with pytest.raises(BadNumber):
        levels([["-1.0", "1"]], Decimal("0.1"), Decimal(1))
    with pytest.raises(BadNumber):
        levels([["1.0"]], Decimal("0.1"), Decimal(1))


def test_wire_strings_and_scaled_ints() -> None:
    assert decimal_string(Decimal("100.5"), Decimal("0.01"), "price") == "100.50"
    with pytest.raises(VenueError) as err:
        decimal_string(Decimal("100.555"), Decimal("0.01"), "price")
    assert err.value.code == ErrorCode.INVALID_PRICE
    with pytest.raises(VenueError) as err:
        decimal_string(Decimal("0.0005"), Decimal("0.001"), "size")
    assert err.value.code == ErrorCode.INVALID_SIZE
    assert scaled_int(Decimal("1.25"), 2, "price") == 125
    with pytest.raises(VenueError):
        scaled_int(Decimal("1.255"), 2, "price")


def test_timestamps() -> None:
    assert epoch_ms("1700000000000000", "us") == 1_700_000_000_000
    assert epoch_ms(1_700_000_000_000_000_000, "ns") == 1_700_000_000_000
    assert epoch_ms("1700000000", "s") == 1_700_000_000_000
    assert epoch_ms(None, "ms") == 0
    assert epoch_ms("soon", "ms") == 0
    assert epoch_ms(-5, "ms") == 0
