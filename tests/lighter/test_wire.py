"""Lighter wire formats <-> core types: exact decimals, signs, statuses, fills."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connectors.base import ErrorCode, Liquidity, OrderStatus, Side, VenueError
from connectors.common.units import BadNumber
from connectors.lighter import codes, wire

BOOK = {
    "symbol": "ETH",
    "market_id": 0,
    "market_type": "perp",
    "status": "active",
    "taker_fee": "0.0200",
    "maker_fee": "0.0000",
    "min_base_amount": "0.0050",
    "min_quote_amount": "10.000000",
    "supported_size_decimals": 4,
    "supported_price_decimals": 2,
}
ETH = wire.market_from_wire(BOOK)


def test_market_and_instrument() -> None:
    inst = wire.instrument("lighter", ETH)
    assert inst.tick_size == Decimal("0.01") and inst.step_size == Decimal("0.0001")
    assert inst.min_size == Decimal("0.0050") and inst.min_notional == Decimal("10")
    assert inst.taker_fee == Decimal("0.0002")  # Lighter quotes fees in percent


def test_scaling_is_exact() -> None:
    assert wire.price_int(Decimal("3500.10"), ETH) == 350010
    assert wire.base_amount(Decimal("0.1"), ETH) == 1000
    with pytest.raises(VenueError, match="decimals"):
        wire.price_int(Decimal("3500.105"), ETH)
    with pytest.raises(VenueError, match="range") as err:
        wire.price_int(Decimal("0"), ETH)
    assert err.value.code == ErrorCode.INVALID_PRICE


def test_levels_are_bounded() -> None:
    level = [{"price": "3500.12", "size": "1.2500"}]
    assert wire.book_levels(level, ETH, snapshot=True) == [(350012, 12500)]
    assert wire.book_levels(None, ETH, snapshot=True) == []
    removal = [{"price": "3500.12", "size": "0.0000"}]
    assert wire.book_levels(removal, ETH, snapshot=False) == [(350012, 0)]
    for bad in ("1e999990", "NaN", "-1.0000", "9" * 60):
        with pytest.raises(BadNumber):
            wire.book_levels([{"price": "3500.12", "size": bad}], ETH, snapshot=False)
    with pytest.raises(BadNumber):
        wire.book_levels(removal, ETH, snapshot=True)


def test_statuses() -> None:
    base = {"order_index": 2**48 + 5, "filled_base_amount": "0", "remaining_base_amount": "1"}
    assert wire.order_status({**base, "status": "open"}) is OrderStatus.OPEN
    part = {**base, "status": "open", "filled_base_amount": "0.5"}
    assert wire.order_status(part) is OrderStatus.PARTIALLY_FILLED
    assert wire.order_status({**base, "status": "canceled-post-only"}) is OrderStatus.REJECTED
    with pytest.raises(ValueError, match="unknown order status"):
        wire.order_status({**base, "status": "weird"})
    update = wire.order_update(
        "lighter", "ETH", {**base, "status": "canceled-post-only", "updated_at": 5}, "mm-1"
    )
    assert update.reason == "canceled-post-only" and update.remaining_size is None
    assert update.ts_ms == 5


def test_position_sign() -> None:
    short = wire.position("lighter", "ETH", {"sign": -1, "position": "0.2500"}, 0)
    assert short.size == Decimal("-0.25")
    long = wire.position("lighter", "ETH", {"sign": 1, "position": "1.0000"}, 0)
    assert long.size == Decimal("1")
    with pytest.raises(ValueError, match="sign"):
        wire.position("lighter", "ETH", {"sign": 0, "position": "1"}, 0)


def test_account_fills_side_fee_and_self_trade() -> None:
    trade = {
        "trade_id": 9,
        "market_id": 0,
        "price": "3500.00",
        "size": "0.1000",
        "ask_id": 2**48 + 1,
        "bid_id": 2**48 + 2,
        "ask_client_id": 11,
        "bid_client_id": 12,
        "ask_account_id": 4242,
        "bid_account_id": 77,
        "is_maker_ask": True,
        "taker_fee": 200,
        "maker_fee": 0,
        "timestamp": 1_730_000_000_000,
    }
    (fill,) = wire.account_fills("lighter", "ETH", trade, 4242, str)
    assert fill.side is Side.SELL and fill.liquidity is Liquidity.MAKER
    assert fill.client_id == "11" and fill.fee == 0
    (taker,) = wire.account_fills("lighter", "ETH", trade, 77, str)
    assert taker.side is Side.BUY and taker.fee == Decimal("3500.00") * Decimal("0.1") * (
        Decimal(200) / 1_000_000
    )
    both = wire.account_fills("lighter", "ETH", {**trade, "bid_account_id": 4242}, 4242, str)
    assert {f.side for f in both} == {Side.BUY, Side.SELL}
    assert len({f.trade_id for f in both}) == 2


def test_error_codes_by_the_table() -> None:
    text = "HTTP response body: code=21104 message='invalid nonce' additional_properties={}"
    assert codes.venue_code(text) == 21104 and codes.message_of(text) == "invalid nonce"
    assert codes.venue_code({"code": 21728, "message": "x"}) == 21728
    assert codes.venue_code("nothing") is None
    assert codes.refusal(21728).code == ErrorCode.DUPLICATE_CLIENT_ID
    assert codes.refusal(21706).code == ErrorCode.INVALID_SIZE
    assert codes.refusal(21739).code == ErrorCode.INSUFFICIENT_MARGIN
    assert codes.refusal(23000).rate_limited
    unknown = codes.refusal(29999, "new")
    assert unknown.code == ErrorCode.VENUE and unknown.venue_code == "29999"
    # no meaning is read from the message text
    assert codes.refusal(None, "client order index already exists").code == ErrorCode.VENUE
