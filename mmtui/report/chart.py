"""The report's chart (matplotlib, Agg backend: no display needed), one PNG with three
panels sharing the time axis: net PnL per strategy and in total (the equity curve),
each strategy's inventory per market (a step line through its fills), and each
market's mid price with our fills on it (buys ▲, sells ▼). Floats appear only here,
to draw."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

Series = Sequence[tuple[int, Decimal]]


def _times(points: Series) -> list[dt.datetime]:
    return [dt.datetime.fromtimestamp(ts / 1000, tz=dt.UTC) for ts, _ in points]


def write_chart(
    path: Path,
    *,
    title: str,
    equity: Mapping[str, Series],
    fills: Sequence[Mapping[str, Any]],
    prices: Mapping[tuple[str, str], Series],
    start_ms: int,
    end_ms: int,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.dates import DateFormatter
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 9), dpi=100, layout="constrained")
    pnl_ax, inv_ax, px_ax = fig.subplots(3, 1, sharex=True)
    fig.suptitle(title)

    for name, points in sorted(equity.items()):
        if points:
            style = {"color": "black", "linewidth": 1.6} if name == "total" else {"linewidth": 1}
            pnl_ax.plot(_times(points), [float(v) for _, v in points], label=name, **style)
    pnl_ax.axhline(0, color="grey", linewidth=0.5)
    pnl_ax.set_ylabel("net PnL")
    pnl_ax.legend(loc="upper left", fontsize="small")

    paths: dict[str, list[tuple[int, Decimal]]] = {}
    sizes: dict[str, Decimal] = {}
    for f in fills:
        key = f"{f['strategy'] or 'no strategy'} {f['venue']} {f['symbol']}"
        size = sizes.get(key, Decimal(0))
        size += f["size"] if f["side"] == "buy" else -f["size"]
        sizes[key] = size
        paths.setdefault(key, [(start_ms, Decimal(0))]).append((int(f["ts_ms"]), size))
    for key, points in sorted(paths.items()):
        points = [*points, (end_ms, points[-1][1])]
        inv_ax.step(_times(points), [float(v) for _, v in points], where="post", label=key)
    inv_ax.axhline(0, color="grey", linewidth=0.5)
    inv_ax.set_ylabel("inventory")
    if paths:
        inv_ax.legend(loc="upper left", fontsize="small")

    for (venue, symbol), points in sorted(prices.items()):
        if not points:
            continue
        px_ax.plot(
            _times(points),
            [float(v) for _, v in points],
            linewidth=0.8,
            label=f"{symbol} @ {venue} mid",
        )
        for side, marker, color in (("buy", "^", "tab:green"), ("sell", "v", "tab:red")):
            ours = [
                f for f in fills if (f["venue"], f["symbol"], f["side"]) == (venue, symbol, side)
            ]
            if ours:
                px_ax.scatter(
                    _times([(int(f["ts_ms"]), f["price"]) for f in ours]),
                    [float(f["price"]) for f in ours],
                    marker=marker,
                    color=color,
                    s=18,
                    label=f"our {side}s",
                    zorder=3,
                )
    px_ax.set_ylabel("price")
    px_ax.set_xlabel("time (UTC)")
    px_ax.xaxis.set_major_formatter(DateFormatter("%H:%M:%S", tz=dt.UTC))
    if prices:
        px_ax.legend(loc="upper left", fontsize="small")
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, format="png", metadata={"Software": None})
    tmp.replace(path)


__all__ = ["write_chart"]
