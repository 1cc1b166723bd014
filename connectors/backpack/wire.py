"""Backpack's wire forms -> the core's types (pure functions, no I/O).

Everything here is what the connector calls on what the venue sends: REST
bodies (order objects, fill history, positions, markets, depth) and stream
payloads (``account.orderUpdate``, ``account.positionUpdate``, ``trade``,
``depth``). Each form is the one recorded from the live venue or documented by
it; ``docs/venues/backpack.md`` names the source of each. Numbers go through the
bounded parsers of ``connectors.common.units``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from connectors.base import (
    ZERO,
    ErrorCode,
    Fill,
    Instrument,
    Liquidity,
    OpenOrder,
    OrderRequest,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Position,
    Side,
    TimeInForce,
    VenueError,
    VenueOrder,
)
from connectors.common.http import Refusal, default_classify
from connectors.common.units import (
    BadNumber,
    Level,
    decimal_string,
    epoch_ms,
    optional_decimal,
    parse_decimal,
    to_units,
)

SIDE = {"Bid": Side.BUY, "Ask": Side.SELL}
WIRE_SIDE = {Side.BUY: "Bid", Side.SELL: "Ask"}

STATUS: dict[str, OrderStatus] = {
    "New": OrderStatus.OPEN,
    "PartiallyFilled": OrderStatus.PARTIALLY_FILLED,
    "Filled": OrderStatus.FILLED,
    "Cancelled": OrderStatus.CANCELLED,
    "Expired": OrderStatus.EXPIRED,
    "TriggerPending": OrderStatus.PENDING,
    "TriggerFailed": OrderStatus.REJECTED,
}
"""Order ``status`` / stream ``X`` (OpenAPI OrderStatus)."""

EVENT_STATUS: dict[str, OrderStatus] = {
    "orderAccepted": OrderStatus.OPEN,
    "orderCancelled": OrderStatus.CANCELLED,
    "orderExpired": OrderStatus.EXPIRED,
    "triggerPlaced": OrderStatus.PENDING,
    "triggerFailed": OrderStatus.REJECTED,
}
"""The status an event implies when ``X`` is absent or unknown."""

ORDER_EVENTS = frozenset(
    {
        "orderAccepted",
        "orderCancelled",
        "orderExpired",
        "orderFill",
        "orderModified",
        "triggerPlaced",
        "triggerFailed",
    }
)

TRADABLE_BOOK_STATES = frozenset({"Open", "LimitOnly", "PostOnly"})
"""``orderBookState`` values that accept orders (bpx-api-client ``OrderBookState``)."""

# Backpack error codes -> the core's. Sources: the spec list (ccxt), the OpenAPI
# ApiErrorCode enum as mirrored by backpack-exchange-sdk, Hummingbot's constants.
# There is no duplicate-client-id code: the venue refuses a live duplicate with the
# generic INVALID_ORDER (recorded in ccxt's backpack.ts), so that stays INVALID_ORDER.
CODES: dict[str, ErrorCode] = {
    "INVALID_ORDER": ErrorCode.INVALID_ORDER,
    "INVALID_ORDER_TYPE": ErrorCode.INVALID_ORDER,
    "INVALID_SIDE": ErrorCode.INVALID_ORDER,
    "INVALID_TIME_IN_FORCE": ErrorCode.INVALID_ORDER,
    "SELF_TRADE": ErrorCode.INVALID_ORDER,
    "POSITION_LIMIT": ErrorCode.INVALID_ORDER,
    "MAX_POSITION_SIZE": ErrorCode.INVALID_ORDER,
    "INVALID_PRICE": ErrorCode.INVALID_PRICE,
    "INVALID_QUANTITY": ErrorCode.INVALID_SIZE,
    "INVALID_MARKET": ErrorCode.UNKNOWN_SYMBOL,
    "INVALID_SYMBOL": ErrorCode.UNKNOWN_SYMBOL,
    "INSUFFICIENT_FUNDS": ErrorCode.INSUFFICIENT_MARGIN,
    "INSUFFICIENT_MARGIN": ErrorCode.INSUFFICIENT_MARGIN,
    "MAX_LEVERAGE_REACHED": ErrorCode.INSUFFICIENT_MARGIN,
    "ORDER_LIMIT": ErrorCode.TOO_MANY_ORDERS,
    "MAX_OPEN_ORDERS": ErrorCode.TOO_MANY_ORDERS,
    "RESOURCE_NOT_FOUND": ErrorCode.NOT_FOUND,
    "ORDER_NOT_FOUND": ErrorCode.NOT_FOUND,
    "NOT_FOUND": ErrorCode.NOT_FOUND,
    "UNAUTHORIZED": ErrorCode.AUTH,
    "FORBIDDEN": ErrorCode.AUTH,
    "INVALID_SIGNATURE": ErrorCode.AUTH,
    "SIGNATURE_INVALID": ErrorCode.AUTH,
    "ACCOUNT_DEACTIVATED": ErrorCode.AUTH,
    "TOO_MANY_REQUESTS": ErrorCode.RATE_LIMITED,
    "RATE_LIMIT": ErrorCode.RATE_LIMITED,
    "SERVER_ERROR": ErrorCode.SERVER_ERROR,
    "SYSTEM_ERROR": ErrorCode.SERVER_ERROR,
    "MAINTENANCE": ErrorCode.SERVER_ERROR,
    "SERVICE_UNAVAILABLE": ErrorCode.SERVER_ERROR,
    "TIMEOUT": ErrorCode.SERVER_ERROR,
}
RETRYABLE_CODES = frozenset({"TRADING_PAUSED"})
"""Refusals that say "not now" (the request was not taken; sending it later may work)."""


def classify(status: int, payload: Any, raw: bytes) -> Refusal:
    """A Backpack error answer: ``{"code": IDENT, "message": text}`` (or plain text)."""
    base = default_classify(status, payload, raw)
    code = CODES.get(base.venue_code)
    if code is None:
        return Refusal(
            base.code, base.venue_code, base.message, retryable=base.venue_code in RETRYABLE_CODES
        )
    return Refusal(code, base.venue_code, base.message)


# -- numbers and times ------------------------------------------------------------


def dec(value: Any, what: str) -> Decimal:
    return parse_decimal(value, what)


def opt_dec(value: Any, what: str, default: Decimal = ZERO) -> Decimal:
    return optional_decimal(value, what, default)


def us_ms(value: Any) -> int:
    """A stream timestamp (µs, int or string: both are recorded) -> ms; 0 if absent."""
    return epoch_ms(value, "us")


def iso_ms(value: Any) -> int:
    """A history timestamp: a naive ISO date-time in UTC ("2026-09-01T17:54:04.094"),
    or an epoch in ms (order objects' ``createdAt``) -> ms; 0 when unreadable."""
    if isinstance(value, int) and not isinstance(value, bool):
        return epoch_ms(value, "ms")
    if not isinstance(value, str) or not value or len(value) > 40:
        return 0
    text = value.strip()
    if text.isdecimal():
        return epoch_ms(text, "ms")
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return 0
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def update_id(value: Any) -> int:
    """A depth update id (``U``, ``u``, ``lastUpdateId``): an integer, or its decimal
    string (``lastUpdateId`` is a string on the wire: recorded)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.isdecimal() and len(value) <= 20:
        return int(value)
    raise ValueError(f"update id {value!r}")


# -- client ids -------------------------------------------------------------------


def raw_client_id(value: Any) -> str | None:
    """The venue's ``clientId`` as a canonical decimal string (it is a uint32, sent as
    a JSON integer in order objects and streams, as a string in fill history), or None
    when absent or not a client id."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    if not text.isdecimal() or len(text) > 10:
        return None
    n = int(text)
    return str(n) if n < 2**32 else None


