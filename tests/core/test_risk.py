"""Each pre-trade risk limit rejects, and the risk states gate orders."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from connectors.base import Instrument, OrderType, Side
from connectors.book import OrderBook
from mmtui.core.risk import RiskEngine, RiskInput, RiskLimits, RiskState, SymbolLimits

INST = Instrument("v", "BTC-PERP", "BTC", "USDC", D("0.1"), D("0.001"), D("0.001"))
NOW = 1_000_000


def _book(bid: str = "99.9", ask: str = "100.1", ts: int = NOW) -> OrderBook:
    book = OrderBook("BTC-PERP", D("0.1"), D("0.001"))
    book.apply_snapshot([(int(D(bid) * 10), 1000)], [(int(D(ask) * 10), 1000)], 1, ts)
    return book


def _order(**kw: object) -> RiskInput:
    base: dict[str, object] = dict(
        instrument=INST,
        side=Side.BUY,
        size=D("0.01"),
        price=D("99.9"),
        order_type=OrderType.LIMIT,
        reduce_only=False,
        position=D(0),
        open_same_side=D(0),
        open_orders=0,
        book=_book(),
    )
    base.update(kw)
    return RiskInput(**base)  # type: ignore[arg-type]


def _limits(**kw: object) -> RiskLimits:
    base: dict[str, object] = dict(
        max_order_notional=None,
        max_position_notional=None,
        max_open_orders=None,
        max_orders_per_second=None,
        price_band_pct=None,
        max_loss=None,
        stale_book_ms=None,
    )
    base.update(kw)
    return RiskLimits(**base)  # type: ignore[arg-type]


def test_clean_order_passes() -> None:
    assert RiskEngine(RiskLimits()).check(_order(), NOW) is None


@pytest.mark.parametrize(
    ("limits", "order", "expected"),
    [
        (dict(max_order_notional=D(1)), dict(size=D("0.02")), "max order notional"),
        (dict(symbols={"BTC-PERP": SymbolLimits(max_order_size=D("0.005"))}), {}, "max order size"),
        (
            dict(symbols={"BTC-PERP": SymbolLimits(max_position=D("0.02"))}),
            dict(position=D("0.01"), open_same_side=D("0.005")),
            "max position",
        ),
        (dict(max_position_notional=D(2)), dict(position=D("0.015")), "max position notional"),
        (dict(price_band_pct=D(1)), dict(price=D("98.0")), "price band"),
        (dict(max_open_orders=3), dict(open_orders=3), "max open orders"),
        (dict(stale_book_ms=1000), dict(book=_book(ts=NOW - 5000)), "stale book"),
        (dict(stale_book_ms=1000), dict(book=None), "stale book"),
        ({}, dict(size=D("0.0005")), "size"),
        ({}, dict(size=D("0.0015")), "size"),
        ({}, dict(price=D("99.95")), "price"),
    ],
)
def test_each_limit_rejects(
    limits: dict[str, object], order: dict[str, object], expected: str
) -> None:
    risk = RiskEngine(_limits(**limits))
    reason = risk.check(_order(**order), NOW)
    assert reason is not None and reason.startswith(expected), reason
    assert risk.rejections


def test_max_position_counts_open_orders_same_side() -> None:
    risk = RiskEngine(_limits(symbols={"BTC-PERP": SymbolLimits(max_position=D("0.03"))}))
    assert risk.check(_order(position=D("0.01"), open_same_side=D("0.01")), NOW) is None
    assert risk.check(_order(position=D("0.01"), open_same_side=D("0.02")), NOW) is not None


def test_order_rate_limit_over_one_second() -> None:
    risk = RiskEngine(_limits(max_orders_per_second=3))
    assert [risk.check(_order(), NOW + i) for i in range(3)] == [None] * 3
    assert (risk.check(_order(), NOW + 10) or "").startswith("order rate")
    assert risk.check(_order(), NOW + 1001) is None


def test_loss_limits_reduce_then_halt() -> None:
    risk = RiskEngine(_limits(max_loss=D(100), reduce_at_loss=D(50)))
    assert not risk.update_pnl(D(-10))
    assert risk.update_pnl(D(-60)) and risk.state is RiskState.REDUCING
    # reducing: a buy that adds is refused, a sell that reduces a long passes
    assert (risk.check(_order(position=D("0.01")), NOW) or "").startswith("reducing")
    assert risk.check(_order(side=Side.SELL, position=D("0.01"), price=D("100.1")), NOW) is None
    assert risk.update_pnl(D(-100)) and risk.state is RiskState.HALTED
    assert (risk.check(_order(side=Side.SELL, position=D("0.01")), NOW) or "").startswith("halted")


def test_soft_limit_must_be_below_hard() -> None:
    with pytest.raises(ValueError, match="reduce_at_loss"):
        RiskLimits(max_loss=D(10), reduce_at_loss=D(20))


def test_reduce_only_dust_below_min_size_may_close() -> None:
    inst = Instrument("v", "BTC-PERP", "BTC", "USDC", D("0.1"), D("0.001"), D("0.01"))
    risk = RiskEngine(_limits())
    dust = dict(instrument=inst, size=D("0.003"), side=Side.SELL, price=D("100.1"))
    assert risk.check(_order(**dust, position=D("0.003"), reduce_only=True), NOW) is None
    assert (risk.check(_order(**dust, position=D("0.003")), NOW) or "").startswith("size")
    nothing_to_reduce = risk.check(_order(**dust, position=D(0), reduce_only=True), NOW)
    assert (nothing_to_reduce or "").startswith("size")


def test_below_the_venues_minimum_notional_is_refused_before_it_leaves() -> None:
    from dataclasses import replace

    inst = replace(INST, min_notional=D(100))  # GRVT's BTC_USDT_Perp, as recorded
    risk = RiskEngine(_limits())
    reason = risk.check(_order(instrument=inst, size=D("0.9"), price=D("99.9")), NOW)
    assert reason is not None and reason.startswith("min notional"), reason
    assert risk.check(_order(instrument=inst, size=D("1.002"), price=D("99.9")), NOW) is None
    # a reduce-only close of what is left may be smaller (the venue decides)
    closing = _order(
        instrument=inst, size=D("0.5"), side=Side.SELL, reduce_only=True, position=D("0.5")
    )
    assert risk.check(closing, NOW) is None


BAD_NUMBERS = [
    pytest.param("size", 0.01, "size: 0.01 is a float, not a Decimal", id="size-float"),
    pytest.param("size", 1, "size: 1 is an int, not a Decimal", id="size-int"),
    pytest.param("size", True, "size: True is a bool, not a Decimal", id="size-bool"),
    pytest.param("size", "0.01", "size: '0.01' is a str, not a Decimal", id="size-str"),
    pytest.param("size", None, "size: None is a NoneType, not a Decimal", id="size-none"),
    pytest.param("size", D("NaN"), "size: NaN is not a number", id="size-nan"),
    pytest.param("size", D("sNaN"), "size: sNaN is not a number", id="size-snan"),
    pytest.param("size", D("Infinity"), "size: Infinity is not finite", id="size-inf"),
    pytest.param("size", D("-0.01"), "size: -0.01 must be positive", id="size-negative"),
    pytest.param("size", D("0"), "size: 0 must be positive", id="size-zero"),
    pytest.param("size", D("0.0105"), "size: 0.0105 not a multiple of step", id="size-off-grid"),
    pytest.param("size", D("1e999990"), "size: 1.000E+999990 is out of range", id="size-huge"),
    pytest.param("price", 99.9, "price: 99.9 is a float, not a Decimal", id="price-float"),
    pytest.param("price", "99.9", "price: '99.9' is a str, not a Decimal", id="price-str"),
    pytest.param("price", D("NaN"), "price: NaN is not a number", id="price-nan"),
    pytest.param("price", D("-Infinity"), "price: -Infinity is not finite", id="price-ninf"),
    pytest.param("price", D("-99.9"), "price: -99.9 must be positive", id="price-negative"),
    pytest.param("price", D("99.95"), "price: 99.95 not a multiple of tick", id="price-off-grid"),
    pytest.param("price", D("1e-999990"), "price: 1E-999990 not a multiple", id="price-tiny"),
]


@pytest.mark.parametrize(("field", "value", "reason"), BAD_NUMBERS)
def test_bad_numbers_are_rejected_with_a_reason_never_raised(
    field: str, value: object, reason: str
) -> None:
    risk = RiskEngine(RiskLimits())
    got = risk.check(_order(**{field: value}), NOW)
    assert got is not None and got.startswith(reason), got
    assert risk.rejections == {field: 1}
    assert risk.check(_order(), NOW) is None  # the next good order passes


def test_the_check_never_raises_on_what_it_trips_over() -> None:
    """A value deeper in the input (a NaN position from a bad venue report) is a
    reason too, not an exception out of place()."""
    risk = RiskEngine(RiskLimits())
    got = risk.check(_order(position=D("NaN")), NOW)
    assert got is not None and got.startswith("risk check failed"), got


def test_a_session_pnl_that_is_not_a_number_halts() -> None:
    risk = RiskEngine(_limits(max_loss=D(100)))
    assert risk.update_pnl(D("NaN")) and risk.state is RiskState.HALTED
    assert "session PnL: NaN is not a number" in risk.reason
