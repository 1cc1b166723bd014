"""Matching engine: unit tests plus property tests against a naive list-based book."""

from __future__ import annotations

from dataclasses import dataclass, field
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from connectors.base import Side
from connectors.sim import matching
from connectors.sim.matching import (
    Kind,
    Match,
    MatchingEngine,
    Outcome,
    RestingOrder,
    SubmitResult,
    _new_match,
)

BUY, SELL = Side.BUY, Side.SELL


def book(*orders: tuple[int, str, Side, int, int]) -> MatchingEngine:
    """An engine with resting limits ``(order_id, owner, side, qty, price)``, in order."""
    eng = MatchingEngine()
    for oid, owner, side, qty, price in orders:
        assert eng.submit(oid, owner, side, qty, price).outcome is Outcome.RESTING
    return eng


def fills(res: SubmitResult) -> list[tuple[int, int, int, int]]:
    """``(maker_order_id, price, qty, maker_remaining)`` per match."""
    return [(m.maker_order_id, m.price, m.qty, m.maker_remaining) for m in res.matches]


# ---------------------------------------------------------------------- unit


def test_fast_match_constructor_equals_dataclass() -> None:
    args = (1, "a", 2, "b", SELL, 100, 3, 4)
    m = _new_match(*args)
    assert m == Match(*args)
    assert hash(m) == hash(Match(*args))
    with pytest.raises(AttributeError):
        m.qty = 5  # type: ignore[misc]


def test_limit_rests_when_nothing_crosses() -> None:
    eng = MatchingEngine()
    res = eng.submit(1, "a", BUY, 5, 100)
    assert res == SubmitResult(Outcome.RESTING, [], 0, 5, 0, [])
    res = eng.submit(2, "b", SELL, 3, 101)
    assert res.outcome is Outcome.RESTING
    assert (eng.best_bid(), eng.best_ask(), len(eng)) == (100, 101, 2)
    assert eng.order(1) == RestingOrder(1, "a", BUY, 100, 5, 5, eng.order(1).seq)  # type: ignore[union-attr]
    assert eng.order(1).seq < eng.order(2).seq  # type: ignore[union-attr]
    assert eng.level_qty(BUY, 100) == 5
    assert eng.level_qty(SELL, 100) == 0


def test_partial_fill_keeps_priority() -> None:
    eng = book((1, "m1", SELL, 10, 100), (2, "m2", SELL, 10, 100))
    res = eng.submit(3, "t", BUY, 4, 100, Kind.IOC)
    assert res.outcome is Outcome.FILLED
    assert fills(res) == [(1, 100, 4, 6)]
    assert eng.order(1).qty == 6 and eng.order(1).orig_qty == 10  # type: ignore[union-attr]
    res = eng.submit(4, "t", BUY, 7, 100, Kind.IOC)
    assert fills(res) == [(1, 100, 6, 0), (2, 100, 1, 9)]
    assert eng.order(1) is None
    assert eng.level_qty(SELL, 100) == 9


def test_time_priority_at_same_price() -> None:
    eng = book((1, "a", BUY, 2, 100), (2, "b", BUY, 2, 100), (3, "c", BUY, 2, 100))
    res = eng.submit(9, "t", SELL, 5, 100, Kind.IOC)
    assert [m.maker_order_id for m in res.matches] == [1, 2, 3]
    assert [m.qty for m in res.matches] == [2, 2, 1]


def test_price_priority_and_maker_price() -> None:
    eng = book((1, "a", SELL, 1, 103), (2, "b", SELL, 1, 101), (3, "c", SELL, 1, 102))
    res = eng.submit(9, "t", BUY, 3, 105)
    assert fills(res) == [(2, 101, 1, 0), (3, 102, 1, 0), (1, 103, 1, 0)]
    assert res.outcome is Outcome.FILLED
    assert all(m.taker_side is BUY and m.taker_order_id == 9 for m in res.matches)


