"""What the GRVT emulator sends, in the forms GRVT was recorded sending.

The forms follow ``tests/fixtures/venues/grvt/recorded.json`` (a live account,
Dec 2025 - Jan 2026, kept in ccxt's GRVT code) where it has them, else the
api-spec examples (``api_spec_examples.json``):

* numbers are decimal strings with at least one decimal place (``"50000.0"``,
  ``"0.0"``), times unix nanoseconds as strings;
* ``signature.v`` / ``signature.nonce`` are integers in the ``create_order``
  answer and on ``v1.order``, strings in ``open_orders`` / ``order`` /
  ``order_history`` answers; ``chain_id`` comes back ``"0"``;
* the ``create_order`` answer has ``order_id "0x00"`` and state PENDING;
* BTC and ETH are listed like the recorded BTC (integer decimals, every field,
  ``min_notional``), the other instruments like the recorded AAVE (string
  decimals, no ``min_notional``) and without ``settlement_period`` /
  ``max_position_size``, which GRVT's spec made optional in 2026-04;
* ``fill_history`` entries have the recorded REST fields; ``v1.fill`` pushes also
  ``is_liquidation`` and the builder fields; a liquidation fill belongs to no
  order of the account: ``client_order_id "0"``, ``order_id "0x00"``
  (an emulator guess: no recording of one).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aiohttp import web

from connectors.base import ZERO, Fill, MarketAccount, Position, Side
from connectors.emulation.rest import json_answer

if TYPE_CHECKING:
    from connectors.grvt.emulator.state import Market, Order, User

WIRE_QUOTE = "USDT"
BASE_DECIMALS = 9
QUOTE_DECIMALS = 6
INT_FORM_BASES = frozenset({"BTC", "ETH"})
"""Listed like the recorded BTC_USDT_Perp; every other base like AAVE_USDT_Perp."""
NOT_AUTHENTICATED = "You need to authenticate prior to using this functionality"
NO_ORDER = "0x00"
NO_CLIENT_ID = "0"
TIFS = ("GOOD_TILL_TIME", "ALL_OR_NONE", "IMMEDIATE_OR_CANCEL", "FILL_OR_KILL")
REJECT_REASONS = frozenset(
    {
        "UNSPECIFIED",
        "CLIENT_CANCEL",
        "CLIENT_BULK_CANCEL",
        "IOC_CANCEL",
        "FOK_CANCEL",
        "EXPIRED",
        "FAIL_POST_ONLY",
        "FAIL_REDUCE_ONLY",
        "SELF_TRADE_PROTECTION",
        "OVERLAPPING_CLIENT_ORDER_ID",
        "BELOW_MARGIN",
        "INSTRUMENT_INVALID",
        "UNAUTHORISED",
        "EXCEED_MAX_POSITION_SIZE",
        "CLIENT_CANCEL_ON_DISCONNECT_TRIGGERED",
    }
)


class GrvtErr(Exception):
    """A refusal in GRVT's terms: its code, message and HTTP status."""

    def __init__(self, code: int, message: str, status: int = 400) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def envelope(err: GrvtErr) -> web.Response:
    """GRVT's error answer ``{code, message, status}`` with that HTTP status."""
    body = {"code": err.code, "message": err.message, "status": err.status}
    return json_answer(body, err.status)


def internal_error() -> web.Response:
    return envelope(GrvtErr(1002, "Internal Server Error", 500))


def fmt(value: Decimal) -> str:
    """Plain digits with at least one decimal place, as GRVT writes numbers."""
    text = format(value.normalize(), "f") if value else "0"
    return text if "." in text else text + ".0"


def cookie_expiry(ts: float) -> str:
    """The exact format the SDK parses: ``%a, %d %b %Y %H:%M:%S GMT``."""
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(ts))


def now_ns() -> int:
    return time.time_ns()


def wire_trade_id(sim_trade_id: str, venue: str) -> str:
    """GRVT's ``<execution>-<n>`` trade id for a sim trade id (``grvt-17`` -> ``17-1``;
    a forced fill ``grvt-liquidation-3`` -> ``1000000000003-1``)."""
    head, _, n = sim_trade_id.rpartition("-")
    number = int(n) if n.isdigit() and len(n) < 12 else 0
    if head != venue:  # a liquidation / ADL of the sim: a range of its own
        number += 10**12
    return f"{number}-1"


# -- instruments and market data -----------------------------------------------------


