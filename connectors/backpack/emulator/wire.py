"""Pure helpers of the Backpack emulator: the venue's number and time forms, its
error answers, request-parameter checks and its pagination. No state, no I/O.

The forms are the recorded ones (``tests/fixtures/venues/backpack/``; sources in
``docs/venues/backpack.md``): order objects carry plain decimals ("3000",
"0.001"), history times are naive ISO date-times in UTC with milliseconds,
streams carry market-decimal strings and microsecond times.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from aiohttp import web

from connectors.emulation.faults import HttpFault

MAX_WINDOW_MS = 60_000
DEFAULT_WINDOW_MS = 5_000
FUTURE_TOLERANCE_MS = 1_000
"""[EMU] how far in the future a request's timestamp may be."""
U32 = 2**32 - 1
PAGE_DEFAULT = 100
PAGE_MAX = 1000
DEPTH_INTERVALS = ("200ms", "600ms", "1000ms")

CODE_STATUS = {
    "UNAUTHORIZED": 401,
    "INVALID_SIGNATURE": 401,
    "FORBIDDEN": 403,
    "RESOURCE_NOT_FOUND": 404,
    "TOO_MANY_REQUESTS": 429,
    "SERVER_ERROR": 500,
    "SERVICE_UNAVAILABLE": 503,
    "MAINTENANCE": 503,
    "TIMEOUT": 504,
}

SERVICE_UNAVAILABLE = "Unknown error, please check your request or try again later."
"""The 503 body Hummingbot's Backpack connector recognises as "maybe placed"."""
DUPLICATE_CLIENT_ID = "Order with client ID already exists: {}"
"""The venue's refusal of a live duplicate client id (recorded in ccxt's backpack.ts)."""
POST_ONLY_CROSS = "Order would immediately match and take liquidity"
"""Hummingbot's fixture of a crossing post-only refusal (code INVALID_ORDER)."""


class BackpackError(Exception):
    """A refusal in the venue's error form: HTTP ``status``, ``{"code", "message"}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def bad(message: str, code: str = "INVALID_CLIENT_REQUEST") -> BackpackError:
    return BackpackError(CODE_STATUS.get(code, 400), code, message)


def not_found(message: str = "Not Found") -> BackpackError:
    return BackpackError(404, "RESOURCE_NOT_FOUND", message)


def error_answer(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps({"code": code, "message": message}),
        status=status,
        headers=headers,
        content_type="application/json",
    )


def render_refusal(err: BackpackError) -> web.Response:
    return error_answer(err.status, err.code, err.message)


def server_error() -> web.Response:
    return error_answer(500, "SERVER_ERROR", "Internal server error")


def fault_answer(fault: HttpFault) -> web.Response:
    """An injected HTTP fault in the venue's form."""
    if fault.status == 429:
        headers = {}
        if fault.retry_after_s is not None:
            headers["Retry-After"] = str(max(0, round(fault.retry_after_s)))
        return error_answer(429, "TOO_MANY_REQUESTS", "Rate limit exceeded", headers)
    if fault.status == 503:
        return error_answer(503, "SERVICE_UNAVAILABLE", SERVICE_UNAVAILABLE)
    if fault.status == 504:
        return error_answer(504, "TIMEOUT", "Request timed out")
    return error_answer(fault.status, "SERVER_ERROR", "Internal server error")


# -- numbers and times ------------------------------------------------------------


def decimals_of(increment: Decimal) -> int:
    return max(0, -int(increment.normalize().as_tuple().exponent))


def fixed(value: Decimal, places: int) -> str:
    """A stream/depth number: exactly the market's decimals ("0.0010", "117357.0")."""
    text = format(value.quantize(Decimal(1).scaleb(-places)), "f")
    return "0" + text[2:] if text.startswith("-0") and Decimal(text) == 0 else text


def plain(value: Decimal, max_places: int | None = 10) -> str:
    """An order-object number: no trailing zeros ("3000", "0.001", "20.154"); with
    ``max_places`` None every digit the value has (a recorded entry price reads
    "3826.8888888888888888888888889")."""
    q = value if max_places is None else value.quantize(Decimal(1).scaleb(-max_places))
    text = format(q.normalize(), "f")
    return "0" if Decimal(text) == 0 else text


