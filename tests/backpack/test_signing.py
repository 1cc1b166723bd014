"""Signing against every test vector of spec §1.2, plus batch and header shape."""

from __future__ import annotations

import base64
from decimal import Decimal

import pytest
from nacl.signing import VerifyKey

from connectors.backpack.keys import BackpackKeys
from connectors.backpack.signing import (
    auth_headers,
    batch_signing_string,
    render_value,
    sign,
    signing_string,
    ws_signature,
)

SECRET = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="
API_KEY = "ebVWLo/mVPlAeLES6KmLp5AfhTrmlb7X4OORC60ElmQ="
TS = 1730000000000

ORDER = {
    "symbol": "SOL_USDC_PERP",
    "side": "Bid",
    "orderType": "Limit",
    "quantity": "0.10",
    "price": "150.25",
    "timeInForce": "GTC",
    "postOnly": True,
    "clientId": 42,
}
VECTORS = [
    (
        "orderExecute",
        ORDER,
        "instruction=orderExecute&clientId=42&orderType=Limit&postOnly=true&price=150.25"
        "&quantity=0.10&side=Bid&symbol=SOL_USDC_PERP&timeInForce=GTC"
        "&timestamp=1730000000000&window=5000",
        "kUygIRsoWsDbFB0L6pvxaVBj2XfE6+J60x10fRpGol0HLkpeZY62cRuDI+yc3DfDwjc9B1MyI5ilywAOTwlwCg==",
    ),
    (
        "orderQueryAll",
        {"symbol": "SOL_USDC_PERP"},
        "instruction=orderQueryAll&symbol=SOL_USDC_PERP&timestamp=1730000000000&window=5000",
        "dJsdUvogA+zUY1hYnZG1WttZy9+1/9/Ph/M1NGo4WZ7JCbak2FfyG+dlGWrdNDPrQ+jTE3n/71h7h/15I/B8Aw==",
    ),
    (
        "subscribe",
        None,
        "instruction=subscribe&timestamp=1730000000000&window=5000",
        "EeEAJsW9FNiogaoFQLJmoscjmBj+PRss9pqMot4aJ/2nfF2GFF/577QvAIipKndFDzj+Hh+1DLdOiP9UchcvCA==",
    ),
]


@pytest.fixture
def keys() -> BackpackKeys:
    return BackpackKeys(SECRET)


def test_public_key_derived_from_the_secret(keys: BackpackKeys) -> None:
    assert keys.api_key == API_KEY


@pytest.mark.parametrize(("instruction", "params", "string", "sig"), VECTORS)
def test_vectors(
    keys: BackpackKeys, instruction: str, params: dict | None, string: str, sig: str
) -> None:
    assert signing_string(instruction, params, TS, 5000) == string
    assert sign(keys, string) == sig


def test_typed_values_sign_like_the_strings(keys: BackpackKeys) -> None:
    typed = dict(ORDER, quantity=Decimal("0.10"), price=Decimal("150.25"))
    assert signing_string("orderExecute", typed, TS) == VECTORS[0][2]


def test_render_value() -> None:
    assert render_value(True) == "true"
    assert render_value(False) == "false"
    assert render_value(42) == "42"
    assert render_value(Decimal("1E-8")) == "0.00000001"
    assert render_value("Bid") == "Bid"
    with pytest.raises(TypeError):
        render_value(1.5)


def test_none_values_are_left_out() -> None:
    s = signing_string("orderQueryAll", {"symbol": "S", "orderId": None}, TS)
    assert s == "instruction=orderQueryAll&symbol=S&timestamp=1730000000000&window=5000"


def test_window_limits() -> None:
    with pytest.raises(ValueError):
        signing_string("subscribe", None, TS, 60001)
    with pytest.raises(ValueError):
        signing_string("subscribe", None, TS, 0)


def test_batch_string() -> None:
    a = {"symbol": "S", "side": "Bid", "clientId": 1}
    b = {"symbol": "S", "side": "Ask", "postOnly": True}
    assert batch_signing_string("orderExecute", [a, b], TS, 5000) == (
        "instruction=orderExecute&clientId=1&side=Bid&symbol=S"
        "&instruction=orderExecute&postOnly=true&side=Ask&symbol=S"
        "&timestamp=1730000000000&window=5000"
    )


def test_headers_verify(keys: BackpackKeys) -> None:
    h = auth_headers(keys, "orderExecute", ORDER, TS, 5000)
    assert h["X-API-Key"] == API_KEY
    assert h["X-Timestamp"] == str(TS)
    assert h["X-Window"] == "5000"
    assert h["X-Signature"] == VECTORS[0][3]
    VerifyKey(base64.b64decode(API_KEY)).verify(
        VECTORS[0][2].encode(), base64.b64decode(h["X-Signature"])
    )
    batch = auth_headers(keys, "orderExecute", [ORDER, ORDER], TS, 5000)
    string = batch_signing_string("orderExecute", [ORDER, ORDER], TS, 5000)
    VerifyKey(base64.b64decode(API_KEY)).verify(
        string.encode(), base64.b64decode(batch["X-Signature"])
    )


def test_ws_signature_array(keys: BackpackKeys) -> None:
    assert ws_signature(keys, TS, 5000) == [API_KEY, VECTORS[2][3], str(TS), "5000"]