def test_limit_remainder_rests_after_crossing() -> None:
    eng = book((1, "a", SELL, 3, 100), (2, "a", SELL, 3, 102))
    res = eng.submit(9, "t", BUY, 5, 101)
    assert (res.outcome, res.filled_qty, res.resting_qty, res.cancelled_qty) == (
        Outcome.RESTING,
        3,
        2,
        0,
    )
    assert (eng.best_bid(), eng.best_ask()) == (101, 102)
    assert eng.order(9).qty == 2 and eng.order(9).orig_qty == 5  # type: ignore[union-attr]


def test_post_only_reject_leaves_book_untouched() -> None:
    eng = book((1, "a", SELL, 3, 101), (2, "b", BUY, 3, 99))
    eng.drain_changes()
    before = eng.depth(10)
    for side, price in ((BUY, 101), (BUY, 105), (SELL, 99), (SELL, 90)):
        res = eng.submit(10, "me", side, 1, price, post_only=True)
        assert res == SubmitResult(Outcome.REJECTED_POST_ONLY, [], 0, 0, 0, [])
    assert eng.depth(10) == before and len(eng) == 2
    assert eng.drain_changes() == []
    assert eng.submit(10, "me", BUY, 1, 100, post_only=True).outcome is Outcome.RESTING


def test_post_only_on_own_order_is_rejected_not_stp() -> None:
    eng = book((1, "me", SELL, 3, 101))
    res = eng.submit(2, "me", BUY, 1, 101, post_only=True)
    assert res.outcome is Outcome.REJECTED_POST_ONLY and res.stp_cancelled == []
    assert eng.order(1) is not None


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((0, 100), {}),
        ((-1, 100), {}),
        ((1, 0), {}),
        ((1, -5), {}),
        ((1, None), {}),
        ((1, None), {"kind": Kind.IOC}),
        ((1, 0), {"kind": Kind.MARKET}),
        ((1, None), {"kind": Kind.MARKET, "post_only": True}),
        ((1, 100), {"kind": Kind.IOC, "post_only": True}),
    ],
)
def test_invalid_orders_are_rejected(args: tuple[int, int | None], kwargs: dict) -> None:
    eng = book((1, "a", SELL, 3, 100))
    res = eng.submit(2, "t", BUY, *args, **kwargs)
    assert res == SubmitResult(Outcome.REJECTED_INVALID, [], 0, 0, 0, [])
    assert eng.depth(5) == ([], [(100, 3)])


def test_duplicate_resting_id_rejected_but_reuse_after_removal_ok() -> None:
    eng = book((1, "a", BUY, 3, 100), (2, "a", BUY, 3, 100), (3, "a", BUY, 3, 100))
    assert eng.submit(2, "b", SELL, 1, 200).outcome is Outcome.REJECTED_INVALID
    eng.cancel(2)  # middle of the queue: lazily removed
    assert eng.submit(2, "b", BUY, 4, 100).outcome is Outcome.RESTING  # same id, same level
    res = eng.submit(9, "t", SELL, 20, 100, Kind.IOC)
    assert fills(res) == [(1, 100, 3, 0), (3, 100, 3, 0), (2, 100, 4, 0)]
    assert (res.outcome, res.cancelled_qty) == (Outcome.CANCELLED, 10)
    assert len(eng) == 0 and eng.depth(5) == ([], [])


def test_ioc_remainder_cancelled() -> None:
    eng = book((1, "a", SELL, 3, 100), (2, "a", SELL, 3, 102))
    res = eng.submit(9, "t", BUY, 5, 101, Kind.IOC)
    assert (res.outcome, res.filled_qty, res.resting_qty, res.cancelled_qty) == (
        Outcome.CANCELLED,
        3,
        0,
        2,
    )
    assert eng.order(9) is None and eng.best_bid() is None and eng.best_ask() == 102
    res = eng.submit(10, "t", BUY, 5, 101, Kind.IOC)  # nothing crosses
    assert (res.outcome, res.matches, res.cancelled_qty) == (Outcome.CANCELLED, [], 5)


