"""The report's numbers on a small case worked out by hand: three fills, four orders,
an equity curve. Every expected value below is computed in the comments."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from mmtui.report.metrics import (
    ReportInputs,
    StrategyInfo,
    compute,
    max_drawdown,
    quote_uptime,
)
from mmtui.report.output import report_json

T0 = 1_000_000


def fill(ts: int, side: str, price: str, size: str, fee: str, liq: str = "maker") -> dict[str, Any]:
    return {
        "ts_ms": T0 + ts,
        "strategy": "mm",
        "venue": "v",
        "symbol": "BTC-PERP",
        "side": side,
        "price": D(price),
        "size": D(size),
        "fee": D(fee),
        "liquidity": liq,
    }


def order(ts: int, cid: str, side: str, status: str, size: str, filled: str = "0") -> dict:
    return {
        "ts_ms": T0 + ts,
        "client_id": cid,
        "strategy": "mm",
        "side": side,
        "status": status,
        "size": D(size),
        "filled": D(filled),
    }


FILLS = [
    # buy 2 @ 100 at t=2s: position 2, entry 100
    fill(2_000, "buy", "100", "2", "0.02"),
    # sell 1 @ 103 at t=6s: realized (103 - 100) * 1 = 3; position 1
    fill(6_000, "sell", "103", "1", "0.0103"),
    # sell 3 @ 101 at t=8s (a taker): closes 1 -> realized (101 - 100) * 1 = 1; flips to -2
    # at entry 101
    fill(8_000, "sell", "101", "3", "0.1212", "taker"),
]
ORDERS = [
    # a buy live from 1 s to 2 s (filled), another buy live from 3 s to 9 s (cancelled)
    order(1_000, "b1", "buy", "open", "2"),
    order(2_000, "b1", "buy", "filled", "2", "2"),
    order(3_000, "b2", "buy", "open", "1"),
    order(9_000, "b2", "buy", "cancelled", "1"),
    # a sell live from 1.5 s to 6 s (filled 1 of 1), one rejected, one that filled at once
    order(1_500, "s1", "sell", "open", "1"),
    order(6_000, "s1", "sell", "filled", "1", "1"),
    order(7_000, "s2", "sell", "rejected", "5"),
    order(8_000, "s3", "sell", "filled", "3", "3"),
]


def inputs() -> ReportInputs:
    return ReportInputs(
        mode="replay",
        start_ms=T0,
        end_ms=T0 + 10_000,
        strategies=[StrategyInfo("mm", "avellaneda_stoikov", "v", "BTC-PERP")],
        fills=FILLS,
        orders=ORDERS,
        marks={("v", "BTC-PERP"): D("102")},
        equity={"mm": [(T0, D(0)), (T0 + 5_000, D("2.5")), (T0 + 7_000, D("-1"))]},
    )


def test_pnl_fills_inventory_orders_by_hand() -> None:
    report = compute(inputs())
    mm = report["strategies"]["mm"]
    # realized 3 + 1 = 4; fees 0.02 + 0.0103 + 0.1212 = 0.1515;
    # unrealized: -2 at entry 101, mark 102 -> (102 - 101) * -2 = -2; net 4 - 2 - 0.1515
    assert mm["pnl"] == {
        "realized": D(4),
        "unrealized": D(-2),
        "fees": D("0.1515"),
        "net": D("1.8485"),
    }
    assert mm["fills"]["count"] == 3
    assert mm["fills"]["volume"] == D(6)
    assert mm["fills"]["notional"] == D(200 + 103 + 303)
    assert mm["fills"]["maker"] == {"count": 2, "volume": D(3), "notional": D(303)}
    assert mm["fills"]["taker"] == {"count": 1, "volume": D(3), "notional": D(303)}
    (inv,) = mm["inventory"]
    # position 0 for 2 s, 2 for 4 s, 1 for 2 s, -2 for 2 s over 10 s:
    # signed (0 + 8 + 2 - 4) / 10 = 0.6; absolute (0 + 8 + 2 + 4) / 10 = 1.4
    assert inv["max_abs"] == D(2) and inv["final"] == D(-2)
    assert inv["time_weighted"] == D("0.6") and inv["time_weighted_abs"] == D("1.4")
    # both sides live: buy [1,2] u [3,9], sell [1.5,6] -> [1.5,2] + [3,6] = 3.5 s of 10
    assert mm["quote_uptime"] == D("0.35")
    orders = mm["orders"]
    assert (orders["placed"], orders["filled"], orders["cancelled"], orders["rejected"]) == (
        5,
        3,
        1,
        1,
    )
    # placed size without the rejected one: 2 + 1 + 1 + 3 = 7; filled 2 + 1 + 3 = 6
    assert orders["placed_size"] == D(7) and orders["filled_size"] == D(6)
    assert orders["fill_ratio"] == D("0.857143")
    # equity 0 -> 2.5 -> -1 -> final 1.8485: the worst fall is 2.5 - (-1) = 3.5
    assert mm["max_drawdown"] == D("3.5")
    assert report["total"]["pnl"] == mm["pnl"]
    assert report["duration_s"] == D(10)


def test_report_json_is_exact_strings_and_stable() -> None:
    text = report_json(compute(inputs()))
    assert '"net": "1.8485"' in text and '"fill_ratio": "0.857143"' in text
    assert '"time_weighted": "0.6"' in text
    assert text == report_json(compute(inputs()))  # nothing in it varies


def test_uptime_and_drawdown_edges() -> None:
    assert quote_uptime([], 0, 0) == 0
    # an order still live at the end counts until the end
    rows = [order(0, "b", "buy", "open", "1"), order(0, "s", "sell", "partially_filled", "1")]
    assert quote_uptime(rows, T0, T0 + 4_000) == 1
    assert max_drawdown([], D(-3)) == D(3)  # never above zero: the fall from the start
    assert max_drawdown([(0, D(5))], D(5)) == 0