def instrument_json(m: Market) -> dict[str, Any]:
    inst = m.inst
    ints = inst.base in INT_FORM_BASES
    out: dict[str, Any] = {
        "instrument": m.wire,
        "instrument_hash": m.asset_hash,
        "base": inst.base,
        "quote": WIRE_QUOTE,
        "kind": "PERPETUAL",
        "venues": ["ORDERBOOK", "RFQ"],
    }
    if ints:
        out["settlement_period"] = "PERPETUAL"
    out |= {
        "base_decimals": BASE_DECIMALS if ints else str(BASE_DECIMALS),
        "quote_decimals": QUOTE_DECIMALS if ints else str(QUOTE_DECIMALS),
        "tick_size": fmt(inst.tick_size),
        "min_size": fmt(inst.min_size),
        "create_time": "1768040726362828205",
    }
    if ints:
        out["max_position_size"] = "1000.0"
    out |= {
        "funding_interval_hours": 8 if ints else "8",
        "adjusted_funding_rate_cap": "0.3",
        "adjusted_funding_rate_floor": "-0.3",
    }
    if m.min_notional > 0:
        out["min_notional"] = fmt(m.min_notional)
    return out


def levels_json(m: Market, side: list[tuple[int, int]]) -> list[dict[str, Any]]:
    inst = m.inst
    return [
        {
            "price": fmt(inst.ticks_to_price(p)),
            "size": fmt(inst.lots_to_size(q)),
            "num_orders": 1 if q else 0,
        }
        for p, q in side
    ]


def book_json(
    m: Market, bids: list[tuple[int, int]], asks: list[tuple[int, int]], event_ns: int
) -> dict[str, Any]:
    return {
        "event_time": str(event_ns),
        "instrument": m.wire,
        "bids": levels_json(m, bids),
        "asks": levels_json(m, asks),
    }


def mini_json(
    m: Market,
    mid: Decimal | None,
    bid: tuple[Decimal, Decimal] | None,
    ask: tuple[Decimal, Decimal] | None,
) -> dict[str, Any]:
    mark = mid or ZERO
    return {
        "event_time": str(now_ns()),
        "instrument": m.wire,
        "mark_price": fmt(mark),
        "index_price": fmt(mark),
        "last_price": fmt(mark),
        "last_size": "0.0",
        "mid_price": fmt(mark),
        "best_bid_price": fmt(bid[0]) if bid else "0.0",
        "best_bid_size": fmt(bid[1]) if bid else "0.0",
        "best_ask_price": fmt(ask[0]) if ask else "0.0",
        "best_ask_size": fmt(ask[1]) if ask else "0.0",
    }


def mini_delta(before: Mapping[str, Any] | None, now: Mapping[str, Any]) -> dict[str, Any]:
    """A ``v1.mini.d`` delta: the fields that changed (recorded: ``index_price`` and
    ``best_ask_size`` only), with ``event_time`` and ``instrument``."""
    if before is None:
        return dict(now)
    keep = ("event_time", "instrument")
    return {k: v for k, v in now.items() if k in keep or before.get(k) != v}


def public_trade_json(
    m: Market, trade_id: str, side: Side, price: Decimal, size: Decimal, ts_ms: int, mark: Decimal
) -> dict[str, Any]:
    return {
        "event_time": str(ts_ms * 1_000_000),
        "instrument": m.wire,
        "is_taker_buyer": side is Side.BUY,
        "size": fmt(size),
        "price": fmt(price),
        "mark_price": fmt(mark),
        "index_price": fmt(mark),
        "interest_rate": "0.0",
        "forward_price": "0.0",
        "trade_id": trade_id,
        "venue": "ORDERBOOK",
        "is_rpi": False,
    }


# -- orders, fills, positions ----------------------------------------------------------

_TRIGGER = {
    "trigger_type": "UNSPECIFIED",
    "tpsl": {"trigger_by": "UNSPECIFIED", "trigger_price": "0.0", "close_position": False},
}


def order_json(o: Order, form: str) -> dict[str, Any]:
    """``form``: ``"create"`` (the create_order answer: ``order_id "0x00"``, integer
    v/nonce), ``"ws"`` (``v1.order``: integer v/nonce) or ``"rest"`` (open_orders,
    order, order_history: v/nonce as strings)."""
    sig = o.signature
    ints = form != "rest"
    avg = o.traded_quote / o.traded if o.traded else ZERO
    out: dict[str, Any] = {
        "order_id": NO_ORDER if form == "create" else o.order_id,
        "sub_account_id": o.user.sub_account_id,
        "is_market": o.is_market,
        "time_in_force": o.tif,
        "post_only": o.post_only,
        "reduce_only": o.reduce_only,
        "legs": [
            {
                "instrument": o.market.wire,
                "size": fmt(o.size),
                "limit_price": fmt(o.price),
                "is_buying_asset": o.side is Side.BUY,
            }
        ],
        "signature": {
            "signer": str(sig.get("signer", "")),
            "r": str(sig.get("r", "")),
            "s": str(sig.get("s", "")),
            "v": int(sig["v"]) if ints else str(sig["v"]),
            "expiration": str(sig.get("expiration", "")),
            "nonce": int(sig["nonce"]) if ints else str(sig["nonce"]),
            "chain_id": str(sig.get("chain_id") or "0"),
        },
        "metadata": {
            "client_order_id": o.client_order_id,
            "create_time": str(o.create_ns),
            "trigger": _TRIGGER,
            "broker": "UNSPECIFIED",
            "is_position_transfer": False,
            "allow_crossing": False,
        },
        "state": {
            "status": o.status,
            "reject_reason": o.reject_reason,
            "book_size": [fmt(o.book_size)],
            "traded_size": [fmt(o.traded)],
            "update_time": str(o.update_ns),
            "avg_fill_price": [fmt(avg)],
        },
    }
    if ints:
        out["builder"] = "0x00"
        out["builder_fee"] = "0.0"
    return out


