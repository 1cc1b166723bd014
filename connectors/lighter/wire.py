"""Lighter's wire formats <-> the core's types (pure functions, tested directly).

Prices and sizes travel as integers scaled by the market's decimals
(``price_i = price * 10**price_decimals``, ``base_amount = size * 10**size_decimals``)
in transactions, and as decimal strings with exactly that many decimals in
REST/WS answers. Everything here is exact: Decimal in, int out, or the reverse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.base import (
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
)
from connectors.book import Level

MAX_CLIENT_ORDER_INDEX = 2**48 - 1
"""Client order indexes are 1..2**48-1; exchange order indexes start at 2**48."""
MAX_PRICE_INT = 2**32 - 1
MAX_BASE_AMOUNT = 2**48 - 1
FEE_RATE_UNIT = Decimal("0.000001")
"""Trade ``taker_fee``/``maker_fee`` are fee rates in millionths (200 = 0.02 %)."""

STATUS: dict[str, OrderStatus] = {
    "in-progress": OrderStatus.PENDING,
    "pending": OrderStatus.PENDING,
    "open": OrderStatus.OPEN,
    "filled": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELLED,
    "canceled-post-only": OrderStatus.REJECTED,
    "canceled-reduce-only": OrderStatus.CANCELLED,
    "canceled-position-not-allowed": OrderStatus.REJECTED,
    "canceled-margin-not-allowed": OrderStatus.REJECTED,
    "canceled-too-much-slippage": OrderStatus.CANCELLED,
    "canceled-not-enough-liquidity": OrderStatus.CANCELLED,
    "canceled-self-trade": OrderStatus.CANCELLED,
    "canceled-expired": OrderStatus.EXPIRED,
    "canceled-oco": OrderStatus.CANCELLED,
    "canceled-child": OrderStatus.CANCELLED,
    "canceled-liquidation": OrderStatus.CANCELLED,
    "canceled-invalid-balance": OrderStatus.REJECTED,
}
"""Lighter order status -> the core's. A post-only order that would have crossed
is accepted by ``sendTx`` and then cancelled: to the core that is a reject."""


@dataclass(frozen=True, slots=True)
class Market:
    market_id: int
    symbol: str
    price_decimals: int
    size_decimals: int
    min_base: Decimal
    min_quote: Decimal
    maker_fee: Decimal
    taker_fee: Decimal

    @property
    def tick(self) -> Decimal:
        return Decimal(1).scaleb(-self.price_decimals)

    @property
    def step(self) -> Decimal:
        return Decimal(1).scaleb(-self.size_decimals)


def _dec(value: Any, what: str) -> Decimal:
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{what}: not a decimal: {value!r}") from None
    if not d.is_finite():
        raise ValueError(f"{what}: not finite: {value!r}")
    return d


def market_from_wire(book: dict[str, Any], detail: dict[str, Any] | None) -> Market:
    """One entry of ``orderBooks`` (+ its ``orderBookDetails`` entry when known)."""
    d = detail or {}
    price_dec = int(d.get("price_decimals", book["supported_price_decimals"]))
    size_dec = int(d.get("size_decimals", book["supported_size_decimals"]))
    # Lighter quotes fees in percent ("0.0200" = 0.02 %)
    return Market(
        market_id=int(book["market_id"]),
        symbol=str(book["symbol"]),
        price_decimals=price_dec,
        size_decimals=size_dec,
        min_base=_dec(book.get("min_base_amount") or "0", "min_base_amount"),
        min_quote=_dec(book.get("min_quote_amount") or "0", "min_quote_amount"),
        maker_fee=_dec(book.get("maker_fee") or "0", "maker_fee") / 100,
        taker_fee=_dec(book.get("taker_fee") or "0", "taker_fee") / 100,
    )


def instrument(venue: str, m: Market, quote: str = "USDC") -> Instrument:
    return Instrument(
        venue=venue,
        symbol=m.symbol,
        base=m.symbol,
        quote=quote,
        tick_size=m.tick,
        step_size=m.step,
        min_size=max(m.min_base, m.step),
        min_notional=m.min_quote,
        maker_fee=m.maker_fee,
        taker_fee=m.taker_fee,
    )


def scaled(value: Decimal, decimals: int, what: str) -> int:
    """``value * 10**decimals`` as an exact int; VenueError when off the grid."""
    q = value.scaleb(decimals)
    n = int(q)
    if q != n:
        raise VenueError(
            f"{what} {value} has more than {decimals} decimals", code=f"invalid_{what}"
        )
    return n


def price_int(price: Decimal, m: Market) -> int:
    n = scaled(price, m.price_decimals, "price")
    if not 1 <= n <= MAX_PRICE_INT:
        raise VenueError(f"price {price} outside Lighter's range", code="invalid_price")
    return n


def base_amount(size: Decimal, m: Market) -> int:
    n = scaled(size, m.size_decimals, "size")
    if not 1 <= n <= MAX_BASE_AMOUNT:
        raise VenueError(f"size {size} outside Lighter's range", code="invalid_size")
    return n


def levels(raw: Any, m: Market) -> list[Level]:
    """``[{"price": "3500.12", "size": "1.2500"}, ...]`` -> (ticks, lots)."""
    out: list[Level] = []
    for entry in raw or ():
        out.append(
            (
                scaled(_dec(entry["price"], "price"), m.price_decimals, "price"),
                scaled(_dec(entry["size"], "size"), m.size_decimals, "size"),
            )
        )
    return out


def order_status(o: dict[str, Any]) -> OrderStatus:
    status = STATUS.get(str(o.get("status")))
    if status is None:
        raise ValueError(f"unknown order status {o.get('status')!r}")
    if status is OrderStatus.OPEN and _dec(o.get("filled_base_amount") or "0", "filled") > 0:
        return OrderStatus.PARTIALLY_FILLED
    return status


def order_side(o: dict[str, Any]) -> Side:
    return Side.SELL if o.get("is_ask") else Side.BUY


def client_index(o: dict[str, Any]) -> int | None:
    raw = o.get("client_order_index")
    if raw is None:
        raw = o.get("client_order_id")
    try:
        n = int(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return n if 0 < n <= MAX_CLIENT_ORDER_INDEX else None


def order_update(
    venue: str, symbol: str, o: dict[str, Any], client_id: str | None, ts_ms: int
) -> OrderUpdate:
    status = order_status(o)
    filled = _dec(o.get("filled_base_amount") or "0", "filled_base_amount")
    remaining = _dec(o.get("remaining_base_amount") or "0", "remaining_base_amount")
    reason = str(o.get("status")) if str(o.get("status", "")).startswith("canceled-") else ""
    return OrderUpdate(
        venue=venue,
        symbol=symbol,
        client_id=client_id,
        venue_order_id=str(o["order_index"]),
        status=status,
        filled_size=filled,
        remaining_size=remaining if status.is_live else None,
        reason=reason,
        ts_ms=ts_ms,
    )


def open_order(venue: str, symbol: str, o: dict[str, Any], client_id: str | None) -> OpenOrder:
    initial = _dec(o["initial_base_amount"], "initial_base_amount")
    return OpenOrder(
        venue=venue,
        symbol=symbol,
        client_id=client_id,
        venue_order_id=str(o["order_index"]),
        side=order_side(o),
        price=_dec(o["price"], "price"),
        size=initial,
        remaining_size=_dec(o["remaining_base_amount"], "remaining_base_amount"),
        post_only=o.get("time_in_force") == "post-only",
        reduce_only=bool(o.get("reduce_only")),
    )


def position(venue: str, symbol: str, p: dict[str, Any], ts_ms: int) -> Position:
    """``sign`` (1 long / -1 short) times the unsigned ``position``."""
    size = _dec(p.get("position") or "0", "position")
    sign = int(p.get("sign") or 0)
    if size and sign not in (1, -1):
        raise ValueError(f"position sign {p.get('sign')!r} is not 1 or -1")
    return Position(
        venue=venue,
        symbol=symbol,
        size=size * sign if size else Decimal(0),
        entry_price=_dec(p.get("avg_entry_price") or "0", "avg_entry_price"),
        unrealized_pnl=_dec(p.get("unrealized_pnl") or "0", "unrealized_pnl"),
        realized_pnl=_dec(p.get("realized_pnl") or "0", "realized_pnl"),
        ts_ms=ts_ms,
    )


def account_fills(
    venue: str, symbol: str, t: dict[str, Any], account_index: int, decode: Any
) -> list[Fill]:
    """The fills of ``account_index`` in one trade (two when it traded with itself).

    ``decode`` turns a client order index into the core's client id.
    """
    price = _dec(t["price"], "price")
    size = _dec(t["size"], "size")
    trade_id = str(t.get("trade_id_str") or t["trade_id"])
    ts = int(t.get("timestamp") or 0)
    maker_is_ask = bool(t.get("is_maker_ask"))
    fills: list[Fill] = []
    for side, account_key, client_key, order_key in (
        (Side.BUY, "bid_account_id", "bid_client_id", "bid_id"),
        (Side.SELL, "ask_account_id", "ask_client_id", "ask_id"),
    ):
        if int(t.get(account_key, -1)) != account_index:
            continue
        maker = maker_is_ask == (side is Side.SELL)
        rate = Decimal(int(t.get("maker_fee" if maker else "taker_fee") or 0)) * FEE_RATE_UNIT
        cidx = t.get(client_key)
        client_id = decode(int(cidx)) if cidx not in (None, 0, "0") else None
        fills.append(
            Fill(
                venue=venue,
                symbol=symbol,
                client_id=client_id,
                venue_order_id=str(t[order_key]) if t.get(order_key) is not None else None,
                side=side,
                price=price,
                size=size,
                fee=price * size * rate,
                liquidity=Liquidity.MAKER if maker else Liquidity.TAKER,
                trade_id=trade_id if len(fills) == 0 else f"{trade_id}:{side.value}",
                ts_ms=ts,
            )
        )
    return fills


def public_trade(venue: str, symbol: str, t: dict[str, Any]) -> Trade:
    # the maker sat on the ask -> the taker bought
    side = Side.BUY if t.get("is_maker_ask") else Side.SELL
    return Trade(
        venue,
        symbol,
        side,
        _dec(t["price"], "price"),
        _dec(t["size"], "size"),
        int(t.get("timestamp") or 0),
    )


def error_code(text: str) -> int | None:
    """The Lighter error code in an SDK error string (``... code=21104 message=...``)
    or a JSON body (``{"code": 21104, ...}``)."""
    m = re.search(r"code[\"']?\s*[=:]\s*(\d+)", text)
    return int(m.group(1)) if m else None
