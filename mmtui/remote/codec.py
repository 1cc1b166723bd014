"""The wire encoding between a served core and its viewers: tagged JSON.

Why not pickle, not even a restricted unpickler: a pickle is a program, and a
restricted ``find_class`` still runs ``__reduce__``/``__setstate__`` paths of every
class it allows; the read model's views are plain frozen dataclasses, Decimals,
enums and tuples, so an explicit encoding of exactly those is short, and
decoding can only ever build the classes listed in ``CLASSES`` and ``ENUMS``
(by name, from their fields, through their own constructors). Anything else
in a frame is an error naming what was wrong; nothing is imported or called by
name from the data.

Forms (JSON): ``null``/bool/int/float/str as is; a tuple is a JSON array;
a list ``{"L": [...]}``; a dict ``{"M": [[k, v], ...]}``; a Decimal
``{"D": "1.25"}``; an enum ``{"E": "Side", "v": "buy"}``; a dataclass
``{"C": "OrderRow", "f": [field values in declaration order]}``; a path
``{"P": "/a/b"}``.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import re
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path, PurePath
from typing import Any

from connectors.base import (
    AccountState,
    Balance,
    ConnectionState,
    FundingPayment,
    Liquidity,
    MarketAccount,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    Trade,
)
from mmtui.core.alerts import Alert
from mmtui.core.fill_history import FillRecord
from mmtui.core.latency import LatencyStat, LatencyView
from mmtui.core.params import ParamRow
from mmtui.core.pnl_history import PnlPoint
from mmtui.core.readmodel import (
    BookView,
    EventRow,
    HeaderView,
    OrderRow,
    OurLevel,
    PositionRow,
    StrategyView,
    VenueView,
)
from mmtui.core.risk import RiskState
from mmtui.core.runner import StrategyState
from mmtui.core.summary import FlattenLine, FlattenReport, RunSummary, VenuePosition
from mmtui.core.telemetry import TelemetryView
from mmtui.core.venue_views import AccountView, BookAge, HealthView, SessionInfo
from mmtui.logsetup import LogLine
from strategies.base import PlannedOrder

CLASSES: dict[str, type] = {
    c.__name__: c
    for c in (
        AccountState,
        AccountView,
        Alert,
        Balance,
        BookAge,
        BookView,
        EventRow,
        FillRecord,
        FlattenLine,
        FlattenReport,
        FundingPayment,
        HeaderView,
        HealthView,
        LatencyStat,
        LatencyView,
        LogLine,
        MarketAccount,
        OrderRow,
        OurLevel,
        ParamRow,
        PlannedOrder,
        PnlPoint,
        PositionRow,
        RunSummary,
        SessionInfo,
        StrategyView,
        TelemetryView,
        Trade,
        VenuePosition,
        VenueView,
    )
}
ENUMS: dict[str, type[enum.Enum]] = {
    e.__name__: e
    for e in (
        ConnectionState,
        Liquidity,
        OrderStatus,
        OrderType,
        RiskState,
        Side,
        StrategyState,
        TimeInForce,
    )
}
_FIELDS = {name: tuple(f.name for f in dataclasses.fields(cls)) for name, cls in CLASSES.items()}
MAX_DEPTH = 32
_PLAIN = frozenset((int, float, str, bool, type(None)))
MAX_EXPONENT = 1000
"""A Decimal's magnitude on the wire: prices and sizes are nowhere near."""


class CodecError(ValueError):
    """A value that cannot be encoded, or data that is not a message we know."""