def test_market_sweeps_several_levels() -> None:
    eng = book((1, "a", BUY, 2, 100), (2, "b", BUY, 2, 99), (3, "c", BUY, 2, 97))
    res = eng.submit(9, "t", SELL, 5, None, Kind.MARKET)
    assert fills(res) == [(1, 100, 2, 0), (2, 99, 2, 0), (3, 97, 1, 1)]
    assert res.outcome is Outcome.FILLED and eng.best_bid() == 97
    res = eng.submit(10, "t", SELL, 5, None, Kind.MARKET)
    assert (res.outcome, res.filled_qty, res.cancelled_qty) == (Outcome.CANCELLED, 1, 4)
    assert eng.best_bid() is None
    res = eng.submit(11, "t", SELL, 5, None, Kind.MARKET)  # empty book
    assert (res.outcome, res.cancelled_qty) == (Outcome.CANCELLED, 5)


def test_market_with_protection_price_stops() -> None:
    eng = book((1, "a", SELL, 2, 100), (2, "b", SELL, 2, 101), (3, "c", SELL, 2, 103))
    res = eng.submit(9, "t", BUY, 10, 101, Kind.MARKET)
    assert fills(res) == [(1, 100, 2, 0), (2, 101, 2, 0)]
    assert (res.outcome, res.filled_qty, res.cancelled_qty) == (Outcome.CANCELLED, 4, 6)
    assert eng.best_ask() == 103 and eng.best_bid() is None


def test_stp_cancels_own_maker_and_continues() -> None:
    eng = book(
        (1, "x", SELL, 2, 100),
        (2, "me", SELL, 5, 100),
        (3, "y", SELL, 2, 100),
        (4, "me", SELL, 1, 101),
        (5, "z", SELL, 4, 102),
    )
    eng.drain_changes()
    res = eng.submit(9, "me", BUY, 5, 102)
    assert [(m.maker_order_id, m.qty) for m in res.matches] == [(1, 2), (3, 2), (5, 1)]
    assert [(o.order_id, o.qty) for o in res.stp_cancelled] == [(2, 5), (4, 1)]
    assert (res.outcome, res.filled_qty, res.cancelled_qty) == (Outcome.FILLED, 5, 0)
    assert eng.orders_of("me") == [] and eng.order(2) is None and eng.order(4) is None
    assert sorted(eng.drain_changes(), key=str) == sorted(
        [(SELL, 100, 0), (SELL, 101, 0), (SELL, 102, 3)], key=str
    )


def test_stp_only_own_orders_then_rest() -> None:
    eng = book((1, "me", SELL, 2, 100))
    res = eng.submit(2, "me", BUY, 3, 100)
    assert (res.outcome, res.matches, res.resting_qty) == (Outcome.RESTING, [], 3)
    assert [o.order_id for o in res.stp_cancelled] == [1]
    assert (eng.best_bid(), eng.best_ask()) == (100, None)


def test_cancel() -> None:
    eng = book((1, "a", BUY, 3, 100), (2, "b", BUY, 4, 100), (3, "a", BUY, 5, 99))
    eng.submit(9, "t", SELL, 1, 100, Kind.IOC)
    o = eng.cancel(1)
    assert o is not None and (o.order_id, o.qty, o.orig_qty) == (1, 2, 3)
    assert eng.cancel(1) is None and eng.cancel(12345) is None
    assert eng.level_qty(BUY, 100) == 4 and len(eng) == 2
    assert eng.cancel(2) is not None
    assert eng.best_bid() == 99 and eng.level_qty(BUY, 100) == 0
    assert eng.orders_of("a") == [eng.order(3)] and eng.orders_of("b") == []


def test_reduce_keeps_priority() -> None:
    eng = book((1, "a", SELL, 5, 100), (2, "b", SELL, 5, 100))
    o = eng.reduce(1, 2)
    assert o is not None and o.qty == 2 and o.orig_qty == 5
    assert eng.level_qty(SELL, 100) == 7
    assert eng.reduce(1, 2) is o  # no-op
    with pytest.raises(ValueError):
        eng.reduce(1, 3)
    assert eng.reduce(777, 1) is None
    res = eng.submit(9, "t", BUY, 3, 100, Kind.IOC)
    assert fills(res) == [(1, 100, 2, 0), (2, 100, 1, 4)]
    assert eng.reduce(2, 0) is not None and len(eng) == 0 and eng.best_ask() is None
    assert eng.reduce(2, -1) is None