# -- markets ------------------------------------------------------------------------


def instrument_from_market(venue: str, m: dict[str, Any]) -> Instrument | None:
    """A market object -> Instrument; None for a market that is not listed for trading
    (``visible`` false, or an ``orderBookState`` that takes no orders)."""
    if m.get("visible") is False:
        return None
    if str(m.get("orderBookState") or "Open") not in TRADABLE_BOOK_STATES:
        return None
    symbol = m["symbol"]
    if not isinstance(symbol, str) or not symbol:
        raise ValueError(f"market symbol {symbol!r}")
    f = m["filters"]
    qty = f["quantity"]
    step = dec(qty["stepSize"], "stepSize")
    tick = dec(f["price"]["tickSize"], "tickSize")
    if step <= 0 or tick <= 0:
        raise ValueError(f"{symbol}: tick {tick} / step {step} not positive")
    min_size = opt_dec(qty.get("minQuantity"), "minQuantity", step)
    return Instrument(
        venue=venue,
        symbol=symbol,
        base=str(m.get("baseSymbol") or symbol.split("_")[0]),
        quote=str(m.get("quoteSymbol") or "USDC"),
        tick_size=tick,
        step_size=step,
        min_size=max(min_size, step),
        contract_type=str(m.get("marketType") or "spot").lower(),
    )


