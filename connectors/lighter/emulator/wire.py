"""Pure helpers of the Lighter emulator: the venue's constants and error table, number
formatting, tx-info structure checks, auth-token parsing and the refusal type. No state,
no I/O (tested through the emulator).

Error codes are Lighter's (https://apidocs.lighter.xyz/docs/data-structures-constants-and-errors
as transcribed in ccxt ``ts/src/lighter.ts``; 21104 and 20001 as NautilusTrader's adapter and
the SDK see them); the ones marked *guess* have no published code and are ours.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

# -- venue constants (spec 2.2) -------------------------------------------------

TX_CREATE_ORDER = 14
TX_CANCEL_ORDER = 15
TX_CANCEL_ALL = 16
TX_MODIFY_ORDER = 17

ORDER_TYPE_LIMIT = 0
ORDER_TYPE_MARKET = 1
TIF_IOC = 0
TIF_GTT = 1
TIF_POST_ONLY = 2
CANCEL_ALL_IMMEDIATE = 0
CANCEL_ALL_SCHEDULED = 1
CANCEL_ALL_ABORT = 2

MAX_CLIENT_ORDER_INDEX = 2**48 - 1
ORDER_INDEX_BASE = 2**48
MAX_BASE_AMOUNT = 2**48 - 1
MAX_PRICE = 2**32 - 1
NIL_MARKET = 255
SIG_BYTES = 80
MARKET_ATTRIBUTE = "5"
"""Key of the market filter inside ``L2TxAttributes`` of a cancel-all."""

TX_KEYS: dict[int, tuple[str, ...]] = {
    TX_CREATE_ORDER: (
        "AccountIndex",
        "ApiKeyIndex",
        "MarketIndex",
        "ClientOrderIndex",
        "BaseAmount",
        "Price",
        "IsAsk",
        "Type",
        "TimeInForce",
        "ReduceOnly",
        "TriggerPrice",
        "OrderExpiry",
        "ExpiredAt",
        "Nonce",
        "Sig",
        "L2TxAttributes",
    ),
    TX_CANCEL_ORDER: (
        "AccountIndex",
        "ApiKeyIndex",
        "MarketIndex",
        "Index",
        "ExpiredAt",
        "Nonce",
        "Sig",
        "L2TxAttributes",
    ),
    TX_CANCEL_ALL: (
        "AccountIndex",
        "ApiKeyIndex",
        "TimeInForce",
        "Time",
        "ExpiredAt",
        "Nonce",
        "Sig",
        "L2TxAttributes",
    ),
    TX_MODIFY_ORDER: (
        "AccountIndex",
        "ApiKeyIndex",
        "MarketIndex",
        "Index",
        "BaseAmount",
        "Price",
        "TriggerPrice",
        "ExpiredAt",
        "Nonce",
        "Sig",
        "L2TxAttributes",
    ),
}

# -- error codes ------------------------------------------------------------------------

CODE_OK = 200
CODE_INVALID_PARAM = 20001
CODE_INVALID_AUTH = 20013  # guess
CODE_ACCOUNT_NOT_FOUND = 21100  # guess
CODE_INVALID_SIGNATURE = 21120  # docs/errors: AppErrInvalidSignature
CODE_TX_EXPIRED = 21103  # guess
CODE_INVALID_NONCE = 21104
CODE_API_KEY_NOT_FOUND = 21109  # guess
CODE_INVALID_TX_INFO = 21501
CODE_INVALID_TX_TYPE = 21505
CODE_INVALID_MARKET = 21602
CODE_INVALID_BASE_AMOUNT = 21701
CODE_INVALID_PRICE = 21702
CODE_INVALID_IS_ASK = 21703
CODE_INVALID_ORDER_TYPE = 21704
CODE_INVALID_TIME_IN_FORCE = 21705
CODE_INVALID_AMOUNTS = 21706
"""invalid order base or quote amount: below the market's minimum size or notional"""
CODE_INVALID_ORDER_EXPIRY = 21711
CODE_QUEUED_CANCEL_ALL = 21712
"""account has a queued cancel all orders request"""
CODE_INVALID_CANCEL_ALL_TIF = 21713
CODE_INVALID_CANCEL_ALL_TIME = 21714
CODE_INVALID_CLIENT_ORDER_INDEX = 21727
CODE_DUPLICATE_CLIENT_ORDER_INDEX = 21728
CODE_TOO_MANY_REQUESTS = 23000
CODE_SERVER_ERROR = 29500  # guess

WS_NOT_SUBSCRIBED = 30002
WS_ALREADY_SUBSCRIBED = 30003
WS_NOT_SUPPORTED = 30006
WS_INVALID_DATA = 30007


