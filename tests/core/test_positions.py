"""Position arithmetic: entry, realized PnL through reductions and flips."""

from __future__ import annotations

from decimal import Decimal as D

from connectors.base import Side
from connectors.position_math import PositionState


def test_open_add_reduce_flip() -> None:
    p = PositionState()
    p.apply_fill(Side.BUY, D(100), D(1), D("0.1"))
    p.apply_fill(Side.BUY, D(110), D(1), D("0.1"))
    assert p.size == D(2) and p.entry_price == D(105)
    realized = p.apply_fill(Side.SELL, D(115), D(1), D("0.1"))
    assert realized == D(10) and p.size == D(1) and p.entry_price == D(105)
    p.apply_fill(Side.SELL, D(100), D(3), D(0))  # closes 1 at -5, opens 2 short at 100
    assert p.realized_pnl == D(5)
    assert p.size == D(-2) and p.entry_price == D(100)
    assert p.unrealized_pnl(D(90)) == D(20)
    assert p.fees == D("0.3")
    assert p.net_pnl(D(90)) == D(5) + D(20) - D("0.3")
    assert p.volume == D(100) + D(110) + D(115) + D(300)


def test_close_to_zero_resets_entry() -> None:
    p = PositionState()
    p.apply_fill(Side.SELL, D(50), D("0.5"), D(0))
    p.apply_fill(Side.BUY, D(40), D("0.5"), D(0))
    assert p.size == 0 and p.entry_price == 0 and p.realized_pnl == D(5)
    assert p.unrealized_pnl(D(1)) == 0
