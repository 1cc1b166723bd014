"""Pairing markets across venues by base asset, and a size both venues accept."""

from __future__ import annotations

from decimal import Decimal as D

from connectors.base import Instrument
from strategies.pairing import common_size, shared_markets


def _inst(venue: str, symbol: str, base: str, quote: str, step: str, min_size: str) -> Instrument:
    return Instrument(venue, symbol, base, quote, D("0.1"), D(step), D(min_size))


def test_symbols_in_different_formats_pair_by_base_asset() -> None:
    backpack = [
        _inst("bp", "BTC_USDC_PERP", "BTC", "USDC", "0.00001", "0.00001"),
        _inst("bp", "SOL_USDC_PERP", "SOL", "USDC", "0.01", "0.01"),
        _inst("bp", "ETH_BTC", "ETH", "BTC", "0.001", "0.001"),
    ]
    lighter = [
        _inst("lg", "BTC", "BTC", "", "0.00001", "0.0002"),
        _inst("lg", "ETH", "ETH", "", "0.0001", "0.005"),
        _inst("lg", "SOL", "SOL", "", "0.001", "0.05"),
    ]
    pairs = shared_markets(backpack, lighter)
    assert [(p.base, p.a.symbol, p.b.symbol) for p in pairs] == [
        ("BTC", "BTC_USDC_PERP", "BTC"),
        ("SOL", "SOL_USDC_PERP", "SOL"),
    ]  # ETH_BTC quotes in BTC: not the same market as a USD perp


def test_common_size_fits_both_steps_and_minimums() -> None:
    a = _inst("a", "X", "X", "USD", "0.02", "0.1")
    b = _inst("b", "X", "X", "USD", "0.03", "0.05")
    size = common_size(a, b)
    assert size == D("0.12")  # lcm(0.02, 0.03) = 0.06; smallest multiple >= 0.1
    assert size % a.step_size == 0 and size % b.step_size == 0
    assert common_size(a, b, D("0.5")) == D("0.54")
    same = _inst("c", "X", "X", "USD", "0.001", "0.001")
    assert common_size(same, same, D("0.0105")) == D("0.011")
