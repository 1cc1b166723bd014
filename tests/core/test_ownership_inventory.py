"""Ownership is proven by what we sent; inventories never exceed the account."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

from connectors.base import OpenOrder, OrderAck, OrderStatus, Side
from mmtui.core.inventory import (
    Holding,
    InventoryPolicy,
    journal_claims,
    starting_inventory,
)
from mmtui.core.journal import Journal
from mmtui.core.orders import OrderManager
from mmtui.core.ownership import sort_listing


def listed(wire: str | None, cid: str | None, vid: str, side: Side = Side.BUY) -> OpenOrder:
    return OpenOrder("v", "BTC", cid, vid, side, D(100), D(1), D(1), venue_client_id=wire)


async def test_listing_is_sorted_by_proof_not_by_id_form(tmp_path: Path) -> None:
    earlier = Journal(tmp_path / "j.sqlite", "mmold01")
    earlier.start()
    earlier.record_order(
        ts_ms=1,
        client_id="mmold01-7",
        venue="v",
        symbol="BTC",
        side="buy",
        order_type="limit",
        price=D(100),
        size=D(1),
        filled=D(0),
        status="open",
        reason="",
        strategy="as_btc",
        venue_order_id="70",
        post_only=True,
        reduce_only=False,
        tag="bid-0",
        venue_client_id="4096007",
    )
    earlier.close()
    journal = Journal(tmp_path / "j.sqlite", "mmnew02")
    om = OrderManager("mmnew02")
    mine = om.create(venue="v", symbol="BTC", side=Side.BUY, size=D(1), price=D(100), now_ms=1)
    mine.venue_client_id = "8192001"
    om.apply_ack(OrderAck(mine.client_id, "80", OrderStatus.OPEN), 2)
    listing = await sort_listing(
        "v",
        [
            listed("8192001", mine.client_id, "80"),  # ours, this run
            listed("4096007", "mm~001-7", "70"),  # an earlier run's, proven by the journal
            listed("4096007", "mm~001-7", "71", Side.SELL),  # same wire id, other side: not ours
            listed("123456789", "mm~075-773397", "72"),  # decodes like ours: another tool's
            listed(None, None, "73"),  # no client id at all
        ],
        om,
        journal,
    )
    assert [o.venue_order_id for o, _ in listing.this_run] == ["80"]
    assert [(e.listed.venue_order_id, e.client_id, e.strategy, e.tag) for e in listing.earlier] == [
        ("70", "mmold01-7", "as_btc", "bid-0")
    ]
    assert [o.venue_order_id for o in listing.foreign] == ["71", "72", "73"]


async def test_without_a_journal_only_this_run_is_ours() -> None:
    om = OrderManager("mmnew02")
    listing = await sort_listing("v", [listed("4096007", "mm~001-7", "70")], om, None)
    assert listing.earlier == [] and len(listing.foreign) == 1


def _fills(*rows: tuple[str, str, str]) -> list[dict[str, object]]:
    return [
        {"venue": "sim", "symbol": "BTC", "side": side, "price": price, "size": size, "fee": "0"}
        for side, size, price in rows
    ]


def test_journal_claims_replay_fills() -> None:
    claims = journal_claims(_fills(("buy", "0.02", "100"), ("sell", "0.03", "110")), "a")
    assert claims == {("a", "sim", "BTC"): Holding(D("-0.01"), D(110))}


MARKET = ("sim", "BTC")


def test_a_fresh_flat_account_starts_every_strategy_flat_whatever_the_journal_says() -> None:
    claims = {("a", "sim", "BTC"): Holding(D("-0.01"), D(100))}
    for policy in InventoryPolicy:
        start, mismatches = starting_inventory({"a": [MARKET]}, claims, {}, policy)
        assert start == {}
        (m,) = mismatches
        assert (m.account, m.claimed, m.unassigned) == (0, D("-0.01"), 0)
        assert "differ by 0.01" in m.describe()


def test_agreeing_journal_and_account_keep_the_claims() -> None:
    claims = {
        ("a", "sim", "BTC"): Holding(D("0.03"), D(100)),
        ("b", "sim", "BTC"): Holding(D("-0.01"), D(90)),
    }
    account = {MARKET: Holding(D("0.02"), D(101))}
    start, mismatches = starting_inventory(
        {"a": [MARKET], "b": [MARKET]}, claims, account, InventoryPolicy.START_FLAT
    )
    assert mismatches == []
    assert start == claims


def test_disagreement_start_flat_or_adopt() -> None:
    claims = {("a", "sim", "BTC"): Holding(D("0.03"), D(100))}
    account = {MARKET: Holding(D("0.01"), D(105))}
    start, (m,) = starting_inventory({"a": [MARKET]}, claims, account, InventoryPolicy.START_FLAT)
    assert start == {} and m.unassigned == D("0.01")
    start, (m,) = starting_inventory(
        {"a": [MARKET]}, claims, account, InventoryPolicy.ADOPT_ACCOUNT
    )
    assert start == {("a", "sim", "BTC"): Holding(D("0.01"), D(105))} and m.unassigned == 0


def test_adopt_with_several_strategies_never_exceeds_the_account() -> None:
    claims = {
        ("a", "sim", "BTC"): Holding(D("0.03"), D(100)),
        ("b", "sim", "BTC"): Holding(D("0.02"), D(99)),
        ("c", "sim", "BTC"): Holding(D("-0.01"), D(98)),
    }
    account = {MARKET: Holding(D("0.035"), D(100))}
    start, (m,) = starting_inventory(
        {n: [MARKET] for n in "abc"}, claims, account, InventoryPolicy.ADOPT_ACCOUNT
    )
    assert start == {
        ("a", "sim", "BTC"): Holding(D("0.03"), D(100)),
        ("b", "sim", "BTC"): Holding(D("0.005"), D(99)),
    }
    assert m.unassigned == 0
