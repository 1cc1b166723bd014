"""Backpack's account as the console reads it: ``GET /api/v1/capital/collateral``
(equity, margin), ``GET /api/v1/position`` (per market: size, exposure, estimated
liquidation price, cumulative funding) and ``GET /api/v1/markPrices`` (the funding
rate of the interval now running and when it settles). Sources: docs/venues/backpack.md."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from connectors.backpack.wire import dec, opt_dec
from connectors.base import ZERO, AccountState, Balance, MarketAccount


def _opt(value: Any, what: str) -> Decimal | None:
    return None if value is None or value == "" else dec(value, what)


def funding_rates(marks: Any) -> dict[str, tuple[Decimal, int | None]]:
    """``markPrices`` items -> symbol: (rate of the current interval, settlement ms)."""
    out: dict[str, tuple[Decimal, int | None]] = {}
    for m in marks if isinstance(marks, list) else []:
        if not isinstance(m, dict) or not isinstance(m.get("symbol"), str):
            continue
        rate = _opt(m.get("fundingRate"), "fundingRate")
        if rate is None:
            continue
        nxt = m.get("nextFundingTimestamp")
        out[m["symbol"]] = (rate, int(nxt) if isinstance(nxt, int | str) and nxt != "" else None)
    return out


def account_state(
    venue: str,
    collateral: dict[str, Any],
    positions: list[dict[str, Any]],
    marks: Any,
    symbols: list[str],
    now_ms: int,
) -> AccountState:
    equity = _opt(collateral.get("netEquity"), "netEquity")
    balances = tuple(
        Balance(
            venue,
            str(c["symbol"]),
            dec(c["totalQuantity"], "totalQuantity"),
            dec(c["availableQuantity"], "availableQuantity"),
        )
        for c in collateral.get("collateral") or []
        if isinstance(c, dict)
    )
    rates = funding_rates(marks)
    held: dict[str, dict[str, Any]] = {str(p["symbol"]): p for p in positions}
    notional = ZERO
    markets = []
    for symbol in sorted(set(symbols) | set(held)):
        p = held.get(symbol, {})
        exposure = abs(opt_dec(p.get("netExposureNotional"), "netExposureNotional"))
        notional += exposure
        liq = _opt(p.get("estLiquidationPrice"), "estLiquidationPrice")
        rate, nxt = rates.get(symbol, (None, None))
        markets.append(
            MarketAccount(
                symbol=symbol,
                position_size=opt_dec(p.get("netQuantity"), "netQuantity"),
                leverage=exposure / equity if equity and equity > 0 and p else None,
                liquidation_price=liq if liq and liq > 0 else None,  # "0": none
                funding_rate=rate,
                next_funding_ms=nxt,
                funding=opt_dec(p.get("cumulativeFundingPayment"), "cumulativeFundingPayment"),
            )
        )
    return AccountState(
        venue=venue,
        balances=balances,
        equity=equity,
        margin_used=_opt(collateral.get("netEquityLocked"), "netEquityLocked"),
        available=_opt(collateral.get("netEquityAvailable"), "netEquityAvailable"),
        leverage=notional / equity if equity and equity > 0 else None,
        markets=tuple(markets),
        ts_ms=now_ms,
    )


__all__ = ["account_state", "funding_rates"]
