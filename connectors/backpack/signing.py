"""Backpack request signing: the signing string, the ED25519 signature, the headers.

Pure functions, no I/O. The signing string (spec §1.2):

``instruction=<name>[&<sorted key=value pairs>]&timestamp=<ms>&window=<ms>``

Values render as text: booleans lowercase, integers plain, ``Decimal`` in plain
(non-exponent) notation, strings unchanged. ``None`` values are left out, and
callers must leave them out of the request too. A batch of orders signs each
order as ``instruction=orderExecute&<its sorted pairs>``, joined with ``&``,
then one ``&timestamp=…&window=…``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connectors.backpack.keys import BackpackKeys

DEFAULT_WINDOW_MS = 5000
MAX_WINDOW_MS = 60000


def render_value(value: Any) -> str:
    """One parameter value as the venue signs (and as we send it in a query)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, str):
        return value
    raise TypeError(f"cannot sign a value of type {type(value).__name__}: {value!r}")


def _pairs(params: Mapping[str, Any] | None) -> str:
    if not params:
        return ""
    items = sorted((k, render_value(v)) for k, v in params.items() if v is not None)
    return "&".join(f"{k}={v}" for k, v in items)


def _check_window(window_ms: int) -> None:
    if not 0 < window_ms <= MAX_WINDOW_MS:
        raise ValueError(f"window must be 1..{MAX_WINDOW_MS} ms, got {window_ms}")


def signing_string(
    instruction: str,
    params: Mapping[str, Any] | None,
    timestamp_ms: int,
    window_ms: int = DEFAULT_WINDOW_MS,
) -> str:
    _check_window(window_ms)
    pairs = _pairs(params)
    head = f"instruction={instruction}&{pairs}" if pairs else f"instruction={instruction}"
    return f"{head}&timestamp={timestamp_ms}&window={window_ms}"


def batch_signing_string(
    instruction: str,
    items: Sequence[Mapping[str, Any]],
    timestamp_ms: int,
    window_ms: int = DEFAULT_WINDOW_MS,
) -> str:
    _check_window(window_ms)
    parts = []
    for item in items:
        pairs = _pairs(item)
        head = f"instruction={instruction}"
        parts.append(f"{head}&{pairs}" if pairs else head)
    return "&".join(parts) + f"&timestamp={timestamp_ms}&window={window_ms}"


def sign(keys: BackpackKeys, message: str) -> str:
    """Base64 of the 64-byte ED25519 signature of the UTF-8 message."""
    return base64.b64encode(keys.sign_bytes(message.encode())).decode("ascii")


def auth_headers(
    keys: BackpackKeys,
    instruction: str,
    params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None,
    timestamp_ms: int,
    window_ms: int = DEFAULT_WINDOW_MS,
) -> dict[str, str]:
    """The headers of one signed request (a list of mappings = a batch)."""
    if isinstance(params, Sequence) and not isinstance(params, str | bytes):
        message = batch_signing_string(instruction, params, timestamp_ms, window_ms)
    else:
        message = signing_string(instruction, params, timestamp_ms, window_ms)
    return {
        "X-API-Key": keys.api_key,
        "X-Signature": sign(keys, message),
        "X-Timestamp": str(timestamp_ms),
        "X-Window": str(window_ms),
    }


def ws_signature(
    keys: BackpackKeys, timestamp_ms: int, window_ms: int = DEFAULT_WINDOW_MS
) -> list[str]:
    """The ``signature`` array of a private WS ``SUBSCRIBE``."""
    message = signing_string("subscribe", None, timestamp_ms, window_ms)
    return [keys.api_key, sign(keys, message), str(timestamp_ms), str(window_ms)]


# Backpack's instruction name for each signed endpoint (the first part of the
# signing string); the connector signs with it and the emulator verifies with it.
INSTRUCTIONS: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/account"): "accountQuery",
    ("GET", "/api/v1/capital"): "balanceQuery",
    ("GET", "/api/v1/capital/collateral"): "collateralQuery",
    ("GET", "/api/v1/position"): "positionQuery",
    ("GET", "/api/v1/order"): "orderQuery",
    ("GET", "/api/v1/orders"): "orderQueryAll",
    ("POST", "/api/v1/order"): "orderExecute",
    ("POST", "/api/v1/orders"): "orderExecute",
    ("DELETE", "/api/v1/order"): "orderCancel",
    ("DELETE", "/api/v1/orders"): "orderCancelAll",
    ("GET", "/wapi/v1/history/fills"): "fillHistoryQueryAll",
    ("GET", "/wapi/v1/history/orders"): "orderHistoryQueryAll",
    ("GET", "/wapi/v1/history/funding"): "fundingHistoryQueryAll",
    ("GET", "/api/v1/account/limits/order"): "maxOrderQuantity",
}
