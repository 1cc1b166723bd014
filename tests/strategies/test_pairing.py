"""Pairing markets across venues by base asset, a size both venues accept, the mids."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any, cast

from connectors.base import Instrument
from connectors.book import OrderBook
from strategies.pairing import common_size, market_mid, shared_markets


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


class _Books:
    """The one thing ``market_mid`` asks of a strategy context: a market's book."""

    def __init__(self, books: dict[tuple[str, str], OrderBook]) -> None:
        self.books = books

    def book(self, venue: str, symbol: str) -> OrderBook | None:
        return self.books.get((venue, symbol))


def test_market_mid_only_of_a_valid_book() -> None:
    inst = _inst("a", "X", "X", "USD", "0.01", "0.01")
    valid = OrderBook("X", inst.tick_size, inst.step_size)
    valid.apply_snapshot([(1000, 5)], [(1002, 5)], 1, 0)  # 100.0 / 100.2
    unsynced = OrderBook("Y", inst.tick_size, inst.step_size)
    unsynced.apply_snapshot([(1000, 5)], [(1002, 5)], 1, 0)
    unsynced.synced = False  # levels on both sides, but not a book to price off
    assert unsynced.mid() is not None
    ctx = cast(Any, _Books({("a", "X"): valid, ("a", "Y"): unsynced}))
    assert market_mid(ctx, "a", "X") == D("100.1")
    assert market_mid(ctx, "a", "Y") is None  # not valid: no mid
    assert market_mid(ctx, "b", "X") is None  # no book