def fill_json(
    user: User,
    m: Market,
    f: Fill,
    order: Order | None,
    fee_rate: Decimal,
    mark: Decimal,
    event_ns: int,
    form: str,
) -> dict[str, Any]:
    """A fill: ``form`` ``"rest"`` (fill_history, as recorded) or ``"ws"`` (v1.fill)."""
    out: dict[str, Any] = {
        "event_time": str(event_ns),
        "sub_account_id": user.sub_account_id,
        "instrument": m.wire,
        "is_buyer": f.side is Side.BUY,
        "is_taker": f.liquidity.value == "taker",
        "size": fmt(f.size),
        "price": fmt(f.price),
        "mark_price": fmt(mark),
        "index_price": fmt(mark),
        "interest_rate": "0.0",
        "forward_price": "0.0",
        "realized_pnl": "0.0",
        "fee": fmt(f.fee),
        "fee_rate": fmt(fee_rate),
        "trade_id": wire_trade_id(f.trade_id, m.venue),
        "order_id": order.order_id if order is not None else NO_ORDER,
    }
    out["venue"] = "ORDERBOOK"
    if form == "ws":
        out["is_liquidation"] = order is None
    out |= {
        "client_order_id": order.client_order_id if order is not None else NO_CLIENT_ID,
        "signer": str(order.signature.get("signer", "")) if order is not None else "",
        "broker": "UNSPECIFIED",
        "is_rpi": False,
    }
    if form == "ws":
        out |= {"builder": "0x00", "builder_fee_rate": "0.0", "builder_fee": "0"}
    return out


def position_json(
    user: User,
    m: Market,
    p: Position,
    mark: Decimal,
    form: str,
    margin: MarketAccount | None = None,
) -> dict[str, Any]:
    """``margin``: the sim account's reading of the market (liquidation price,
    leverage, funding), when there is one."""
    notional = abs(p.size) * mark
    liq = margin.liquidation_price if margin is not None else None
    lev = margin.leverage if margin is not None else None
    out = {
        "event_time": str(now_ns()),
        "sub_account_id": user.sub_account_id,
        "instrument": m.wire,
        "size": fmt(p.size),
        "notional": fmt(notional),
        "entry_price": fmt(p.entry_price),
        "exit_price": "0.0",
        "mark_price": fmt(mark),
        "unrealized_pnl": fmt(p.unrealized_pnl),
        "realized_pnl": fmt(p.realized_pnl),
        "total_pnl": fmt(p.unrealized_pnl + p.realized_pnl),
        "roi": "0.0",
        "quote_index_price": "1.0",
        "est_liquidation_price": fmt(liq) if liq is not None else "0.0",
        "leverage": fmt(lev.quantize(Decimal("0.0001"))) if lev is not None else "1.0",
        "cumulative_fee": "0.0",
        "cumulative_realized_funding_payment": fmt(-margin.funding) if margin else "0.0",
    }
    if form == "ws":
        out["margin_type"] = "CROSS"
    return out


def frame(stream: str, selector: str, seq: int, prev: int, feed: Mapping[str, Any]) -> dict:
    """A feed push; sequence numbers as strings, as recorded."""
    return {
        "stream": stream,
        "selector": selector,
        "sequence_number": str(seq),
        "feed": feed,
        "prev_sequence_number": str(prev),
    }


__all__ = [
    "BASE_DECIMALS",
    "NOT_AUTHENTICATED",
    "NO_CLIENT_ID",
    "NO_ORDER",
    "REJECT_REASONS",
    "TIFS",
    "WIRE_QUOTE",
    "GrvtErr",
    "book_json",
    "cookie_expiry",
    "envelope",
    "fill_json",
    "fmt",
    "frame",
    "instrument_json",
    "internal_error",
    "mini_delta",
    "mini_json",
    "order_json",
    "position_json",
    "public_trade_json",
    "wire_trade_id",
]
