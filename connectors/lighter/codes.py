"""Lighter's error codes -> the core's ``ErrorCode`` (one table, REST reads, sendTx and
the WebSocket share it).

Sources (docs/venues/lighter.md has the whole list with its provenance):

* Lighter's "Data Structures, Constants and Errors" page
  (https://apidocs.lighter.xyz/docs/data-structures-constants-and-errors), as transcribed
  in ccxt's ``ts/src/lighter.ts`` (``exceptions.exact``: 21500..21906, 23000..23003);
* the same page's Account codes (21100 account not found, 21109 api key not found, 21110
  invalid api key index, 21120 invalid signature), as transcribed in a public copy of it
  (``AppErrInvalidSignature = NewBusinessError(21120, "invalid signature")``);
* ``21104 invalid nonce`` and ``20001 invalid param``: NautilusTrader's Lighter adapter
  (``common/consts.rs``, ``http/client.rs``) and the SDK, which matches ``invalid nonce``
  in the message text;
* the WebSocket table (30002 Not Subscribed, 30003 Already Subscribed, 30006 Operation
  not supported, 30007 Invalid Data, 30009/30010 too many messages in flight): issue 14's
  reading of Lighter's WebSocket reference and NautilusTrader's recorded error frames
  (``{"type":"error","code":30003,"message":"Already Subscribed to : ticker:3"}``).

A code not in the table keeps ``ErrorCode.VENUE`` with the venue's code in
``venue_code``. Nothing here reads message text.
"""

from __future__ import annotations

import re
from typing import Any

from connectors.common.errors import ErrorCode
from connectors.common.http import Refusal

OK = 200

INVALID_PARAM = 20001
INVALID_AUTH = 20013
"""Guess: the code our emulator gives a refused auth token (the venue's is not documented)."""
INVALID_NONCE = 21104
INVALID_SIGNATURE = 21120
CLIENT_INDEX_EXISTS = 21728
QUEUED_CANCEL_ALL = 21712
TOO_MANY_REQUESTS = 23000

WS_NOT_SUBSCRIBED = 30002
WS_ALREADY_SUBSCRIBED = 30003
WS_NOT_SUPPORTED = 30006
WS_INVALID_DATA = 30007
WS_TOO_MANY_INFLIGHT = (30009, 30010)

CODES: dict[int, str] = {
    INVALID_PARAM: ErrorCode.VENUE,
    INVALID_AUTH: ErrorCode.AUTH,
    INVALID_NONCE: ErrorCode.VENUE,  # handled by the tx path (re-read nextNonce)
    21100: ErrorCode.BAD_KEY,  # account not found (docs/errors, Account codes)
    21109: ErrorCode.BAD_KEY,  # api key not found
    21110: ErrorCode.BAD_KEY,  # invalid api key index
    INVALID_SIGNATURE: ErrorCode.BAD_KEY,  # invalid signature
    21500: ErrorCode.NOT_FOUND,  # transaction not found
    21501: ErrorCode.INVALID_ORDER,  # invalid tx info
    21505: ErrorCode.INVALID_ORDER,  # unsupported tx type
    21506: ErrorCode.RATE_LIMITED,  # too many pending txs, try again later
    21507: ErrorCode.INSUFFICIENT_MARGIN,  # below maintenance margin
    21508: ErrorCode.INSUFFICIENT_MARGIN,  # below initial margin
    21600: ErrorCode.NOT_FOUND,  # given order is not an active limit order
    21601: ErrorCode.TOO_MANY_ORDERS,  # order book is full
    21602: ErrorCode.UNKNOWN_SYMBOL,  # invalid market index
    21603: ErrorCode.INVALID_SIZE,  # invalid min amounts for market
    21605: ErrorCode.UNKNOWN_SYMBOL,  # invalid market status
    21614: ErrorCode.INVALID_ORDER,  # no position found
    21700: ErrorCode.NOT_FOUND,  # invalid order index
    21701: ErrorCode.INVALID_SIZE,  # invalid base amount
    21702: ErrorCode.INVALID_PRICE,  # invalid price
    21703: ErrorCode.INVALID_ORDER,  # invalid isAsk
    21704: ErrorCode.INVALID_ORDER,  # invalid OrderType
    21705: ErrorCode.INVALID_ORDER,  # invalid OrderTimeInForce
    21706: ErrorCode.INVALID_SIZE,  # invalid order base or quote amount
    21707: ErrorCode.NOT_FOUND,  # account is not owner of the order
    21708: ErrorCode.INVALID_SIZE,  # order is empty
    21709: ErrorCode.NOT_FOUND,  # order is inactive
    21710: ErrorCode.INVALID_ORDER,  # unsupported order type
    21711: ErrorCode.INVALID_ORDER,  # invalid expiry
    QUEUED_CANCEL_ALL: ErrorCode.INVALID_ORDER,  # account has a queued cancel all request
    21713: ErrorCode.INVALID_ORDER,  # invalid cancel all time in force
    21714: ErrorCode.INVALID_ORDER,  # invalid cancel all time
    21715: ErrorCode.NOT_FOUND,  # given order is not an active order
    21717: ErrorCode.TOO_MANY_ORDERS,  # maximum active limit order count reached
    21718: ErrorCode.TOO_MANY_ORDERS,  # ... per market
    21719: ErrorCode.TOO_MANY_ORDERS,  # maximum pending order count reached
    21720: ErrorCode.TOO_MANY_ORDERS,  # ... per market
    21727: ErrorCode.INVALID_CLIENT_ID,  # invalid client order index
    CLIENT_INDEX_EXISTS: ErrorCode.DUPLICATE_CLIENT_ID,  # client order index already exists
    21732: ErrorCode.INVALID_ORDER,  # reduce only increases position
    21733: ErrorCode.INVALID_PRICE,  # order price flagged as an accidental price
    21734: ErrorCode.INVALID_PRICE,  # limit order price too far from the mark price
    21738: ErrorCode.INVALID_ORDER,  # invalid reduce only direction
    21739: ErrorCode.INSUFFICIENT_MARGIN,  # not enough margin to create the order
    TOO_MANY_REQUESTS: ErrorCode.RATE_LIMITED,
    23001: ErrorCode.RATE_LIMITED,  # too many subscriptions
    23002: ErrorCode.RATE_LIMITED,  # too many different accounts
    23003: ErrorCode.RATE_LIMITED,  # too many connections
}

