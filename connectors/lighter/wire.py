"""Lighter's wire forms <-> the core's types (pure functions; the connector's parsing path).

Forms as the venue sends them (recorded payloads in tests/fixtures/venues/lighter/):

* prices and sizes are decimal strings with the market's decimals in answers and frames
  (``"2352.74"``, ``"0.0050"``), integers scaled by ``10**decimals`` in transactions;
  ``orderBookDetails.last_trade_price`` and the ``daily_*`` statistics are JSON numbers;
* order ``timestamp`` / ``created_at`` / ``updated_at`` and trade ``timestamp`` are epoch
  **milliseconds**, ``transaction_time`` and ``last_updated_at`` microseconds;
* a trade's ``taker_fee`` / ``maker_fee`` are integer fee *rates* in millionths
  (28 = 0.0028 %, 196 = 0.0196 %: the Premium tier's 0.28 / 1.96 bps) and may be absent;
* ``ask_client_id`` / ``bid_client_id`` are 0 when the order had no client index
  (the other side of a trade, liquidations).

Every number goes through ``connectors.common.units`` (bounded parsing).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from connectors.base import (
    Balance,
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
from connectors.common.errors import ErrorCode
from connectors.common.units import (
    Level,
    epoch_ms,
    levels,
    optional_decimal,
    parse_decimal,
    scaled_int,
)

MAX_CLIENT_ORDER_INDEX = 2**48 - 1
"""Client order indexes are 1..2**48-1; exchange order indexes start at 2**48
(lighter-go ``types/txtypes/constants.go``)."""
MAX_PRICE_INT = 2**32 - 1
MAX_BASE_AMOUNT = 2**48 - 1
FEE_RATE_UNIT = Decimal("0.000001")
ZERO = Decimal(0)

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
"""The SDK's ``Order.status`` enum -> the core's. A post-only order that would have crossed
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


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{what}: {value!r} is not an integer")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not text.lstrip("-").isdecimal() or len(text) > 24:
        raise ValueError(f"{what}: {value!r} is not an integer")
    return int(text)


def nonce(value: Any) -> int:
    """A book message's ``nonce`` / ``begin_nonce``: a non-negative integer."""
    n = _int(value, "nonce")
    if n < 0:
        raise ValueError(f"nonce {n} is negative")
    return n


def _decimals(value: Any, what: str) -> int:
    n = _int(value, what)
    if not 0 <= n <= 18:
        raise ValueError(f"{what}: {n} decimals")
    return n


def is_perp(detail: dict[str, Any]) -> bool:
    return detail.get("market_type", "perp") == "perp" and detail.get("status", "active") == (
        "active"
    )