def test_drain_changes_content() -> None:
    eng = MatchingEngine()
    assert eng.drain_changes() == []
    eng.submit(1, "a", BUY, 3, 100)
    eng.submit(2, "a", BUY, 2, 100)
    eng.submit(3, "b", SELL, 4, 102)
    assert sorted(eng.drain_changes(), key=str) == sorted([(BUY, 100, 5), (SELL, 102, 4)], key=str)
    assert eng.drain_changes() == []
    eng.submit(4, "c", SELL, 5, 100, Kind.IOC)  # eats 100 fully
    eng.reduce(3, 1)
    changes = eng.drain_changes()
    assert sorted(changes, key=str) == sorted([(BUY, 100, 0), (SELL, 102, 1)], key=str)
    eng.submit(5, "a", SELL, 1, 105)
    eng.cancel(5)
    assert eng.drain_changes() == [(SELL, 105, 0)]


def test_depth_ordering() -> None:
    eng = book(
        (1, "a", BUY, 1, 98),
        (2, "a", BUY, 2, 100),
        (3, "a", BUY, 3, 99),
        (4, "a", SELL, 4, 103),
        (5, "a", SELL, 5, 101),
        (6, "a", SELL, 6, 102),
        (7, "b", BUY, 7, 100),
    )
    assert eng.depth(10) == ([(100, 9), (99, 3), (98, 1)], [(101, 5), (102, 6), (103, 4)])
    assert eng.depth(2) == ([(100, 9), (99, 3)], [(101, 5), (102, 6)])
    assert eng.depth(0) == ([], [])


def test_many_lazy_cancels_compact_and_stay_exact() -> None:
    eng = MatchingEngine()
    for i in range(1, 301):
        eng.submit(i, "a", BUY, 1, 100)
    kept = [i for i in range(1, 301) if i % 3 == 1 or i == 300]
    for i in range(2, 300):  # mid-queue cancels are lazy until dead entries dominate
        if i % 3 != 1:
            eng.cancel(i)
    assert eng.level_qty(BUY, 100) == len(kept) == len(eng)
    assert len(eng._bids[100].orders) < 200  # compacted at least once
    res = eng.submit(1000, "t", SELL, 500, 100, Kind.IOC)
    assert [m.maker_order_id for m in res.matches] == kept
    assert eng.depth(1) == ([], [])


# ------------------------------------------------------- reference model


@dataclass
class RefOrder:
    order_id: int
    owner: str
    side: Side
    price: int
    qty: int
    orig_qty: int
    seq: int


@dataclass
class RefBook:
    """Obviously-correct book: a flat list, best maker found by a full scan."""

    orders: list[RefOrder] = field(default_factory=list)
    seq: int = 0

    def find(self, order_id: int) -> RefOrder | None:
        return next((o for o in self.orders if o.order_id == order_id), None)

    def submit(
        self,
        oid: int,
        owner: str,
        side: Side,
        qty: int,
        price: int | None,
        kind: Kind,
        post_only: bool,
    ) -> SubmitResult:
        invalid = (
            qty <= 0
            or self.find(oid) is not None
            or (price is None and kind is not Kind.MARKET)
            or (price is not None and price <= 0)
            or (post_only and kind is not Kind.LIMIT)
        )
        if invalid:
            return SubmitResult(Outcome.REJECTED_INVALID, [], 0, 0, 0, [])

        def crosses(o: RefOrder) -> bool:
            if o.side is side:
                return False
            if price is None:
                return True
            return o.price <= price if side is BUY else o.price >= price

        if post_only and any(crosses(o) for o in self.orders):
            return SubmitResult(Outcome.REJECTED_POST_ONLY, [], 0, 0, 0, [])
        matches: list[Match] = []
        stp: list[RestingOrder] = []
        left = qty
        while left:
            cands = [o for o in self.orders if crosses(o)]
            if not cands:
                break
            best = min(cands, key=lambda o: (o.price * side.sign, o.seq))
            if best.owner == owner:
                self.orders.remove(best)
                stp.append(RestingOrder(**vars(best)))
                continue
            n = min(left, best.qty)
            best.qty -= n
            left -= n
            if not best.qty:
                self.orders.remove(best)
            matches.append(
                Match(oid, owner, best.order_id, best.owner, side, best.price, n, best.qty)
            )
        if not left:
            return SubmitResult(Outcome.FILLED, matches, qty, 0, 0, stp)
        if kind is not Kind.LIMIT:
            return SubmitResult(Outcome.CANCELLED, matches, qty - left, 0, left, stp)
        self.seq += 1
        assert price is not None
        self.orders.append(RefOrder(oid, owner, side, price, left, qty, self.seq))
        return SubmitResult(Outcome.RESTING, matches, qty - left, left, 0, stp)

    def cancel(self, oid: int) -> RefOrder | None:
        o = self.find(oid)
        if o is not None:
            self.orders.remove(o)
        return o

    def reduce(self, oid: int, new_qty: int) -> RefOrder | None:
        o = self.find(oid)
        if o is None or new_qty <= 0:
            return self.cancel(oid)
        if new_qty > o.qty:
            raise ValueError
        o.qty = new_qty
        return o

    def levels(self) -> dict[tuple[Side, int], int]:
        out: dict[tuple[Side, int], int] = {}
        for o in self.orders:
            out[o.side, o.price] = out.get((o.side, o.price), 0) + o.qty
        return out


