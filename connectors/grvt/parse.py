"""GRVT's answers and feeds read tolerantly, into the core's types.

GRVT sends the same field as a string in one answer and a number in another
(``signature.v`` / ``nonce`` are integers in the ``create_order`` answer and on
``v1.order``, strings in ``open_orders`` / ``order`` / ``order_history``;
``base_decimals`` is ``9`` for one instrument and ``"9"`` for another), and its
spec made fields optional over time (``settlement_period``,
``max_position_size``, a fill's ``mark_price``). grvt-pysdk 0.2.1's strict
decoder raises on those answers, so the connector reads the JSON itself here:
every number through ``connectors.common.units`` (bounded), every field by name,
and a field it cannot read raises ``Unreadable`` naming it. The callers turn that
into one ``VenueError`` naming the endpoint (``answer_error``) or a counted bad
frame — never a silent stop, never a guess.

Sources for every field: ``docs/venues/grvt.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from connectors.base import (
    ZERO,
    ErrorCode,
    Fill,
    Instrument,
    Liquidity,
    OpenOrder,
    OrderStatus,
    OrderUpdate,
    Position,
    Side,
    Trade,
    VenueError,
    VenueOrder,
)
from connectors.common.units import BadNumber, epoch_ms, levels, parse_decimal
from connectors.grvt import clientids

NO_ORDER_ID = frozenset({"", "0x00", "0x0", "0"})
"""``order_id`` values that name no order (``create_order`` answers ``"0x00"``)."""
NO_CLIENT_ID = frozenset({"", "0"})
"""``client_order_id`` values that name no client id (``0`` is the spec's default)."""

STATUS = {
    "PENDING": OrderStatus.PENDING,
    "OPEN": OrderStatus.OPEN,
    "FILLED": OrderStatus.FILLED,
    "CANCELLED": OrderStatus.CANCELLED,
    "REJECTED": OrderStatus.REJECTED,
}
_MAX_INT_DIGITS = 20


class Unreadable(ValueError):
    """A field of a GRVT answer or frame that is missing or not what it must be."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"field {field}: {detail}")
        self.field = field
        self.detail = detail


def answer_error(venue: str, endpoint: str, exc: Exception, *, place: bool = False) -> VenueError:
    """One clear error for an answer we cannot read (a place's outcome is then unknown:
    the venue answered 200, so it may well hold the order)."""
    return VenueError(
        f"{venue}: {endpoint}: unreadable answer: {exc}",
        code=ErrorCode.BAD_ANSWER,
        retryable=not place,
        outcome_unknown=place,
    )


def result(answer: Any, endpoint: str, venue: str, *, place: bool = False) -> Any:
    """An answer's ``result``; an answer without one is ``answer_error``."""
    if not isinstance(answer, Mapping) or "result" not in answer:
        raise answer_error(venue, endpoint, Unreadable("result", "missing"), place=place)
    return answer["result"]


# -- fields -------------------------------------------------------------------------


def obj(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise Unreadable(field, f"{type(value).__name__} is not an object")
    return value


def items(value: Any, field: str) -> list[Any]:
    """A list field; absent (None) is an empty list."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise Unreadable(field, f"{type(value).__name__} is not a list")
    return value


def present(d: Mapping[str, Any], key: str, where: str, *, required: bool) -> Any:
    """The field's value; None when it is absent (None or "") and not ``required``."""
    value = d.get(key)
    if value is None or value == "":
        if required:
            raise Unreadable(f"{where}.{key}", "missing")
        return None
    return value


def text(d: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = present(d, key, where, required=default is None)
    if value is None:
        return default  # type: ignore[return-value]
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Unreadable(f"{where}.{key}", f"{value!r} is not a string")
    return str(value)


def number(d: Mapping[str, Any], key: str, where: str, default: Decimal | None = None) -> Decimal:
    """A decimal field (string or JSON number), bounded; ``default`` when absent."""
    value = present(d, key, where, required=default is None)
    if value is None:
        return default  # type: ignore[return-value]
    try:
        return parse_decimal(value, f"{where}.{key}")
    except BadNumber as exc:
        raise Unreadable(f"{where}.{key}", str(exc)) from None


def integer(d: Mapping[str, Any], key: str, where: str, default: int | None = None) -> int:
    """An integer field sent as a number or as a string of digits."""
    value = present(d, key, where, required=default is None)
    return default if value is None else as_int(value, f"{where}.{key}")  # type: ignore[return-value]


def as_int(value: Any, field: str) -> int:
    if isinstance(value, bool):
        raise Unreadable(field, f"{value!r} is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        digits = value.strip()
        body = digits[1:] if digits[:1] == "-" else digits
        if body.isdecimal() and len(body) <= _MAX_INT_DIGITS:
            return int(digits)
    raise Unreadable(field, f"{str(value)[:40]!r} is not an integer")


def flag(d: Mapping[str, Any], key: str, where: str, default: bool | None = None) -> bool:
    value = d.get(key)
    if value is None:
        if default is None:
            raise Unreadable(f"{where}.{key}", "missing")
        return default
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise Unreadable(f"{where}.{key}", f"{value!r} is not a boolean")


def ns_ms(d: Mapping[str, Any], key: str) -> int:
    """A unix-nanosecond field as milliseconds (0 when absent or unreadable)."""
    return epoch_ms(d.get(key), "ns")


def raw_client_id(value: Any) -> str | None:
    """The ``client_order_id`` exactly as listed (a string), None when it names none."""
    if value is None or isinstance(value, bool):
        return None
    raw = str(value).strip()
    return None if raw in NO_CLIENT_ID else raw


def core_client_id(value: Any) -> str | None:
    """Our core id for a listed ``client_order_id``: decoded when it has our form, the
    plain digits of another tool's id, None when there is none. Never raises."""
    raw = raw_client_id(value)
    return None if raw is None else clientids.from_venue(raw)


def order_id(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    oid = str(value).strip()
    return None if oid in NO_ORDER_ID else oid


def first(d: Mapping[str, Any], key: str, where: str) -> Decimal:
    """The first leg's entry of a per-leg list (``traded_size: ["0.001"]``); 0 if absent."""
    values = items(d.get(key), f"{where}.{key}")
    if not values:
        return ZERO
    try:
        return parse_decimal(values[0], f"{where}.{key}[0]")
    except BadNumber as exc:
        raise Unreadable(f"{where}.{key}[0]", str(exc)) from None


# -- instruments ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SigningAsset:
    """What EIP-712 order signing needs of an instrument (the SDK's message builder
    reads exactly these two attributes)."""

    instrument_hash: str
    base_decimals: int


def instrument(venue: str, d: Any) -> tuple[Instrument, SigningAsset]:
    """One entry of ``instruments`` / ``all_instruments``: tick = ``tick_size``, step
    and minimum = ``min_size`` (``base_decimals`` is the signing scale, not the
    quoting step), ``min_notional`` when given (0 when absent)."""
    d = obj(d, "instrument")
    name = text(d, "instrument", "instrument")
    where = f"instrument[{name}]"
    tick = number(d, "tick_size", where)
    step = number(d, "min_size", where)
    if tick <= 0 or step <= 0:
        raise Unreadable(f"{where}.tick_size", f"tick {tick} / min size {step} must be positive")
    min_notional = number(d, "min_notional", where, ZERO)
    if min_notional < 0:
        raise Unreadable(f"{where}.min_notional", f"{min_notional} is negative")
    base_decimals = integer(d, "base_decimals", where)
    if not 0 <= base_decimals <= 18:
        raise Unreadable(f"{where}.base_decimals", f"{base_decimals} is out of range")
    asset = text(d, "instrument_hash", where)
    try:
        int(asset, 16)
    except ValueError:
        raise Unreadable(f"{where}.instrument_hash", f"{asset!r} is not hex") from None
    kind = text(d, "kind", where, "PERPETUAL")
    inst = Instrument(
        venue=venue,
        symbol=name,
        base=text(d, "base", where),
        quote=text(d, "quote", where),
        tick_size=tick,
        step_size=step,
        min_size=step,
        min_notional=min_notional,
        contract_type="perp" if kind == "PERPETUAL" else kind.lower(),
    )
    return inst, SigningAsset(asset, base_decimals)


# -- orders ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GrvtOrder:
    """One GRVT order object (``create_order`` / ``order`` / ``open_orders`` /
    ``order_history`` answers and ``v1.order`` pushes), read."""

    order_id: str | None
    raw_client_id: str | None
    client_id: str | None
    symbol: str
    side: Side
    price: Decimal | None
    size: Decimal
    status: OrderStatus
    """PENDING / OPEN / FILLED / CANCELLED / REJECTED as GRVT says (no partial state)."""
    reason: str
    traded: Decimal
    book_size: Decimal
    post_only: bool
    reduce_only: bool
    ts_ms: int

    @property
    def core_status(self) -> OrderStatus:
        if self.status is OrderStatus.OPEN and self.traded > 0:
            return OrderStatus.PARTIALLY_FILLED
        return self.status


def order(d: Any, where: str = "order") -> GrvtOrder:
    d = obj(d, where)
    legs = items(d.get("legs"), f"{where}.legs")
    if not legs:
        raise Unreadable(f"{where}.legs", "no leg")
    # an order book order has one leg; another tool's RFQ order may have more: it is
    # shown by its first leg, as ccxt's parseOrder does
    leg = obj(legs[0], f"{where}.legs[0]")
    lwhere = f"{where}.legs[0]"
    state = obj(d.get("state"), f"{where}.state")
    swhere = f"{where}.state"
    raw_status = text(state, "status", swhere)
    status = STATUS.get(raw_status)
    if status is None:
        raise Unreadable(f"{swhere}.status", f"unknown status {raw_status!r}")
    reason = text(state, "reject_reason", swhere, "UNSPECIFIED")
    metadata = obj(d.get("metadata") or {}, f"{where}.metadata")
    raw_cid = raw_client_id(metadata.get("client_order_id"))
    is_market = flag(d, "is_market", where, False)
    price = number(leg, "limit_price", lwhere, ZERO)
    return GrvtOrder(
        order_id=order_id(d.get("order_id")),
        raw_client_id=raw_cid,
        client_id=None if raw_cid is None else clientids.from_venue(raw_cid),
        symbol=text(leg, "instrument", lwhere),
        side=Side.BUY if flag(leg, "is_buying_asset", lwhere) else Side.SELL,
        price=None if is_market or price == 0 else price,
        size=number(leg, "size", lwhere),
        status=status,
        reason="" if reason == "UNSPECIFIED" else reason,
        traded=first(state, "traded_size", swhere),
        book_size=first(state, "book_size", swhere),
        post_only=flag(d, "post_only", where, False),
        reduce_only=flag(d, "reduce_only", where, False),
        ts_ms=ns_ms(state, "update_time"),
    )


def order_update(venue: str, o: GrvtOrder) -> OrderUpdate | None:
    """A GRVT order as the core's ``OrderUpdate``; None while it is PENDING (its
    outcome follows). Orders of other tools come with their raw id (or None)."""
    if o.status is OrderStatus.PENDING:
        return None
    return OrderUpdate(
        venue=venue,
        symbol=o.symbol,
        client_id=o.client_id,
        venue_order_id=o.order_id,
        status=o.core_status,
        filled_size=o.traded,
        remaining_size=o.book_size,
        reason=o.reason,
        ts_ms=o.ts_ms,
    )


def open_order(venue: str, o: GrvtOrder) -> OpenOrder:
    if o.order_id is None:
        raise Unreadable("order_id", "a resting order without an order id")
    return OpenOrder(
        venue=venue,
        symbol=o.symbol,
        client_id=o.client_id,
        venue_order_id=o.order_id,
        side=o.side,
        price=o.price if o.price is not None else ZERO,
        size=o.size,
        remaining_size=o.book_size if o.book_size > 0 else max(ZERO, o.size - o.traded),
        post_only=o.post_only,
        reduce_only=o.reduce_only,
        venue_client_id=o.raw_client_id,
    )


def venue_order(venue: str, o: GrvtOrder) -> VenueOrder:
    return VenueOrder(
        venue=venue,
        symbol=o.symbol,
        client_id=o.client_id,
        venue_order_id=o.order_id,
        status=o.core_status,
        side=o.side,
        price=o.price,
        size=o.size,
        filled_size=o.traded,
        reason=o.reason,
    )


# -- fills, positions, trades, books -----------------------------------------------------


def fill(venue: str, d: Any, where: str = "fill") -> Fill:
    """A ``v1.fill`` push or a ``fill_history`` entry. A fill of no order of ours (a
    liquidation, another tool's order) keeps client id None or the raw id."""
    d = obj(d, where)
    trade_id = text(d, "trade_id", where)
    return Fill(
        venue=venue,
        symbol=text(d, "instrument", where),
        client_id=core_client_id(d.get("client_order_id")),
        venue_order_id=order_id(d.get("order_id")),
        side=Side.BUY if flag(d, "is_buyer", where) else Side.SELL,
        price=number(d, "price", where),
        size=number(d, "size", where),
        fee=number(d, "fee", where, ZERO),
        liquidity=Liquidity.TAKER if flag(d, "is_taker", where, False) else Liquidity.MAKER,
        trade_id=trade_id,
        ts_ms=ns_ms(d, "event_time"),
    )


def position(venue: str, d: Any, where: str = "position") -> Position:
    """A position: ``size`` is signed (short < 0)."""
    d = obj(d, where)
    return Position(
        venue=venue,
        symbol=text(d, "instrument", where),
        size=number(d, "size", where),
        entry_price=number(d, "entry_price", where, ZERO),
        unrealized_pnl=number(d, "unrealized_pnl", where, ZERO),
        realized_pnl=number(d, "realized_pnl", where, ZERO),
        ts_ms=ns_ms(d, "event_time"),
    )


def trade(venue: str, d: Any) -> Trade:
    d = obj(d, "trade")
    return Trade(
        venue,
        text(d, "instrument", "trade"),
        Side.BUY if flag(d, "is_taker_buyer", "trade") else Side.SELL,
        number(d, "price", "trade"),
        number(d, "size", "trade"),
        ns_ms(d, "event_time"),
        str(d.get("trade_id") or "")[:80],
    )


def book_side(
    raw: Any, tick: Decimal, step: Decimal, field: str, *, snapshot: bool
) -> list[tuple[int, int]]:
    """``[{price, size, num_orders}, ...]`` -> ``[(ticks, lots), ...]`` on the grid."""
    entries = []
    for i, lv in enumerate(items(raw, field)):
        lv = obj(lv, f"{field}[{i}]")
        entries.append((lv.get("price"), lv.get("size")))
    try:
        return levels(entries, tick, step, allow_zero=not snapshot)
    except BadNumber as exc:
        raise Unreadable(field, str(exc)) from None


__all__ = [
    "NO_CLIENT_ID",
    "NO_ORDER_ID",
    "GrvtOrder",
    "SigningAsset",
    "Unreadable",
    "answer_error",
    "book_side",
    "core_client_id",
    "fill",
    "instrument",
    "open_order",
    "order",
    "order_update",
    "position",
    "raw_client_id",
    "result",
    "trade",
    "venue_order",
]