def to_wire(value: Any) -> Any:
    """``value`` as JSON-able data in the forms above (raises CodecError otherwise)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, tuple):
        if all(type(v) in _PLAIN for v in value):  # a series of numbers: as is
            return list(value)
        return [to_wire(v) for v in value]
    if isinstance(value, Decimal):
        return {"D": str(value)}
    if isinstance(value, enum.Enum):
        name = type(value).__name__
        if ENUMS.get(name) is not type(value):
            raise CodecError(f"enum {name} is not on the wire's list")
        return {"E": name, "v": value.value}
    if isinstance(value, list):
        return {"L": [to_wire(v) for v in value]}
    if isinstance(value, PurePath):
        return {"P": str(value)}
    if isinstance(value, dict):
        return {"M": [[to_wire(k), to_wire(v)] for k, v in value.items()]}
    name = type(value).__name__
    if CLASSES.get(name) is type(value):
        if isinstance(value, FlattenReport):
            # its kept exits are the core's live Order records: the viewer gets them
            # described in the notes instead
            return {"C": name, "f": [_flatten_fields(value)]}
        return {"C": name, "f": [to_wire(getattr(value, f)) for f in _FIELDS[name]]}
    raise CodecError(f"{type(value).__name__} is not on the wire's list")


def _flatten_fields(report: FlattenReport) -> Any:
    from mmtui.core.summary import describe_kept

    kept = [f"exit kept: {describe_kept(o)}" for o in report.kept]
    return to_wire(
        {
            "action": report.action,
            "lines": report.lines,
            "open_orders_left": report.open_orders_left,
            "orders_unverified": report.orders_unverified,
            "notes": [*report.notes, *kept],
        }
    )


INTERNED_LEN = 40
"""Decoded strings this short are interned."""


def from_wire(data: Any, depth: int = 0) -> Any:
    """Build the value ``to_wire`` made; only the listed classes, else CodecError."""
    if depth > MAX_DEPTH:
        raise CodecError(f"nested deeper than {MAX_DEPTH}")
    if isinstance(data, str):
        # names, symbols, venues, states: one object each, not one per frame (a
        # console keeps thousands of decoded log lines and PnL points)
        return sys.intern(data) if len(data) <= INTERNED_LEN else data
    if data is None or isinstance(data, (bool, int, float)):
        return data
    if isinstance(data, list):
        return tuple(from_wire(v, depth + 1) for v in data)
    if not isinstance(data, dict) or len(data) not in (1, 2):
        raise CodecError(f"unknown form {_short(data)}")
    if "D" in data and len(data) == 1:
        text = data["D"]
        if not isinstance(text, str) or len(text) > 64:
            raise CodecError(f"bad decimal {_short(text)}")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise CodecError(f"bad decimal {_short(text)}") from None
        if number.is_finite() and abs(number.adjusted()) > MAX_EXPONENT:
            raise CodecError(f"bad decimal {_short(text)}: exponent beyond {MAX_EXPONENT}")
        return number
    if "L" in data and len(data) == 1:
        return [from_wire(v, depth + 1) for v in _array(data["L"])]
    if "P" in data and len(data) == 1:
        if not isinstance(data["P"], str) or len(data["P"]) > 4096:
            raise CodecError(f"bad path {_short(data['P'])}")
        return Path(data["P"])
    if "M" in data and len(data) == 1:
        out = {}
        for pair in _array(data["M"]):
            if not isinstance(pair, list) or len(pair) != 2:
                raise CodecError(f"bad mapping entry {_short(pair)}")
            key = from_wire(pair[0], depth + 1)
            try:
                out[key] = from_wire(pair[1], depth + 1)
            except TypeError:
                raise CodecError(f"unhashable mapping key {_short(pair[0])}") from None
        return out
    if "E" in data and "v" in data:
        cls = ENUMS.get(data["E"]) if isinstance(data["E"], str) else None
        if cls is None:
            raise CodecError(f"unknown enum {_short(data['E'])}")
        try:
            return cls(data["v"])
        except ValueError:
            raise CodecError(f"{data['E']} has no value {_short(data['v'])}") from None
    if "C" in data and "f" in data:
        return _build(data["C"], data["f"], depth)
    raise CodecError(f"unknown form {_short(data)}")


def _build(name: Any, fields: Any, depth: int) -> Any:
    cls = CLASSES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise CodecError(f"unknown class {_short(name)}")
    values = _array(fields)
    if cls is FlattenReport:
        if len(values) != 1:
            raise CodecError("FlattenReport: bad fields")
        body = from_wire(values[0], depth + 1)
        if not isinstance(body, dict):
            raise CodecError("FlattenReport: bad fields")
        try:
            return FlattenReport(**body)
        except TypeError as exc:
            raise CodecError(f"FlattenReport: {exc}") from None
    if len(values) != len(_FIELDS[name]):
        raise CodecError(f"{name}: {len(values)} fields, expected {len(_FIELDS[name])}")
    try:
        return cls(*(from_wire(v, depth + 1) for v in values))
    except TypeError as exc:
        raise CodecError(f"{name}: {exc}") from None


def _array(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise CodecError(f"expected an array, got {_short(value)}")
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def encode(message: dict[str, Any]) -> bytes:
    """One message (a dict of str keys) as UTF-8 JSON bytes."""
    return json.dumps({k: to_wire(v) for k, v in message.items()}, separators=(",", ":")).encode()


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
MAX_JSON_DEPTH = 100


def _nesting(payload: bytes) -> int:
    """How deep the JSON's brackets nest (strings skipped), without parsing it: the C
    parser recurses, and a deep enough payload overflows the stack (a crash, not an
    error) wherever the recursion limit was raised."""
    brackets = _STRING.sub(b"", payload).translate(None, _NOT_BRACKETS)
    depth = deepest = 0
    for b in brackets:
        if b in (0x5B, 0x7B):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_JSON_DEPTH:
                    break
        else:
            depth -= 1
    return deepest


def decode(payload: bytes) -> dict[str, Any]:
    """The message ``encode`` made; CodecError for anything else."""
    if _nesting(payload) > MAX_JSON_DEPTH:
        raise CodecError(f"not JSON we take: nested deeper than {MAX_JSON_DEPTH}")
    try:
        raw = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CodecError(f"not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise CodecError(f"a message is a JSON object, got {type(raw).__name__}")
    out = {}
    for key, value in raw.items():
        out[key] = from_wire(value)
    if not isinstance(out.get("type"), str):
        raise CodecError("a message needs a string 'type'")
    return out


__all__ = ["CLASSES", "ENUMS", "CodecError", "decode", "encode", "from_wire", "to_wire"]
