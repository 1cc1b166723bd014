"""Price–time-priority matching engine for one instrument, in integer ticks and lots.

Pure and synchronous: no I/O, no floats, no Decimal. The simulated venue wraps it
and converts to and from ``Decimal`` at its own boundary.

Layout per side: ``price -> _Level`` (FIFO deque of orders plus the aggregate
qty) and a sorted list of keys whose *last* element is the best price (bids keyed
by ``price``, asks by ``-price``), so the best level is ``keys[-1]`` and an emptied
best level is a ``list.pop()``. Cancelled orders leave their deque lazily (an
entry is live iff ``_orders[entry.order_id] is entry``); aggregates are always exact.
"""

from __future__ import annotations

import enum
from bisect import bisect_left, insort
from collections import deque
from dataclasses import dataclass, fields

from connectors.base import Side

_BUY = Side.BUY
_SELL = Side.SELL


@dataclass(slots=True)
class RestingOrder:
    """An order on the book. ``qty`` is what remains; ``seq`` is its time priority."""

    order_id: int
    owner: str
    side: Side
    price: int
    qty: int
    orig_qty: int
    seq: int


@dataclass(frozen=True, slots=True)
class Match:
    """One execution at the maker's price; ``maker_remaining == 0`` means the maker left."""

    taker_order_id: int
    taker_owner: str
    maker_order_id: int
    maker_owner: str
    taker_side: Side
    price: int
    qty: int
    maker_remaining: int


_match_new = object.__new__
(_m0, _m1, _m2, _m3, _m4, _m5, _m6, _m7) = (getattr(Match, f.name).__set__ for f in fields(Match))


def _new_match(
    taker_order_id: int,
    taker_owner: str,
    maker_order_id: int,
    maker_owner: str,
    taker_side: Side,
    price: int,
    qty: int,
    maker_remaining: int,
) -> Match:
    """``Match(...)`` at about half the cost: a frozen dataclass ``__init__`` goes through
    ``object.__setattr__`` per field; this sets the slots directly. Same result."""
    m = _match_new(Match)
    _m0(m, taker_order_id)
    _m1(m, taker_owner)
    _m2(m, maker_order_id)
    _m3(m, maker_owner)
    _m4(m, taker_side)
    _m5(m, price)
    _m6(m, qty)
    _m7(m, maker_remaining)
    return m


class Kind(enum.Enum):
    """LIMIT rests its remainder; IOC and MARKET cancel it. MARKET's price is optional
    and, when given, is the worst acceptable price (protection)."""

    LIMIT = "limit"
    IOC = "ioc"
    MARKET = "market"


class Outcome(enum.Enum):
    RESTING = "resting"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED_POST_ONLY = "rejected_post_only"
    REJECTED_INVALID = "rejected_invalid"


@dataclass(slots=True)
class SubmitResult:
    """What one ``submit`` did. For an accepted order
    ``qty == filled_qty + resting_qty + cancelled_qty``; ``cancelled_qty`` is the
    taker's own cancelled remainder (makers removed by self-trade prevention are
    in ``stp_cancelled`` with their remaining qty at removal). Rejections report zeros."""

    outcome: Outcome
    matches: list[Match]
    filled_qty: int
    resting_qty: int
    cancelled_qty: int
    stp_cancelled: list[RestingOrder]


class _Level:
    """One price level: FIFO queue (may hold lazily-cancelled entries) and exact totals."""

    __slots__ = ("dead", "orders", "qty")

    def __init__(self) -> None:
        self.orders: deque[RestingOrder] = deque()
        self.qty = 0
        self.dead = 0  # cancelled entries still sitting in ``orders``


_COMPACT_MIN_DEAD = 32