def iso_ms(ms: int) -> str:
    """History time: naive ISO in UTC with milliseconds ("2026-09-01T17:54:04.094")."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def iso_us(ms: int) -> str:
    """A market's ``createdAt``: microseconds ("2025-01-21T06:34:54.691858")."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


# -- request parameters ------------------------------------------------------------


def flag(params: Mapping[str, Any], key: str) -> bool:
    value = params.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise bad(f"{key} must be a boolean")
    return value


def client_id(value: Any) -> int:
    if isinstance(value, bool):
        raise bad("clientId must be an unsigned 32-bit integer")
    try:
        cid = int(str(value))
    except ValueError:
        raise bad("clientId must be an unsigned 32-bit integer") from None
    if not 0 <= cid <= U32:
        raise bad("clientId must be an unsigned 32-bit integer")
    return cid


def decimal(value: Any, code: str, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise bad(f"{name} must be a decimal string", code)
    if len(str(value)) > 48:
        raise bad(f"{name} is too long", code)
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise bad(f"{name} is not a decimal", code) from None
    if not d.is_finite():
        raise bad(f"{name} is not a finite decimal", code)
    return d


def int_param(params: Mapping[str, Any], key: str) -> int | None:
    value = params.get(key)
    if value is None:
        return None
    try:
        return int(str(value))
    except ValueError:
        raise bad(f"{key} must be an integer") from None


def page(items: list[Any], params: Mapping[str, Any]) -> web.Response:
    """One page of a history endpoint with the venue's paging headers.

    ``items`` come oldest first; ``sortDirection`` (default ``Desc``: newest first,
    as recorded) orders them, then ``offset``/``limit`` (default 100, max 1000) cut."""
    direction = params.get("sortDirection") or "Desc"
    if direction not in ("Asc", "Desc"):
        raise bad("sortDirection must be Asc or Desc")
    ordered = items if direction == "Asc" else list(reversed(items))
    limit = int_param(params, "limit")
    limit = PAGE_DEFAULT if limit is None else max(1, min(limit, PAGE_MAX))
    offset = max(0, int_param(params, "offset") or 0)
    chunk = ordered[offset : offset + limit]
    total = len(items)
    headers = {
        "X-Total": str(total),
        "X-Page-Size": str(limit),
        "X-Current-Page": str(offset // limit + 1),
        "X-Page-Count": str(max(1, math.ceil(total / limit))),
    }
    return web.Response(body=orjson.dumps(chunk), headers=headers, content_type="application/json")


# -- order outcomes ------------------------------------------------------------------

EXPIRY_REASONS = (
    ("self-trade", "SelfTradePrevention"),
    ("reduce-only", "ReduceOnlyNotReduced"),
    ("fill-or-kill", "FillOrKill"),
)
"""Sim reasons -> the venue's ``OrderExpiryReason`` (PascalCase, OpenAPI enum)."""


def expiry_reason(reason: str) -> str:
    for key, wire in EXPIRY_REASONS:
        if key in reason:
            return wire
    return "ImmediateOrCancel"


def reject_error(reason: str, client_id: int | None) -> BackpackError:
    """A sim rejection as the venue answers it."""
    if reason.isupper() and reason.replace("_", "").isalpha():
        return BackpackError(CODE_STATUS.get(reason, 400), reason, reason)  # injected code
    if "duplicate client id" in reason:
        return bad(DUPLICATE_CLIENT_ID.format(client_id), "INVALID_ORDER")
    if "post-only" in reason:
        return bad(POST_ONLY_CROSS, "INVALID_ORDER")
    return bad(reason, "INVALID_ORDER")


__all__ = [
    "BackpackError",
    "bad",
    "error_answer",
    "expiry_reason",
    "fault_answer",
    "fixed",
    "iso_ms",
    "page",
    "plain",
    "reject_error",
    "render_refusal",
    "server_error",
]
