"""Lighter's account as the console reads it: ``GET /api/v1/account`` (collateral,
equity, margin, and per position its value, liquidation price and the funding paid
out) and ``GET /api/v1/funding-rates`` (the rate per market, the venue's own among
other exchanges'). Funding settles hourly; the API gives no next time, so it is the
next hour. Sources and guesses: docs/venues/lighter.md."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from connectors.base import ZERO, AccountState, Balance, MarketAccount
from connectors.common.units import optional_decimal, parse_decimal
from connectors.lighter import wire

HOUR_MS = 3_600_000


def _opt(o: dict[str, Any], key: str) -> Decimal | None:
    value = o.get(key)
    return None if value in (None, "") else parse_decimal(value, key)


def funding_rates(answer: Any, markets: dict[int, wire.Market]) -> dict[str, Decimal]:
    """symbol -> Lighter's own current rate (entries of other exchanges are skipped)."""
    out: dict[str, Decimal] = {}
    for r in wire.items(answer, "funding_rates"):
        if not isinstance(r, dict) or r.get("exchange") != "lighter":
            continue
        m = markets.get(wire_int(r.get("market_id")))
        if m is not None:
            out[m.symbol] = parse_decimal(r.get("rate"), "rate")
    return out


def wire_int(value: Any) -> int:
    return -1 if isinstance(value, bool) or value is None else int(value)


def account_state(
    venue: str,
    account: dict[str, Any],
    rates: dict[str, Decimal],
    markets: dict[int, wire.Market],
    symbols: list[str],
    now_ms: int,
) -> AccountState:
    balance = wire.balance(venue, account)
    equity = balance.total
    held: dict[str, tuple[Decimal, dict[str, Any]]] = {}
    for p in wire.items(account, "positions"):
        m = markets.get(wire_int(p.get("market_id"))) if isinstance(p, dict) else None
        if m is not None:
            held[m.symbol] = (wire.position(venue, m.symbol, p, now_ms).size, p)
    next_ms = (now_ms // HOUR_MS + 1) * HOUR_MS
    notional = ZERO
    out = []
    for symbol in sorted(set(symbols) | {s for s, (size, _) in held.items() if size}):
        size, p = held.get(symbol, (ZERO, {}))
        value = abs(optional_decimal(p.get("position_value"), "position_value", ZERO))
        notional += value
        liq = _opt(p, "liquidation_price")
        paid = optional_decimal(p.get("total_funding_paid_out"), "total_funding_paid_out", ZERO)
        out.append(
            MarketAccount(
                symbol=symbol,
                position_size=size,
                leverage=value / equity if size and equity > 0 else None,
                liquidation_price=liq if liq and liq > 0 and size else None,
                funding_rate=rates.get(symbol),
                next_funding_ms=next_ms,
                funding=-paid,  # "paid out": positive is what the account paid
            )
        )
    margin = _opt(account, "cross_initial_margin_requirement")
    return AccountState(
        venue=venue,
        balances=(Balance(venue, "USDC", balance.total, balance.available),),
        equity=equity,
        margin_used=margin,
        available=balance.available,
        leverage=notional / equity if equity > 0 else None,
        markets=tuple(out),
        ts_ms=now_ms,
    )


__all__ = ["account_state", "funding_rates"]