class MatchingEngine:
    """Book and matcher for one instrument. ``order_id`` must be unique among resting orders."""

    __slots__ = (
        "_ask_keys",
        "_asks",
        "_bid_keys",
        "_bids",
        "_by_owner",
        "_orders",
        "_seq",
        "_touched_asks",
        "_touched_bids",
    )

    def __init__(self) -> None:
        self._bids: dict[int, _Level] = {}
        self._asks: dict[int, _Level] = {}
        self._bid_keys: list[int] = []  # +price, ascending: best bid last
        self._ask_keys: list[int] = []  # -price, ascending: best ask last
        self._orders: dict[int, RestingOrder] = {}
        self._by_owner: dict[str, dict[int, RestingOrder]] = {}
        self._seq = 0
        self._touched_bids: set[int] = set()
        self._touched_asks: set[int] = set()

    # ------------------------------------------------------------------ submit

    def submit(
        self,
        order_id: int,
        owner: str,
        side: Side,
        qty: int,
        price: int | None,
        kind: Kind = Kind.LIMIT,
        post_only: bool = False,
    ) -> SubmitResult:
        """Match a new order against the book, then rest (LIMIT) or cancel (IOC/MARKET)
        its remainder. Same-owner makers met on the way are cancelled (STP)."""
        if qty <= 0 or order_id in self._orders:
            return SubmitResult(Outcome.REJECTED_INVALID, [], 0, 0, 0, [])
        if price is None:
            if kind is not Kind.MARKET:
                return SubmitResult(Outcome.REJECTED_INVALID, [], 0, 0, 0, [])
        elif price <= 0:
            return SubmitResult(Outcome.REJECTED_INVALID, [], 0, 0, 0, [])
        if post_only and kind is not Kind.LIMIT:
            return SubmitResult(Outcome.REJECTED_INVALID, [], 0, 0, 0, [])

        # Opposite keys are price * osign; a level crosses while its key >= klim.
        okeys = self._ask_keys if side is _BUY else self._bid_keys
        if okeys:
            klim = okeys[0] if price is None else (-price if side is _BUY else price)
            if okeys[-1] >= klim:
                if post_only:
                    return SubmitResult(Outcome.REJECTED_POST_ONLY, [], 0, 0, 0, [])
                matches: list[Match] = []
                stp: list[RestingOrder] = []
                remaining = self._take(order_id, owner, side, qty, klim, matches, stp)
                filled = qty - remaining
                if not remaining:
                    return SubmitResult(Outcome.FILLED, matches, filled, 0, 0, stp)
                if kind is not Kind.LIMIT or price is None:  # (LIMIT always has a price)
                    return SubmitResult(Outcome.CANCELLED, matches, filled, 0, remaining, stp)
                self._rest(order_id, owner, side, price, remaining, qty)
                return SubmitResult(Outcome.RESTING, matches, filled, remaining, 0, stp)
        if kind is not Kind.LIMIT or price is None:
            return SubmitResult(Outcome.CANCELLED, [], 0, 0, qty, [])
        self._rest(order_id, owner, side, price, qty, qty)
        return SubmitResult(Outcome.RESTING, [], 0, qty, 0, [])

    def _take(
        self,
        order_id: int,
        owner: str,
        side: Side,
        qty: int,
        klim: int,
        matches: list[Match],
        stp: list[RestingOrder],
    ) -> int:
        """Match ``qty`` against opposite levels with key >= ``klim``; returns what is left."""
        if side is _BUY:
            okeys = self._ask_keys
            olevels = self._asks
            otouched = self._touched_asks
            osign = -1
        else:
            okeys = self._bid_keys
            olevels = self._bids
            otouched = self._touched_bids
            osign = 1
        orders = self._orders
        by_owner = self._by_owner
        append = matches.append
        remaining = qty
        while remaining and okeys:
            k = okeys[-1]
            if k < klim:
                break
            p = k * osign
            lvl = olevels[p]
            q = lvl.orders
            otouched.add(p)
            while remaining and q:
                m = q[0]
                mid = m.order_id
                if orders.get(mid) is not m:  # lazily cancelled
                    q.popleft()
                    lvl.dead -= 1
                    continue
                mq = m.qty
                mowner = m.owner
                if mowner == owner:  # self-trade prevention: cancel the maker
                    q.popleft()
                    del orders[mid]
                    del by_owner[owner][mid]
                    lvl.qty -= mq
                    stp.append(m)
                    continue
                if mq <= remaining:
                    remaining -= mq
                    lvl.qty -= mq
                    m.qty = 0
                    q.popleft()
                    del orders[mid]
                    del by_owner[mowner][mid]
                    append(_new_match(order_id, owner, mid, mowner, side, p, mq, 0))
                else:
                    mq -= remaining
                    m.qty = mq
                    lvl.qty -= remaining
                    append(_new_match(order_id, owner, mid, mowner, side, p, remaining, mq))
                    remaining = 0
            if lvl.qty == 0:
                del olevels[p]
                okeys.pop()
            elif not q:  # would loop forever; only a bookkeeping bug gets here
                raise RuntimeError(f"level {p} has qty {lvl.qty} but no orders")
        return remaining

    def _rest(
        self, order_id: int, owner: str, side: Side, price: int, qty: int, orig_qty: int
    ) -> None:
        self._seq += 1
        o = RestingOrder(order_id, owner, side, price, qty, orig_qty, self._seq)
        if side is _BUY:
            levels = self._bids
            self._touched_bids.add(price)
        else:
            levels = self._asks
            self._touched_asks.add(price)
        lvl = levels.get(price)
        if lvl is None:
            lvl = levels[price] = _Level()
            if side is _BUY:
                insort(self._bid_keys, price)
            else:
                insort(self._ask_keys, -price)
        lvl.orders.append(o)
        lvl.qty += qty
        self._orders[order_id] = o
        mine = self._by_owner.get(owner)
        if mine is None:
            self._by_owner[owner] = {order_id: o}
        else:
            mine[order_id] = o

    # ------------------------------------------------------------ cancel/reduce

    def cancel(self, order_id: int) -> RestingOrder | None:
        """Remove a resting order; returns it with the qty it had left, or None."""
        o = self._orders.pop(order_id, None)
        if o is None:
            return None
        del self._by_owner[o.owner][order_id]
        price = o.price
        if o.side is _BUY:
            levels = self._bids
            keys = self._bid_keys
            key = price
            self._touched_bids.add(price)
        else:
            levels = self._asks
            keys = self._ask_keys
            key = -price
            self._touched_asks.add(price)
        lvl = levels[price]
        lvl.qty -= o.qty
        if lvl.qty == 0:
            del levels[price]
            if keys[-1] == key:
                keys.pop()
            else:
                del keys[bisect_left(keys, key)]
            return o
        q = lvl.orders
        if q[-1] is o:
            q.pop()
        elif q[0] is o:
            q.popleft()
        else:
            lvl.dead += 1
            if lvl.dead >= _COMPACT_MIN_DEAD and lvl.dead * 2 > len(q):
                orders = self._orders
                lvl.orders = deque(x for x in q if orders.get(x.order_id) is x)
                lvl.dead = 0
        return o

    def reduce(self, order_id: int, new_qty: int) -> RestingOrder | None:
        """Shrink a resting order's remaining qty in place (keeps priority).
        ``new_qty <= 0`` cancels; growing raises ``ValueError``. None if not resting."""
        o = self._orders.get(order_id)
        if o is None:
            return None
        if new_qty <= 0:
            return self.cancel(order_id)
        delta = o.qty - new_qty
        if delta < 0:
            raise ValueError(f"reduce cannot increase qty ({o.qty} -> {new_qty})")
        if delta:
            o.qty = new_qty
            if o.side is _BUY:
                self._bids[o.price].qty -= delta
                self._touched_bids.add(o.price)
            else:
                self._asks[o.price].qty -= delta
                self._touched_asks.add(o.price)
        return o

    # ---------------------------------------------------------------- queries

    def order(self, order_id: int) -> RestingOrder | None:
        return self._orders.get(order_id)

    def orders_of(self, owner: str) -> list[RestingOrder]:
        """All resting orders of ``owner``, oldest first."""
        mine = self._by_owner.get(owner)
        if not mine:
            return []
        return list(mine.values())  # insertion order == seq order

    def best_bid(self) -> int | None:
        keys = self._bid_keys
        return keys[-1] if keys else None

    def best_ask(self) -> int | None:
        keys = self._ask_keys
        return -keys[-1] if keys else None

    def level_qty(self, side: Side, price: int) -> int:
        lvl = (self._bids if side is _BUY else self._asks).get(price)
        return lvl.qty if lvl is not None else 0

    def depth(self, levels: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Top ``levels`` of each side as ``(price, qty)``, best first."""
        if levels <= 0:
            return [], []
        bids = self._bids
        asks = self._asks
        return (
            [(k, bids[k].qty) for k in reversed(self._bid_keys[-levels:])],
            [(-k, asks[-k].qty) for k in reversed(self._ask_keys[-levels:])],
        )

    def drain_changes(self) -> list[tuple[Side, int, int]]:
        """``(side, price, qty now)`` for each level touched since the last drain
        (qty 0: level gone). A touched level may report an unchanged qty."""
        bids = self._bids
        asks = self._asks
        out: list[tuple[Side, int, int]] = []
        for p in self._touched_bids:
            lvl = bids.get(p)
            out.append((_BUY, p, lvl.qty if lvl is not None else 0))
        for p in self._touched_asks:
            lvl = asks.get(p)
            out.append((_SELL, p, lvl.qty if lvl is not None else 0))
        self._touched_bids = set()
        self._touched_asks = set()
        return out

    def __len__(self) -> int:
        return len(self._orders)