def book_levels(raw: Iterable[Any], inst: Instrument) -> tuple[list[Level], int]:
    """``[[price, size], ...]`` -> ``([(ticks, lots)], off_grid)``.

    A level off the instrument's grid is left out and counted (a venue may refine a
    tick before our market data is refreshed; refusing the frame would leave the book
    unsynced for good). A level that is not a number, negative or non-positive in
    price is refused with ``BadNumber``."""
    out: list[Level] = []
    skipped = 0
    for entry in raw:
        if not isinstance(entry, list | tuple) or len(entry) < 2:
            raise BadNumber(f"level {entry!r} is not [price, size]")
        price = dec(entry[0], "price")
        size = dec(entry[1], "size")
        if price <= 0 or size < 0:
            raise BadNumber(f"level {entry!r} out of range")
        if price % inst.tick_size or size % inst.step_size:
            skipped += 1
            continue
        out.append((to_units(price, inst.tick_size), to_units(size, inst.step_size)))
    return out, skipped


# -- orders ---------------------------------------------------------------------------


def build_order_payload(request: OrderRequest, inst: Instrument, client_id: int) -> dict[str, Any]:
    """The ``POST /api/v1/order`` body: decimal strings on the grid, real JSON booleans.

    Booleans are only sent when true (``postOnly``/``reduceOnly``); the signer
    renders them lowercase. ``timeInForce`` goes with limit orders only.
    """
    if request.size <= 0:
        raise VenueError(f"size {request.size} must be positive", code=ErrorCode.INVALID_SIZE)
    if request.size < inst.min_size:
        raise VenueError(
            f"size {request.size} below the minimum {inst.min_size}", code=ErrorCode.INVALID_SIZE
        )
    body: dict[str, Any] = {
        "symbol": inst.symbol,
        "side": WIRE_SIDE[request.side],
        "orderType": "Limit" if request.type is OrderType.LIMIT else "Market",
        "quantity": decimal_string(request.size, inst.step_size, "size"),
        "clientId": client_id,
    }
    if request.type is OrderType.LIMIT:
        if request.price is None or request.price <= 0:
            raise VenueError("a limit order needs a positive price", code=ErrorCode.INVALID_PRICE)
        body["price"] = decimal_string(request.price, inst.tick_size, "price")
        body["timeInForce"] = {
            TimeInForce.GTC: "GTC",
            TimeInForce.IOC: "IOC",
            TimeInForce.FOK: "FOK",
        }[request.time_in_force]
        if request.post_only:
            if request.time_in_force is not TimeInForce.GTC:
                raise VenueError("post-only needs GTC", code=ErrorCode.INVALID_ORDER)
            body["postOnly"] = True
    if request.reduce_only:
        body["reduceOnly"] = True
    return body


def order_status(o: dict[str, Any]) -> OrderStatus:
    status = STATUS.get(str(o.get("status")))
    if status is None:
        raise ValueError(f"order {o.get('id')}: unknown status {o.get('status')!r}")
    return status


def is_trigger(o: dict[str, Any]) -> bool:
    """A trigger (stop / take-profit) order: not a resting quote until it fires."""
    return str(o.get("status")) == "TriggerPending" or (
        o.get("triggerPrice") is not None and opt_dec(o.get("quantity"), "quantity") == 0
    )


CoreId = Callable[[str | None], str | None]
"""The connector's raw venue client id -> its core form (or the raw id when foreign)."""