OWNERS = ("me", "crowd_maker", "crowd_a")
PRICES = range(96, 105)

submit_op = st.tuples(
    st.just("submit"),
    st.sampled_from(OWNERS),
    st.sampled_from(Side),
    st.sampled_from([1, 2, 3, 4, 5, 6, 8, 1, 2, 3, 0, -1]),  # qty; <= 0 is invalid
    st.sampled_from([*PRICES, None, 0]),  # None: market; 0 is invalid
    st.sampled_from([Kind.LIMIT, Kind.LIMIT, Kind.LIMIT, Kind.IOC, Kind.MARKET]),
    st.sampled_from([False, False, False, True]),  # post_only
    st.one_of(st.none(), st.none(), st.integers(0, 10**6)),  # None: fresh id, else reuse one
)
cancel_op = st.tuples(st.just("cancel"), st.integers(0, 10**6))
reduce_op = st.tuples(st.just("reduce"), st.integers(0, 10**6), st.integers(-1, 8))
drain_op = st.tuples(st.just("drain"))
OP_STRATEGIES = {"submit": submit_op, "cancel": cancel_op, "reduce": reduce_op, "drain": drain_op}
ops_strategy = st.lists(
    st.sampled_from(["submit"] * 5 + ["cancel", "reduce", "drain"]).flatmap(OP_STRATEGIES.get),
    min_size=15,  # hypothesis's average list length follows min_size; short runs say little
    max_size=80,
)


def rest_key(o: RestingOrder | RefOrder) -> tuple[int, str, Side, int, int, int]:
    return (o.order_id, o.owner, o.side, o.price, o.qty, o.orig_qty)


def engine_levels(eng: MatchingEngine) -> dict[tuple[Side, int], int]:
    bids, asks = eng.depth(10**6)
    return {(BUY, p): q for p, q in bids} | {(SELL, p): q for p, q in asks}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops_strategy)
def test_engine_matches_reference_model(ops: list[tuple]) -> None:
    # A tiny threshold makes short runs exercise both lazy removal and compaction.
    with patch.object(matching, "_COMPACT_MIN_DEAD", 2):
        run_against_reference(ops)