def market_from_wire(detail: dict[str, Any]) -> Market:
    """One entry of ``orderBookDetails.order_book_details`` (or ``orderBooks.order_books``).

    Fees are quoted in percent (``"0.0200"`` = 0.02 %)."""
    price_dec = detail.get("price_decimals", detail.get("supported_price_decimals"))
    size_dec = detail.get("size_decimals", detail.get("supported_size_decimals"))
    return Market(
        market_id=_int(detail["market_id"], "market_id"),
        symbol=str(detail["symbol"]),
        price_decimals=_decimals(price_dec, "price_decimals"),
        size_decimals=_decimals(size_dec, "size_decimals"),
        min_base=optional_decimal(detail.get("min_base_amount"), "min_base_amount", ZERO),
        min_quote=optional_decimal(detail.get("min_quote_amount"), "min_quote_amount", ZERO),
        maker_fee=optional_decimal(detail.get("maker_fee"), "maker_fee", ZERO) / 100,
        taker_fee=optional_decimal(detail.get("taker_fee"), "taker_fee", ZERO) / 100,
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


def price_int(price: Decimal, m: Market) -> int:
    n = scaled_int(price, m.price_decimals, "price")
    if not 1 <= n <= MAX_PRICE_INT:
        raise VenueError(f"price {price} outside Lighter's range", code=ErrorCode.INVALID_PRICE)
    return n


def base_amount(size: Decimal, m: Market) -> int:
    n = scaled_int(size, m.size_decimals, "size")
    if not 1 <= n <= MAX_BASE_AMOUNT:
        raise VenueError(f"size {size} outside Lighter's range", code=ErrorCode.INVALID_SIZE)
    return n


def book_levels(raw: Any, m: Market, *, snapshot: bool) -> list[Level]:
    """``[{"price": "3500.12", "size": "1.2500"}, ...]`` (or null) -> (ticks, lots)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValueError(f"levels: {type(raw).__name__} is not a list")
    pairs = [
        (e["price"], e["size"]) if isinstance(e, dict) else e for e in raw
    ]  # a non-dict entry is refused by ``levels``
    return levels(pairs, m.tick, m.step, allow_zero=not snapshot)


def order_status(o: dict[str, Any]) -> OrderStatus:
    status = STATUS.get(str(o.get("status")))
    if status is None:
        raise ValueError(f"unknown order status {o.get('status')!r}")
    filled = optional_decimal(o.get("filled_base_amount"), "filled_base_amount", ZERO)
    if status is OrderStatus.OPEN and filled > 0:
        return OrderStatus.PARTIALLY_FILLED
    return status


def order_side(o: dict[str, Any]) -> Side:
    is_ask = o.get("is_ask")
    if not isinstance(is_ask, bool):
        side = o.get("side")
        if side not in ("buy", "sell"):
            raise ValueError(f"order side {is_ask!r}/{side!r}")
        return Side.SELL if side == "sell" else Side.BUY
    return Side.SELL if is_ask else Side.BUY


def client_index(o: dict[str, Any]) -> int | None:
    """The order's client order index (0 or absent: none)."""
    raw = o.get("client_order_index")
    if raw is None:
        raw = o.get("client_order_id")
    return _client_index(raw)


def _client_index(raw: Any) -> int | None:
    if raw is None or isinstance(raw, bool):
        return None
    try:
        n = _int(raw, "client order index")
    except ValueError:
        return None
    return n if 0 < n <= MAX_CLIENT_ORDER_INDEX else None


def order_index(o: dict[str, Any]) -> str:
    return str(_int(o.get("order_index", o.get("order_id")), "order_index"))


def _amount(o: dict[str, Any], key: str) -> Decimal:
    return optional_decimal(o.get(key), key, ZERO)


def _reason(o: dict[str, Any]) -> str:
    """A ``canceled-*`` status names why the order ended: the core's reason."""
    raw = str(o.get("status", ""))
    return raw if raw.startswith("canceled-") else ""


def order_update(venue: str, symbol: str, o: dict[str, Any], client_id: str | None) -> OrderUpdate:
    status = order_status(o)
    return OrderUpdate(
        venue=venue,
        symbol=symbol,
        client_id=client_id,
        venue_order_id=order_index(o),
        status=status,
        filled_size=_amount(o, "filled_base_amount"),
        remaining_size=_amount(o, "remaining_base_amount") if status.is_live else None,
        reason=_reason(o),
        ts_ms=epoch_ms(o.get("updated_at") or o.get("timestamp"), "ms"),
    )


def open_order(venue: str, symbol: str, o: dict[str, Any], client_id: str | None) -> OpenOrder:
    index = client_index(o)
    return OpenOrder(
        venue=venue,
        symbol=symbol,
        client_id=client_id,
        venue_order_id=order_index(o),
        side=order_side(o),
        price=parse_decimal(o["price"], "price"),
        size=parse_decimal(o["initial_base_amount"], "initial_base_amount"),
        remaining_size=parse_decimal(o["remaining_base_amount"], "remaining_base_amount"),
        post_only=o.get("time_in_force") == "post-only",
        reduce_only=o.get("reduce_only") is True,
        venue_client_id=str(index) if index is not None else None,
    )


def venue_order(venue: str, symbol: str, o: dict[str, Any], client_id: str | None) -> VenueOrder:
    price = optional_decimal(o.get("price"), "price")
    return VenueOrder(
        venue=venue,
        symbol=symbol,
        client_id=client_id,
        venue_order_id=order_index(o),
        status=order_status(o),
        side=order_side(o),
        price=price if price else None,
        size=parse_decimal(o["initial_base_amount"], "initial_base_amount"),
        filled_size=_amount(o, "filled_base_amount"),
        reason=_reason(o),
    )


def position(venue: str, symbol: str, p: dict[str, Any], ts_ms: int) -> Position:
    """``sign`` (1 long / -1 short) times the unsigned ``position``; a flat position may
    carry any sign (the recorded account shows ``sign: 1`` with ``"0.00000"``)."""
    size = _amount(p, "position")
    if size < 0:
        raise ValueError(f"position {size} is negative (the sign is a field of its own)")
    sign = _int(p.get("sign", 0), "sign")
    if size and sign not in (1, -1):
        raise ValueError(f"position sign {p.get('sign')!r} is not 1 or -1")
    return Position(
        venue=venue,
        symbol=symbol,
        size=size * sign if size else ZERO,
        entry_price=_amount(p, "avg_entry_price"),
        unrealized_pnl=_amount(p, "unrealized_pnl"),
        realized_pnl=_amount(p, "realized_pnl"),
        ts_ms=ts_ms,
    )


def balance(venue: str, account: dict[str, Any]) -> Balance:
    total = account.get("total_asset_value")
    if total in (None, ""):
        total = account.get("collateral")
    return Balance(
        venue,
        "USDC",
        parse_decimal(total, "total_asset_value"),
        _amount(account, "available_balance"),
    )


Decode = Callable[[int], str | None]


def account_fills(
    venue: str, symbol: str, t: dict[str, Any], account_index: int, decode: Decode
) -> list[Fill]:
    """The fills of ``account_index`` in one trade (two when it traded with itself: the
    sell side's trade id is ``<id>:sell``). Liquidations, deleverages and trades of other
    tools' orders are fills too: ``client_id`` is None when the side has no client index
    (``decode`` turns one into the core's form)."""
    price = parse_decimal(t["price"], "price")
    size = parse_decimal(t["size"], "size")
    trade_id = str(t.get("trade_id_str") or _int(t["trade_id"], "trade_id"))
    ts = epoch_ms(t.get("timestamp"), "ms")
    maker_is_ask = t.get("is_maker_ask") is True
    fills: list[Fill] = []
    for side, account_key, client_key, order_key in (
        (Side.BUY, "bid_account_id", "bid_client_id", "bid_id"),
        (Side.SELL, "ask_account_id", "ask_client_id", "ask_id"),
    ):
        if _int(t.get(account_key, -1), account_key) != account_index:
            continue
        maker = maker_is_ask == (side is Side.SELL)
        rate = _int(t.get("maker_fee" if maker else "taker_fee") or 0, "fee") * FEE_RATE_UNIT
        index = _client_index(t.get(client_key))
        order = t.get(f"{order_key}_str") or t.get(order_key)
        fills.append(
            Fill(
                venue=venue,
                symbol=symbol,
                client_id=decode(index) if index is not None else None,
                venue_order_id=str(order) if order not in (None, 0, "0", "") else None,
                side=side,
                price=price,
                size=size,
                fee=price * size * rate,
                liquidity=Liquidity.MAKER if maker else Liquidity.TAKER,
                trade_id=trade_id if not fills else f"{trade_id}:{side.value}",
                ts_ms=ts,
            )
        )
    return fills


def public_trade(venue: str, symbol: str, t: dict[str, Any]) -> Trade:
    # the maker sat on the ask -> the taker bought
    side = Side.BUY if t.get("is_maker_ask") is True else Side.SELL
    return Trade(
        venue,
        symbol,
        side,
        parse_decimal(t["price"], "price"),
        parse_decimal(t["size"], "size"),
        epoch_ms(t.get("timestamp"), "ms"),
        "" if t.get("trade_id") is None else str(t["trade_id"])[:40],
    )


def items(payload: Any, key: str) -> list[Any]:
    """``payload[key]`` as a list: absent and ``null`` (both recorded) are empty."""
    value = payload.get(key) if isinstance(payload, dict) else None
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{key}: {type(value).__name__} is not a list")
    return value


def by_market(payload: Any, key: str) -> Iterable[tuple[int, Any]]:
    """``{"<market id>": value}`` (account channels) as (market id, value) pairs."""
    value = payload.get(key) if isinstance(payload, dict) else None
    if value is None:
        return []
    if not isinstance(value, dict):
        raise ValueError(f"{key}: {type(value).__name__} is not an object")
    return [(_int(k, "market id"), v) for k, v in value.items()]


def next_cursor(payload: Any) -> str | None:
    cursor = payload.get("next_cursor") if isinstance(payload, dict) else None
    return cursor if isinstance(cursor, str) and cursor else None
