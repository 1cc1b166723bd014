"""GRVT's account as the console reads it: ``full/v1/account_summary`` (equity, initial
margin, available balance, and per position its notional, leverage, estimated
liquidation price and the funding realized) and ``full/v1/ticker`` per market (the
funding rate, a percentage, and the next funding time in ns). Sources and guesses:
docs/venues/grvt.md."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from connectors.base import ZERO, AccountState, Balance, MarketAccount
from connectors.grvt import parse

PERCENT = Decimal(100)


def funding(ticker: Mapping[str, Any]) -> tuple[Decimal | None, int | None]:
    """(rate of the current interval as a fraction, next funding ms) from a ticker:
    ``funding_rate`` (else ``funding_rate_8h_curr``) is a percentage."""
    for key in ("funding_rate", "funding_rate_8h_curr"):
        if ticker.get(key) not in (None, ""):
            rate = parse.number(ticker, key, "ticker") / PERCENT
            break
    else:
        rate = None
    nxt = parse.ns_ms(ticker, "next_funding_time")
    return rate, nxt or None


def account_state(
    venue: str,
    summary: Mapping[str, Any],
    tickers: Mapping[str, Mapping[str, Any]],
    symbols: list[str],
    now_ms: int,
) -> AccountState:
    where = "result"
    equity = parse.number(summary, "total_equity", where)
    held: dict[str, Mapping[str, Any]] = {}
    for i, p in enumerate(parse.items(summary.get("positions") or [], "positions")):
        pos = parse.obj(p, f"positions[{i}]")
        held[parse.text(pos, "instrument", f"positions[{i}]")] = pos
    notional = ZERO
    out = []
    for symbol in sorted(set(symbols) | set(held)):
        p = held.get(symbol, {})
        at = f"position {symbol}"
        size = parse.number(p, "size", at, ZERO) if p else ZERO
        value = abs(parse.number(p, "notional", at, ZERO)) if p else ZERO
        notional += value
        liq = parse.number(p, "est_liquidation_price", at, ZERO) if p else ZERO
        paid = parse.number(p, "cumulative_realized_funding_payment", at, ZERO) if p else ZERO
        rate, nxt = funding(tickers.get(symbol, {}))
        out.append(
            MarketAccount(
                symbol=symbol,
                position_size=size,
                leverage=parse.number(p, "leverage", at, ZERO) or None if size else None,
                liquidation_price=liq if liq > 0 and size else None,
                funding_rate=rate,
                next_funding_ms=nxt,
                funding=-paid,  # a payment: positive is what the account paid
            )
        )
    currency = parse.text(summary, "settle_currency", where)
    available = parse.number(summary, "available_balance", where)
    return AccountState(
        venue=venue,
        balances=(Balance(venue, currency, equity, available),),
        equity=equity,
        margin_used=parse.number(summary, "initial_margin", where, ZERO),
        available=available,
        leverage=notional / equity if equity > 0 else None,
        markets=tuple(out),
        ts_ms=now_ms,
    )


__all__ = ["account_state", "funding"]