def venue_order(venue: str, o: dict[str, Any], core_id: CoreId) -> VenueOrder:
    """An order object (``GET /api/v1/order``, history, place/cancel answers)."""
    qty = opt_dec(o.get("quantity"), "quantity")
    return VenueOrder(
        venue=venue,
        symbol=str(o["symbol"]),
        client_id=core_id(raw_client_id(o.get("clientId"))),
        venue_order_id=str(o["id"]) if o.get("id") is not None else None,
        status=order_status(o),
        side=SIDE[o["side"]],
        price=optional_decimal(o.get("price"), "price"),
        size=qty,
        filled_size=opt_dec(o.get("executedQuantity"), "executedQuantity"),
        reason=str(o.get("expiryReason") or ""),
    )


def open_order(venue: str, o: dict[str, Any], core_id: CoreId) -> OpenOrder | None:
    """A resting order from ``GET /api/v1/orders``; None for a trigger or market order
    (nothing rests on the book)."""
    if is_trigger(o) or o.get("price") is None:
        return None
    qty = dec(o["quantity"], "quantity")
    done = opt_dec(o.get("executedQuantity"), "executedQuantity")
    raw = raw_client_id(o.get("clientId"))
    return OpenOrder(
        venue=venue,
        symbol=str(o["symbol"]),
        client_id=core_id(raw),
        venue_order_id=str(o["id"]),
        side=SIDE[o["side"]],
        price=dec(o["price"], "price"),
        size=qty,
        remaining_size=qty - done,
        post_only=bool(o.get("postOnly")),
        reduce_only=bool(o.get("reduceOnly")),
        venue_client_id=raw,
    )


def order_update(venue: str, o: dict[str, Any], core_id: CoreId, now_ms: int) -> OrderUpdate:
    """A REST order object (a cancel's answer) as an OrderUpdate."""
    qty = opt_dec(o.get("quantity"), "quantity")
    done = opt_dec(o.get("executedQuantity"), "executedQuantity")
    return OrderUpdate(
        venue=venue,
        symbol=str(o.get("symbol", "")),
        client_id=core_id(raw_client_id(o.get("clientId"))),
        venue_order_id=str(o["id"]) if o.get("id") is not None else None,
        status=order_status(o),
        filled_size=done,
        remaining_size=qty - done if qty else None,
        ts_ms=now_ms,
    )


# -- fills ----------------------------------------------------------------------------


def trade_id(symbol: str, t: Any, order_id: Any, ts_ms: int, size: Decimal, price: Decimal) -> str:
    """One fill's id, the same from the stream and from the history: the venue's trade
    id under its market (trade ids count per symbol, docs "Trade" stream). A fill
    without one (``tradeId`` is optional in the fill history) gets a guessed key."""
    if t is not None and not isinstance(t, bool) and str(t).strip().isdecimal():
        return f"{symbol}:{int(str(t).strip())}"
    return f"{symbol}:o{order_id}:{ts_ms}:{size}@{price}"


def fee_in_quote(fee: Decimal, fee_symbol: Any, price: Decimal, inst: Instrument | None) -> Decimal:
    """Fees charged in the base asset (recorded on spot buys) in quote terms."""
    if inst is not None and fee_symbol is not None and str(fee_symbol) == inst.base:
        return fee * price
    return fee


@dataclass(frozen=True, slots=True)
class FillForm:
    """Where a fill's fields are: the history and the stream name them differently."""

    symbol: str
    client_id: str
    order_id: str
    side: str
    price: str
    size: str
    fee: str
    fee_asset: str
    maker: str
    trade: str
    time: Callable[[dict[str, Any]], int]


HISTORY_FILL = FillForm(
    "symbol", "clientId", "orderId", "side", "price", "quantity", "fee", "feeSymbol",
    "isMaker", "tradeId", lambda f: iso_ms(f.get("timestamp")),
)  # fmt: skip
"""An item of ``GET /wapi/v1/history/fills`` (a naive ISO ``timestamp``)."""
STREAM_FILL = FillForm(
    "s", "c", "i", "S", "L", "l", "n", "N", "m", "t",
    lambda d: us_ms(d.get("T")) or us_ms(d.get("E")),
)  # fmt: skip
"""An ``orderFill`` event of ``account.orderUpdate`` (the engine time ``T``, in µs)."""


