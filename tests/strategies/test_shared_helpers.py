"""The pieces every strategy shares: the reject back-off and the book without our
own orders."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal as D
from pathlib import Path

from connectors.base import Instrument, OrderStatus, Side
from connectors.book import OrderBook
from strategies.backoff import RejectBackoff, backoff_ms
from strategies.external_book import external_bbo, external_mid, own_lots

INST = Instrument("v", "X-PERP", "X", "USDC", D("0.1"), D("0.001"), D("0.001"))
STRATEGIES = Path(__file__).resolve().parents[2] / "strategies"


def test_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    assert backoff_ms(0, 15_000, 120_000) == 0
    assert [backoff_ms(n, 15_000, 120_000) for n in (1, 2, 3, 4, 5)] == [
        15_000,
        30_000,
        60_000,
        120_000,
        120_000,
    ]
    assert backoff_ms(10_000, 500, 10_000) == 10_000  # no overflow far out


def test_reject_backoff_counts_each_order_once_per_key() -> None:
    b = RejectBackoff(500, 10_000)
    assert b.ready("bid", 0)
    assert b.rejected("bid", 1_000, "c1") == 500
    assert b.rejected("bid", 1_000, "c1") is None  # the same order again (place, then on_order)
    assert not b.ready("bid", 1_400) and b.ready("bid", 1_500)
    assert b.ready("ask", 1_000)  # keys are separate
    assert b.rejected("bid", 1_500, "c2") == 1_000
    assert b.waiting_ms(1_600) == 900 and b.streak("bid") == 2
    b.accepted("bid")  # the venue took one: the next refusal starts over
    assert b.rejected("bid", 3_000, "c3") == 500
    b.reset()
    assert b.ready("bid", 3_000) and b.waiting_ms(3_000) == 0 and b.total == 3


def test_reject_backoff_forgets_finished_keys_past_its_limit() -> None:
    b = RejectBackoff(10, 100)
    for i in range(2_500):
        b.rejected(f"lot{i}", i * 1_000)
    assert len(b.until_ms) <= 1_000 and len(b.failures) <= 1_000


def test_no_strategy_writes_its_own_back_off_rule() -> None:
    """One helper, one exponent rule: doubling lives in strategies/backoff.py only."""
    for path in STRATEGIES.glob("*.py"):
        if path.name == "backoff.py":
            continue
        text = path.read_text(encoding="utf-8")
        assert re.search(r"\b2\s*\*\*", text) is None, f"{path.name} doubles a wait itself"


@dataclass
class _Order:
    side: Side
    price: D | None
    remaining: D
    status: OrderStatus = OrderStatus.OPEN

    @property
    def is_live(self) -> bool:
        return self.status.is_live


def _book() -> OrderBook:
    book = OrderBook("X-PERP", INST.tick_size, INST.step_size)
    # bids 100.0 x 2 lots, 99.9 x 5; asks 100.1 x 1, 100.3 x 4 (prices in ticks, lots)
    book.apply_snapshot([(1000, 2), (999, 5)], [(1001, 1), (1003, 4)], 1, 0)
    return book


def test_the_book_without_our_own_orders() -> None:
    book = _book()
    mine = [
        _Order(Side.BUY, D("100.0"), D("0.002")),  # all of the best bid
        _Order(Side.SELL, D("100.1"), D("0.001")),  # all of the best ask
    ]
    assert external_bbo(book, INST, mine) == (D("99.9"), D("100.3"))
    assert external_mid(book, INST, mine) == D("100.1")
    assert book.mid() == D("100.05")  # the plain book: half of it ours
    # part of a level is someone else's: the level stays
    assert external_bbo(book, INST, [_Order(Side.BUY, D("100.0"), D("0.001"))])[0] == D("100.0")


def test_pending_and_finished_orders_are_not_on_the_book() -> None:
    mine = [
        _Order(Side.BUY, D("100.0"), D("0.002"), OrderStatus.PENDING),
        _Order(Side.SELL, D("100.1"), D("0.001"), OrderStatus.FILLED),
        _Order(Side.SELL, None, D("0.001")),  # a market order has no level
    ]
    assert own_lots(INST, mine, Side.BUY) == {} and own_lots(INST, mine, Side.SELL) == {}
    assert external_mid(_book(), INST, mine) == D("100.05")


def test_only_our_orders_on_one_side_falls_back_to_the_plain_mid() -> None:
    book = _book()
    mine = [
        _Order(Side.SELL, D("100.1"), D("0.001")),
        _Order(Side.SELL, D("100.3"), D("0.004")),
    ]
    assert external_bbo(book, INST, mine) == (D("100.0"), None)
    assert external_mid(book, INST, mine) == book.mid()