class LighterError(Exception):
    """A refusal the emulator answers with ``{"code": code, "message": message}``."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(f"HTTP {status} code={code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}


def bad(code: int, message: str) -> LighterError:
    return LighterError(400, code, message)


# -- numbers ----------------------------------------------------------------------


def fmt(value: Decimal, places: int) -> str:
    """``value`` with exactly ``places`` decimals, never ``-0.00``."""
    text = format(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN), "f")
    if text.startswith("-") and Decimal(text) == 0:
        text = text[1:]
    return text


def scaled(value: Decimal, places: int) -> int:
    """``value * 10**places`` (exact for values on the grid)."""
    return int((value * (Decimal(10) ** places)).to_integral_value())


def unscaled(value: int, places: int) -> Decimal:
    return Decimal(value).scaleb(-places)


def fee_rate_units(rate: Decimal) -> int:
    """A fee rate in millionths: 0.0002 (0.02 %) -> 200."""
    return int((rate * 1_000_000).to_integral_value())


# -- tx info --------------------------------------------------------------------------


def parse_tx_info(tx_type: int, raw: Any) -> dict[str, Any]:
    """The tx-info object of ``tx_type`` with its structure checked: exactly the keys the
    1.1.8 signer emits, integer fields, ``Sig`` = base64 of 80 bytes,
    ``L2TxAttributes`` null or an object."""
    keys = TX_KEYS.get(tx_type)
    if keys is None:
        raise bad(CODE_INVALID_TX_TYPE, f"invalid tx type {tx_type}")
    if isinstance(raw, str):
        try:
            info = json.loads(raw)
        except ValueError:
            raise bad(CODE_INVALID_TX_INFO, "invalid tx info: not JSON") from None
    else:
        info = raw
    if not isinstance(info, dict):
        raise bad(CODE_INVALID_TX_INFO, "invalid tx info: not a JSON object")
    missing = [k for k in keys if k not in info]
    if missing:
        raise bad(CODE_INVALID_TX_INFO, f"invalid tx info: missing field {missing[0]}")
    extra = sorted(set(info) - set(keys))
    if extra:
        raise bad(CODE_INVALID_TX_INFO, f"invalid tx info: unknown field {extra[0]}")
    for key in keys:
        if key in ("Sig", "L2TxAttributes"):
            continue
        value = info[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad(CODE_INVALID_TX_INFO, f"invalid tx info: {key} must be an integer")
    check_sig(info["Sig"])
    attrs = info["L2TxAttributes"]
    if attrs is not None and not isinstance(attrs, dict):
        raise bad(CODE_INVALID_TX_INFO, "invalid tx info: L2TxAttributes must be null or object")
    return info


def check_sig(sig: Any) -> None:
    if not isinstance(sig, str):
        raise bad(CODE_INVALID_SIGNATURE, "invalid signature: Sig must be a base64 string")
    try:
        raw = base64.b64decode(sig, validate=True)
    except (binascii.Error, ValueError):
        raise bad(CODE_INVALID_SIGNATURE, "invalid signature: Sig is not base64") from None
    if len(raw) != SIG_BYTES:
        raise bad(
            CODE_INVALID_SIGNATURE,
            f"invalid signature: Sig must be {SIG_BYTES} bytes, got {len(raw)}",
        )


def in_range(info: dict[str, Any], key: str, lo: int, hi: int, code: int) -> int:
    value = int(info[key])
    if not lo <= value <= hi:
        raise bad(code, f"invalid {key}: {value} not in [{lo}, {hi}]")
    return value


def market_filter(info: dict[str, Any]) -> int | None:
    """The market of a cancel-all's ``L2TxAttributes`` filter (None: all markets)."""
    attrs = info.get("L2TxAttributes")
    if not attrs:
        return None
    extra = sorted(set(attrs) - {MARKET_ATTRIBUTE})
    if extra:
        raise bad(CODE_INVALID_TX_INFO, f"invalid tx info: unknown L2TxAttributes key {extra[0]}")
    value = attrs.get(MARKET_ATTRIBUTE)
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad(CODE_INVALID_TX_INFO, "invalid tx info: L2TxAttributes market must be int")
    return None if value == NIL_MARKET else value


# -- auth tokens ---------------------------------------------------------------------

_TOKEN = re.compile(r"^(\d{1,12}):(\d{1,12}):(\d{1,3}):([0-9a-fA-F]{160})$")


@dataclass(frozen=True, slots=True)
class AuthToken:
    expiry_s: int
    account_index: int
    api_key_index: int
    text: str


def parse_token(text: str | None) -> AuthToken | None:
    """``expiry:account:key:<160 hex>`` or None when malformed."""
    if not text:
        return None
    m = _TOKEN.match(text.strip())
    if m is None:
        return None
    return AuthToken(int(m.group(1)), int(m.group(2)), int(m.group(3)), text.strip())
