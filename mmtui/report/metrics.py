"""A run's numbers, per strategy and in total, from what the core recorded: the
journal's fills and order rows of the run (exact), the final marks, and the
sampler's equity curve (the drawdown). Pure functions of that data: the same
inputs give the same report, to the digit.

What each number means (docs/backtest.md says the same for users):

* ``pnl``: ``realized`` (closed against the average entry), ``unrealized`` (the open
  position at the final mark), ``fees`` (paid; a rebate is negative), ``net`` =
  realized + unrealized - fees. The fills replayed through the core's own
  ``PositionState``, per market.
* ``fills``: ``count``, ``maker`` / ``taker`` counts, ``volume`` (base units) and
  ``notional`` (quote), per liquidity too.
* ``inventory`` per market: ``max_abs`` (largest |position| after any fill),
  ``final``, ``time_weighted`` (the signed position's mean over the run) and
  ``time_weighted_abs`` (the mean of |position|).
* ``max_drawdown``: the largest fall of net PnL from an earlier peak, over the
  samples (every ``sample_ms``) and the final value.
* ``quote_uptime``: the share of the run during which the strategy had at least one
  live (open or partially filled) buy order and one live sell order.
* ``orders``: ``placed`` (orders the strategy created, each once), ``filled``,
  ``cancelled``, ``rejected`` (by risk or the venue), ``expired``, ``lost``, as each
  order ended; ``placed_size`` (their size, rejected ones left out),
  ``filled_size`` and ``fill_ratio`` = filled_size / placed_size.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from connectors.base import ZERO, Side
from connectors.position_math import PositionState

LIVE = frozenset(("open", "partially_filled"))
TERMINAL = frozenset(("filled", "cancelled", "rejected", "expired", "lost"))
RATIO = Decimal("0.000001")

Market = tuple[str, str]


@dataclass(frozen=True, slots=True)
class StrategyInfo:
    name: str
    kind: str
    venue: str
    symbol: str


@dataclass(slots=True)
class ReportInputs:
    """Everything a report is computed from; nothing that differs between two runs
    of the same data and config (no run id, no wall-clock time)."""

    mode: str
    start_ms: int
    end_ms: int
    strategies: list[StrategyInfo]
    fills: list[Mapping[str, Any]]
    orders: list[Mapping[str, Any]]
    marks: dict[Market, Decimal | None]
    equity: dict[str, list[tuple[int, Decimal]]] = field(default_factory=dict)
    """Net PnL over time per strategy name, and under ``"total"``."""


def compute(inputs: ReportInputs) -> dict[str, Any]:
    """The report as plain data (Decimals kept exact; ``output`` writes them)."""
    span = max(0, inputs.end_ms - inputs.start_ms)
    strategies: dict[str, Any] = {}
    for info in sorted(inputs.strategies, key=lambda s: s.name):
        fills = [f for f in inputs.fills if f["strategy"] == info.name]
        orders = [o for o in inputs.orders if o["strategy"] == info.name]
        pnl, inventory = _positions(fills, inputs.marks, inputs.start_ms, inputs.end_ms)
        strategies[info.name] = {
            "kind": info.kind,
            "venue": info.venue,
            "symbol": info.symbol,
            "pnl": pnl,
            "fills": fill_stats(fills),
            "inventory": inventory,
            "max_drawdown": max_drawdown(inputs.equity.get(info.name, ()), pnl["net"]),
            "quote_uptime": quote_uptime(orders, inputs.start_ms, inputs.end_ms),
            "orders": order_stats(orders),
        }
    pnl, inventory = _positions(inputs.fills, inputs.marks, inputs.start_ms, inputs.end_ms)
    total = {
        "pnl": pnl,
        "fills": fill_stats(inputs.fills),
        "inventory": inventory,
        "max_drawdown": max_drawdown(inputs.equity.get("total", ()), pnl["net"]),
        "orders": order_stats(inputs.orders),
    }
    return {
        "mode": inputs.mode,
        "start_ms": inputs.start_ms,
        "end_ms": inputs.end_ms,
        "duration_s": Decimal(span) / 1000,
        "strategies": strategies,
        "total": total,
    }


def _positions(
    fills: Sequence[Mapping[str, Any]],
    marks: Mapping[Market, Decimal | None],
    start_ms: int,
    end_ms: int,
) -> tuple[dict[str, Decimal], list[dict[str, Any]]]:
    """PnL summed over the markets of these fills, and the inventory of each market."""
    by_market: dict[Market, list[Mapping[str, Any]]] = {}
    for f in fills:
        by_market.setdefault((str(f["venue"]), str(f["symbol"])), []).append(f)
    pnl = {"realized": ZERO, "unrealized": ZERO, "fees": ZERO, "net": ZERO}
    inventory = []
    for market in sorted(by_market):
        state = PositionState()
        path: list[tuple[int, Decimal]] = []
        for f in by_market[market]:
            state.apply_fill(Side(f["side"]), f["price"], f["size"], f["fee"])
            path.append((int(f["ts_ms"]), state.size))
        mark = marks.get(market)
        unrealized = state.unrealized_pnl(mark)
        pnl["realized"] += state.realized_pnl
        pnl["unrealized"] += unrealized
        pnl["fees"] += state.fees
        inventory.append(
            {"venue": market[0], "symbol": market[1], "mark": mark}
            | position_stats(path, start_ms, end_ms)
        )
    pnl["net"] = pnl["realized"] + pnl["unrealized"] - pnl["fees"]
    return pnl, inventory


def position_stats(
    path: Sequence[tuple[int, Decimal]], start_ms: int, end_ms: int
) -> dict[str, Decimal]:
    """``path``: (time, position after the fill) in fill order, starting flat at
    ``start_ms``. The time-weighted means hold each position until the next fill (or
    ``end_ms``)."""
    span = end_ms - start_ms
    weighted = weighted_abs = ZERO
    max_abs = ZERO
    position = ZERO
    since = start_ms
    for ts, after in path:
        ts = min(max(ts, start_ms), end_ms)
        weighted += position * (ts - since)
        weighted_abs += abs(position) * (ts - since)
        position, since = after, ts
        max_abs = max(max_abs, abs(after))
    weighted += position * (end_ms - since)
    weighted_abs += abs(position) * (end_ms - since)
    return {
        "max_abs": max_abs,
        "final": position,
        "time_weighted": weighted / span if span > 0 else position,
        "time_weighted_abs": weighted_abs / span if span > 0 else abs(position),
    }


def fill_stats(fills: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"count": 0, "volume": ZERO, "notional": ZERO}
    for liq in ("maker", "taker"):
        out[liq] = {"count": 0, "volume": ZERO, "notional": ZERO}
    for f in fills:
        size, notional = f["size"], f["price"] * f["size"]
        out["count"] += 1
        out["volume"] += size
        out["notional"] += notional
        part = out.get(str(f["liquidity"]))
        if part is not None:
            part["count"] += 1
            part["volume"] += size
            part["notional"] += notional
    return out


def max_drawdown(curve: Iterable[tuple[int, Decimal]], final: Decimal) -> Decimal:
    """The largest fall from a running peak (the curve starts at 0: a session's PnL)."""
    peak = ZERO
    worst = ZERO
    for value in [*(v for _, v in curve), final]:
        peak = max(peak, value)
        worst = max(worst, peak - value)
    return worst


def _last_rows(orders: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    last: dict[str, Mapping[str, Any]] = {}
    for row in orders:
        last[str(row["client_id"])] = row
    return last


def order_stats(orders: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """How each order ended (its last journaled row)."""
    out: dict[str, Any] = {"placed": 0} | {s: 0 for s in sorted(TERMINAL)}
    placed_size = filled_size = ZERO
    for row in _last_rows(orders).values():
        out["placed"] += 1
        status = str(row["status"])
        if status in TERMINAL:
            out[status] += 1
        if status != "rejected":
            placed_size += row["size"]
        filled_size += row["filled"]
    out["placed_size"] = placed_size
    out["filled_size"] = filled_size
    out["fill_ratio"] = (filled_size / placed_size).quantize(RATIO) if placed_size else ZERO
    return out


def quote_uptime(orders: Iterable[Mapping[str, Any]], start_ms: int, end_ms: int) -> Decimal:
    """The share of [start, end] with a live buy and a live sell order at once."""
    span = end_ms - start_ms
    if span <= 0:
        return ZERO
    since: dict[str, int] = {}
    intervals: dict[str, list[tuple[int, int]]] = {"buy": [], "sell": []}
    side_of: dict[str, str] = {}
    for row in orders:
        cid, status, ts = str(row["client_id"]), str(row["status"]), int(row["ts_ms"])
        side_of[cid] = str(row["side"])
        if status in LIVE and cid not in since:
            since[cid] = ts
        elif status in TERMINAL and cid in since:
            intervals[side_of[cid]].append((since.pop(cid), ts))
    for cid, ts in since.items():
        intervals[side_of[cid]].append((ts, end_ms))
    both = _overlap(
        _union(intervals["buy"], start_ms, end_ms), _union(intervals["sell"], start_ms, end_ms)
    )
    return (Decimal(both) / Decimal(span)).quantize(RATIO)


def _union(spans: list[tuple[int, int]], lo: int, hi: int) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for a, b in sorted((max(a, lo), min(b, hi)) for a, b in spans):
        if b <= a:
            continue
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _overlap(xs: list[tuple[int, int]], ys: list[tuple[int, int]]) -> int:
    total = i = j = 0
    while i < len(xs) and j < len(ys):
        a, b = max(xs[i][0], ys[j][0]), min(xs[i][1], ys[j][1])
        total += max(0, b - a)
        if xs[i][1] < ys[j][1]:
            i += 1
        else:
            j += 1
    return total


__all__ = [
    "ReportInputs",
    "StrategyInfo",
    "compute",
    "fill_stats",
    "max_drawdown",
    "order_stats",
    "position_stats",
    "quote_uptime",
]
