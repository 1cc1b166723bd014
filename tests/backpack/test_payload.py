"""Order payload building: decimal strings on the grid, lowercase booleans when signed."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

from connectors.backpack.signing import signing_string
from connectors.backpack.wire import build_order_payload, instrument_from_market
from connectors.base import ErrorCode, OrderRequest, OrderType, Side, TimeInForce, VenueError

MARKET = {
    "symbol": "SOL_USDC_PERP",
    "baseSymbol": "SOL",
    "quoteSymbol": "USDC",
    "marketType": "PERP",
    "orderBookState": "Open",
    "filters": {
        "price": {"minPrice": "0.01", "maxPrice": "1000", "tickSize": "0.01"},
        "quantity": {"minQuantity": "0.01", "maxQuantity": None, "stepSize": "0.01"},
    },
}
_INST = instrument_from_market("backpack", MARKET)
assert _INST is not None
INST = _INST


def test_instrument_from_market() -> None:
    assert INST.symbol == "SOL_USDC_PERP"
    assert (INST.base, INST.quote, INST.contract_type) == ("SOL", "USDC", "perp")
    assert INST.tick_size == Decimal("0.01")
    assert INST.step_size == Decimal("0.01")
    assert INST.min_size == Decimal("0.01")


def test_limit_post_only_matches_the_spec_vector() -> None:
    req = OrderRequest(
        "mmab12c-1",
        "SOL_USDC_PERP",
        Side.BUY,
        Decimal("0.1"),
        price=Decimal("150.25"),
        post_only=True,
    )
    body = build_order_payload(req, INST, 42)
    assert body == {
        "symbol": "SOL_USDC_PERP",
        "side": "Bid",
        "orderType": "Limit",
        "quantity": "0.10",
        "price": "150.25",
        "timeInForce": "GTC",
        "postOnly": True,
        "clientId": 42,
    }
    assert b'"postOnly":true' in orjson.dumps(body)
    assert signing_string("orderExecute", body, 1730000000000) == (
        "instruction=orderExecute&clientId=42&orderType=Limit&postOnly=true&price=150.25"
        "&quantity=0.10&side=Bid&symbol=SOL_USDC_PERP&timeInForce=GTC"
        "&timestamp=1730000000000&window=5000"
    )


def test_ioc_reduce_only_and_market() -> None:
    req = OrderRequest(
        "mmab12c-2",
        "SOL_USDC_PERP",
        Side.SELL,
        Decimal("1"),
        price=Decimal("151"),
        time_in_force=TimeInForce.IOC,
        reduce_only=True,
    )
    body = build_order_payload(req, INST, 7)
    assert body["side"] == "Ask"
    assert body["timeInForce"] == "IOC"
    assert body["reduceOnly"] is True
    assert body["price"] == "151.00" and body["quantity"] == "1.00"
    assert "postOnly" not in body
    assert "reduceOnly=true" in signing_string("orderExecute", body, 1)
    mkt = OrderRequest(
        "mmab12c-3",
        "SOL_USDC_PERP",
        Side.BUY,
        Decimal("0.05"),
        type=OrderType.MARKET,
        reduce_only=True,
    )
    body = build_order_payload(mkt, INST, 8)
    assert body["orderType"] == "Market"
    assert "price" not in body and "timeInForce" not in body
    assert body["quantity"] == "0.05"


@pytest.mark.parametrize(
    ("size", "price", "code"),
    [
        (Decimal("0.015"), Decimal("150"), ErrorCode.INVALID_SIZE),
        (Decimal("0.10"), Decimal("150.005"), ErrorCode.INVALID_PRICE),
        (Decimal("0.001") * 0, Decimal("150"), ErrorCode.INVALID_SIZE),
        (Decimal("0.005"), Decimal("150"), ErrorCode.INVALID_SIZE),  # below the minimum
        (Decimal("0.10"), None, ErrorCode.INVALID_PRICE),
    ],
)
def test_off_grid_refused(size: Decimal, price: Decimal | None, code: ErrorCode) -> None:
    req = OrderRequest("mmab12c-4", "SOL_USDC_PERP", Side.BUY, size, price=price)
    with pytest.raises(VenueError) as info:
        build_order_payload(req, INST, 1)
    assert info.value.code == code
