"""Recorded numbers to ticks and lots: exact, cached, checked; grids from the data."""

from __future__ import annotations

import random
from decimal import Decimal as D
from pathlib import Path

import pytest

from connectors.replay.source import (
    ReplayDataError,
    Scale,
    decimals,
    infer_grid,
    last_local_ts_us,
)
from connectors.replay.tardis import TardisWriter


def test_strings_scale_exactly_on_a_power_of_ten_grid_and_on_any_other() -> None:
    rng = random.Random(4)
    for step in (D("0.001"), D("0.5"), D("1"), D("25"), D("0.00000001")):
        scale = Scale(step, "x")
        for _ in range(300):
            n = rng.randrange(0, 10**9)
            text = str(n * step)
            assert scale(text) == n, (step, text)
            assert scale(text) == n  # from the cache
            padded = text + ("0" if "." in text else ".000")
            assert scale(padded) == n


def test_exponent_forms_and_errors() -> None:
    scale = Scale(D("0.001"), "BTC amount")
    assert scale("1E-3") == 1 and scale("2.5e-2") == 25 and scale("1e2") == 100_000
    for bad in ("1_000", " 1", "+1", "-1", "1.", ".5", "nan", "1e", "0x10", "١"):
        with pytest.raises(ReplayDataError, match="is not a number"):
            scale(bad)
    with pytest.raises(ReplayDataError, match=r"BTC amount: 0.0015 is not a multiple of 0.001"):
        scale("0.0015")


def test_decimals_ignore_trailing_zeros() -> None:
    assert [decimals(t) for t in ("100", "100.0", "100.10", "0.005", "1e-4", "1.5E+2")] == [
        0,
        0,
        1,
        3,
        4,
        0,
    ]


def test_the_grid_is_inferred_from_the_finest_decimals(tmp_path: Path) -> None:
    w = TardisWriter(tmp_path, "x", "ETH-PERP")
    t = 1_780_000_000_000_000
    w.snapshot(t, t, [("2000.5", "1.25")], [("2000.75", "3")])
    w.levels(t + 5, t + 9, [("bid", "2000.00", "0.100")])
    w.trade(t + 7, t + 11, "a", "buy", "2000.75", "0.005")
    w.close()
    book, trades = sorted(w.paths)
    assert infer_grid([book], [trades]) == (D("0.01"), D("0.001"))
    assert last_local_ts_us(book) == t + 9 and last_local_ts_us(trades) == t + 11