def parse_fill(
    form: FillForm,
    venue: str,
    raw: dict[str, Any],
    core_id: CoreId,
    instrument: Callable[[str], Instrument | None],
) -> Fill:
    """One fill, from the history or the stream, in the one form the core dedupes on."""
    symbol = str(raw[form.symbol])
    price = dec(raw[form.price], "fill price")
    size = dec(raw[form.size], "fill size")
    order_id = raw.get(form.order_id)
    ts = form.time(raw)
    fee = opt_dec(raw.get(form.fee), "fee")
    return Fill(
        venue=venue,
        symbol=symbol,
        client_id=core_id(raw_client_id(raw.get(form.client_id))),
        venue_order_id=str(order_id) if order_id is not None else None,
        side=SIDE[raw[form.side]],
        price=price,
        size=size,
        fee=fee_in_quote(fee, raw.get(form.fee_asset), price, instrument(symbol)),
        liquidity=Liquidity.MAKER if raw.get(form.maker) is True else Liquidity.TAKER,
        trade_id=trade_id(symbol, raw.get(form.trade), order_id, ts, size, price),
        ts_ms=ts,
    )


def update_from_stream(
    venue: str, d: dict[str, Any], core_id: CoreId
) -> tuple[OrderUpdate | None, bool]:
    """The order state an ``account.orderUpdate`` event reports: (update or None,
    known event). An event or status we do not know gives no update."""
    event = str(d.get("e"))
    status = STATUS.get(str(d.get("X"))) or EVENT_STATUS.get(event)
    if status is None:
        return None, event in ORDER_EVENTS
    if event == "orderExpired":
        status = OrderStatus.EXPIRED
    elif event == "orderCancelled" and not status.is_terminal:
        status = OrderStatus.CANCELLED
    filled = optional_decimal(d.get("z"), "executed")
    qty = optional_decimal(d.get("q"), "quantity")
    remaining = qty - filled if qty and filled is not None else None
    update = OrderUpdate(
        venue=venue,
        symbol=str(d["s"]),
        client_id=core_id(raw_client_id(d.get("c"))),
        venue_order_id=str(d["i"]) if d.get("i") is not None else None,
        status=status,
        filled_size=filled,
        remaining_size=remaining,
        reason=str(d.get("R") or ""),
        ts_ms=us_ms(d.get("E")) or us_ms(d.get("T")),
    )
    return update, True


# -- positions --------------------------------------------------------------------------


def position_from_rest(venue: str, p: dict[str, Any], now_ms: int) -> Position:
    """One item of ``GET /api/v1/position`` (``netQuantity`` signed: short < 0)."""
    return Position(
        venue=venue,
        symbol=str(p["symbol"]),
        size=dec(p["netQuantity"], "netQuantity"),
        entry_price=opt_dec(p.get("entryPrice"), "entryPrice"),
        unrealized_pnl=opt_dec(p.get("pnlUnrealized"), "pnlUnrealized"),
        realized_pnl=opt_dec(p.get("pnlRealized"), "pnlRealized"),
        ts_ms=now_ms,
    )


def position_from_update(venue: str, d: dict[str, Any]) -> Position:
    """``account.positionUpdate`` (the subscribe snapshot has no ``e``)."""
    return Position(
        venue=venue,
        symbol=str(d["s"]),
        size=dec(d["q"], "net quantity"),
        entry_price=opt_dec(d.get("B"), "entry price"),
        unrealized_pnl=opt_dec(d.get("P"), "unrealized pnl"),
        realized_pnl=opt_dec(d.get("p"), "realized pnl"),
        ts_ms=us_ms(d.get("E")) or us_ms(d.get("T")),
    )


__all__ = [
    "CODES",
    "HISTORY_FILL",
    "SIDE",
    "STATUS",
    "STREAM_FILL",
    "build_order_payload",
    "classify",
    "instrument_from_market",
    "iso_ms",
    "open_order",
    "parse_fill",
    "position_from_rest",
    "position_from_update",
    "raw_client_id",
    "trade_id",
    "update_from_stream",
    "update_id",
    "us_ms",
    "venue_order",
]