_CODE = re.compile(r"code[\"']?\s*[=:]\s*(\d+)")
_MESSAGE = re.compile(r"message[\"']?\s*[=:]\s*[\"']?([^\"'\n}]*)")


def venue_code(payload: Any) -> int | None:
    """The ``code`` of a Lighter body (a dict, or the SDK's exception text that embeds
    ``code=21104 message='...'``); None when there is none."""
    if isinstance(payload, dict):
        code = payload.get("code")
        if isinstance(code, int) and not isinstance(code, bool):
            return code
        if isinstance(code, str) and code.strip().isdecimal() and len(code.strip()) <= 18:
            return int(code.strip())
        return None
    if isinstance(payload, str | bytes):
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
        m = _CODE.search(text)
        return int(m.group(1)) if m and len(m.group(1)) <= 18 else None
    return None


def message_of(payload: Any) -> str:
    if isinstance(payload, dict):
        return str(payload.get("message") or "")[:300]
    if isinstance(payload, str | bytes):
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
        m = _MESSAGE.search(text)
        return (m.group(1) if m else text)[:300].strip()
    return ""


def refusal(code: int | None, message: str = "", *, status: int = 400) -> Refusal:
    """A Lighter code (and HTTP status) -> what the core can act on."""
    mapped = CODES.get(code) if code is not None else None
    if mapped is None:
        if status in (401, 403):
            mapped = ErrorCode.AUTH
        elif status == 429:
            mapped = ErrorCode.RATE_LIMITED
        elif status >= 500:
            mapped = ErrorCode.SERVER_ERROR
        else:
            mapped = ErrorCode.VENUE
    return Refusal(
        code=mapped,
        venue_code=str(code) if code is not None else "",
        message=message,
        retryable=mapped in (ErrorCode.RATE_LIMITED, ErrorCode.SERVER_ERROR),
        rate_limited=mapped == ErrorCode.RATE_LIMITED,
    )


def classify(status: int, payload: Any, raw: bytes) -> Refusal:
    """``HttpClient`` hook: a non-2xx Lighter answer."""
    body = payload if isinstance(payload, dict) else raw
    return refusal(venue_code(body), message_of(body), status=status)


def body_error(payload: Any) -> Refusal | None:
    """``HttpClient`` hook: Lighter answers some errors with HTTP 200 and a ``code`` other
    than 200 (the SDK treats such a body as a success the caller must check)."""
    if not isinstance(payload, dict):
        return Refusal(ErrorCode.BAD_ANSWER, "", "answer is not a JSON object")
    code = venue_code(payload)
    if code is None or code == OK:
        return None
    return refusal(code, message_of(payload))


__all__ = [
    "CLIENT_INDEX_EXISTS",
    "CODES",
    "INVALID_AUTH",
    "INVALID_NONCE",
    "INVALID_PARAM",
    "QUEUED_CANCEL_ALL",
    "TOO_MANY_REQUESTS",
    "WS_ALREADY_SUBSCRIBED",
    "WS_INVALID_DATA",
    "WS_NOT_SUBSCRIBED",
    "WS_NOT_SUPPORTED",
    "WS_TOO_MANY_INFLIGHT",
    "body_error",
    "classify",
    "message_of",
    "refusal",
    "venue_code",
]