def run_against_reference(ops: list[tuple]) -> None:
    eng = MatchingEngine()
    ref = RefBook()
    known: list[int] = []  # every id ever accepted
    next_id = 1
    # per live incarnation of an id: [orig, filled, cancelled]
    acct: dict[int, list[int]] = {}
    drained = engine_levels(eng)  # L2 as of the last drain

    def check_balanced(oid: int) -> None:
        orig, filled, cancelled = acct[oid]
        o = eng.order(oid)
        assert orig == filled + (o.qty if o is not None else 0) + cancelled, oid

    for op in ops:
        if op[0] == "submit":
            _, owner, side, qty, price, kind, post_only, pick = op
            if pick is None or not known:
                oid, next_id = next_id, next_id + 1
            else:
                oid = known[pick % len(known)]
            expected = ref.submit(oid, owner, side, qty, price, kind, post_only)
            book_before = sum(engine_levels(eng).values())
            res = eng.submit(oid, owner, side, qty, price, kind, post_only)
            assert res == expected
            # Taker side == maker side: lots that left the book through matches equal
            # what the taker reports filled.
            stp_qty = sum(o.qty for o in res.stp_cancelled)
            book_after = sum(engine_levels(eng).values())
            assert book_before - stp_qty + res.resting_qty - book_after == res.filled_qty
            event(f"outcome {res.outcome.name}")
            if res.matches:
                event("matched")
            if len(res.matches) > 1:
                event("several matches")
            if res.stp_cancelled:
                event("self-trade prevented")
            if post_only:
                assert res.matches == [] and res.stp_cancelled == []
            if res.outcome in (Outcome.REJECTED_INVALID, Outcome.REJECTED_POST_ONLY):
                continue
            if oid not in acct:  # else a reused id whose previous life was checked below
                known.append(oid)
            acct[oid] = [qty, res.filled_qty, res.cancelled_qty]
            assert qty == res.filled_qty + res.resting_qty + res.cancelled_qty
            assert res.filled_qty == sum(m.qty for m in res.matches)
            for m in res.matches:
                acct[m.maker_order_id][1] += m.qty
                assert m.taker_order_id == oid and m.taker_side is side
                assert m.maker_owner != owner
            for o in res.stp_cancelled:
                assert o.owner == owner
                acct[o.order_id][2] += o.qty
        elif op[0] in ("cancel", "reduce"):
            oid = known[op[1] % len(known)] if known else 0
            before = eng.order(oid)
            old_qty = before.qty if before is not None else 0
            if op[0] == "cancel":
                got, want = eng.cancel(oid), ref.cancel(oid)
            else:
                try:
                    want = ref.reduce(oid, op[2])
                except ValueError:
                    with pytest.raises(ValueError):
                        eng.reduce(oid, op[2])
                    continue
                got = eng.reduce(oid, op[2])
            assert (got is None) == (want is None)
            if got is not None and want is not None:
                assert got is before
                assert rest_key(got) == rest_key(want)
                new = eng.order(oid)
                acct[oid][2] += old_qty - (new.qty if new is not None else 0)
        else:
            now = engine_levels(eng)
            changes = eng.drain_changes()
            keys = [(s, p) for s, p, _ in changes]
            assert len(keys) == len(set(keys)), "each level at most once"
            reported = {(s, p): q for s, p, q in changes}
            for key, q in reported.items():
                assert now.get(key, 0) == q
            for key in drained.keys() | now.keys():
                if drained.get(key, 0) != now.get(key, 0):
                    assert key in reported, key
            drained = now

        # Invariants after every operation.
        bb, ba = eng.best_bid(), eng.best_ask()
        assert bb is None or ba is None or bb < ba
        levels = engine_levels(eng)
        assert levels == ref.levels()
        assert all(q > 0 for q in levels.values())
        by_owner: dict[tuple[Side, int], int] = {}
        count = 0
        for owner in OWNERS:
            mine = eng.orders_of(owner)
            assert [o.seq for o in mine] == sorted(o.seq for o in mine)
            for o in mine:
                assert o.owner == owner and eng.order(o.order_id) is o
                by_owner[o.side, o.price] = by_owner.get((o.side, o.price), 0) + o.qty
                count += 1
        assert by_owner == levels and count == len(eng) == len(ref.orders)
        for (s, p), q in levels.items():
            assert eng.level_qty(s, p) == q
        bids, asks = eng.depth(3)
        assert (
            bids == sorted(((p, q) for (s, p), q in levels.items() if s is BUY), reverse=True)[:3]
        )
        assert asks == sorted((p, q) for (s, p), q in levels.items() if s is SELL)[:3]
        assert sorted(map(rest_key, (o for w in OWNERS for o in eng.orders_of(w)))) == sorted(
            map(rest_key, ref.orders)
        )
        for oid in acct:
            check_balanced(oid)
