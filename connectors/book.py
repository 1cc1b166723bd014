"""The L2 order book every connector builds and the core and strategies read.

Prices are integer ticks and sizes integer lots on the hot path; ``Decimal``
appears only in the convenience readers (``best_bid``, ``mid``, ``bids`` ...),
which multiply by the instrument's ``tick_size`` / ``step_size``.

Each side is a dict ``price -> size`` plus a sorted list of its prices kept with
``bisect``, ordered so that the best price is always the *last* element: bids
are stored as-is (ascending, best = ``keys[-1]``), asks negated (ascending,
best = ``-keys[-1]``). Updates near the touch therefore insert or delete close
to the end of the list, where ``list.insert``/``del`` move almost nothing.

Connectors write through ``apply_snapshot`` / ``apply_delta`` (sequence-checked,
crossed-book guarded) or, for venues without sequence numbers, ``set_bid`` /
``set_ask`` directly. A book that cannot be trusted is ``invalidate``d: both
sides are emptied, ``synced`` goes False and ``resync_reason`` says why, so no
reader ever sees a stale or wrong book; the connector then fetches a snapshot.

Sizes must be ``>= 0`` and both values plain ``int``; this is checked in
``apply_snapshot`` (raising ``BookError``) but not on the hot path.

A quiet book is not a stale one. ``last_update_ms`` (the venue's time of the last
change) says when the market last moved; ``feed_age_ms`` says how long the feed
that carries the book has been silent: each book shares its socket's
``Liveness``, which the socket beats on every frame and every answered ping
(``connectors.common.wsclient``; the sim on every step). The stale-book check
reads the feed's age.
"""

from __future__ import annotations

import time
from bisect import bisect_left, insort
from collections.abc import Iterable
from decimal import Decimal

from connectors.base import Side

Level = tuple[int, int]
"""(price in ticks, size in lots)."""


class BookError(Exception):
    """A malformed snapshot (never raised on the hot path)."""


def wall_ms() -> int:
    """Local wall-clock epoch milliseconds (the core's ``WallClock``)."""
    return time.time_ns() // 1_000_000


class Liveness:
    """When the feed carrying some books was last heard from (local clock, ms): one
    per socket, shared by every book it carries; 0 = never."""

    __slots__ = ("last_ms",)

    def __init__(self) -> None:
        self.last_ms = 0

    def beat(self, now_ms: int | None = None) -> None:
        """The feed is alive now (a frame, an answered ping, a sim step)."""
        self.last_ms = wall_ms() if now_ms is None else now_ms


class OrderBook:
    """L2 book for one symbol, in integer ticks and lots (see module docstring)."""

    __slots__ = (
        "_ask_keys",
        "_ask_sizes",
        "_bid_keys",
        "_bid_sizes",
        "last_update_ms",
        "liveness",
        "resync_reason",
        "resyncs",
        "seq",
        "snapshots",
        "step_size",
        "symbol",
        "synced",
        "tick_size",
        "updates",
    )

    symbol: str
    tick_size: Decimal
    step_size: Decimal
    seq: int
    last_update_ms: int
    liveness: Liveness | None
    synced: bool
    resync_reason: str
    updates: int
    resyncs: int
    snapshots: int
    _bid_sizes: dict[int, int]
    _bid_keys: list[int]
    _ask_sizes: dict[int, int]
    _ask_keys: list[int]

    def __init__(self, symbol: str, tick_size: Decimal, step_size: Decimal) -> None:
        self.symbol = symbol
        self.tick_size = tick_size
        self.step_size = step_size
        self.seq = -1
        self.last_update_ms = 0
        self.liveness = None
        """The feed's beat (its connector attaches it); None: judged by its updates."""
        self.synced = False
        self.resync_reason = "no snapshot"
        self.updates = 0
        self.resyncs = 0
        self.snapshots = 0
        """Snapshots applied: a reader that follows the book by diffs sees a new one."""
        self._bid_sizes = {}  # price ticks -> size lots
        self._bid_keys = []  # bid prices ascending: best is last
        self._ask_sizes = {}  # price ticks -> size lots
        self._ask_keys = []  # NEGATED ask prices ascending: best is -last

    def __repr__(self) -> str:
        return (
            f"OrderBook({self.symbol!r}, bid={self.best_bid_ticks()}, "
            f"ask={self.best_ask_ticks()}, depth={self.depth()}, seq={self.seq}, "
            f"synced={self.synced})"
        )

    # ------------------------------------------------------------------ writers

    def apply_snapshot(
        self, bids: Iterable[Level], asks: Iterable[Level], seq: int, ts_ms: int
    ) -> None:
        """Replace both sides (zero sizes skipped, a repeated price: last wins).

        A crossed snapshot invalidates the book instead. Stored levels count
        in ``updates``. Raises ``BookError`` (book untouched) on a non-int
        price/size or a negative size.
        """
        bid_sizes = _checked_side(bids, "bid")
        ask_sizes = _checked_side(asks, "ask")
        if bid_sizes and ask_sizes:
            best_bid = max(bid_sizes)
            best_ask = min(ask_sizes)
            if best_bid >= best_ask:
                self.invalidate(f"crossed snapshot: bid {best_bid} >= ask {best_ask} (ticks)")
                return
        self._bid_sizes = bid_sizes
        self._bid_keys = sorted(bid_sizes)
        self._ask_sizes = ask_sizes
        self._ask_keys = sorted([-p for p in ask_sizes])
        self.updates += len(bid_sizes) + len(ask_sizes)
        self.snapshots += 1
        self.seq = seq
        self.last_update_ms = ts_ms
        self.synced = True
        self.resync_reason = ""

    def apply_delta(
        self,
        bids: Iterable[Level],
        asks: Iterable[Level],
        *,
        prev_seq: int,
        seq: int,
        ts_ms: int,
    ) -> bool:
        """Apply a sequenced delta (size 0 deletes); False when the book is not usable.

        The delta claims to follow ``prev_seq`` and end at ``seq``. Not synced:
        ignored, False. ``seq <= self.seq``: stale/duplicate, ignored, True.
        ``prev_seq > self.seq``: gap, invalidated, False. Otherwise applied;
        a crossed result invalidates the book and returns False.
        """
        if not self.synced:
            return False
        cur = self.seq
        if seq <= cur:
            return True
        if prev_seq > cur:
            self.invalidate(f"sequence gap: expected {cur}, got prev {prev_seq}")
            return False
        if not isinstance(bids, list | tuple):
            bids = list(bids)
        if not isinstance(asks, list | tuple):
            asks = list(asks)

        # Inlined set_bid / set_ask: no per-level call.
        d = self._bid_sizes
        bk = k = self._bid_keys
        for price, size in bids:
            if size:
                if price not in d:
                    insort(k, price)
                d[price] = size
            elif price in d:
                del d[price]
                del k[bisect_left(k, price)]
        d = self._ask_sizes
        ak = k = self._ask_keys
        for price, size in asks:
            if size:
                if price not in d:
                    insort(k, -price)
                d[price] = size
            elif price in d:
                del d[price]
                del k[bisect_left(k, -price)]

        self.updates += len(bids) + len(asks)
        self.seq = seq
        self.last_update_ms = ts_ms
        if bk and ak and bk[-1] >= -ak[-1]:
            self.invalidate(f"crossed book: bid {bk[-1]} >= ask {-ak[-1]} (ticks) after seq {seq}")
            return False
        return True

    def set_bid(self, price: int, size: int) -> None:
        """One bid level (size 0 deletes); no sequence check, not counted in ``updates``."""
        d = self._bid_sizes
        if size:
            if price not in d:
                insort(self._bid_keys, price)
            d[price] = size
        elif price in d:
            del d[price]
            k = self._bid_keys
            del k[bisect_left(k, price)]

    def set_ask(self, price: int, size: int) -> None:
        """One ask level (size 0 deletes); no sequence check, not counted in ``updates``."""
        d = self._ask_sizes
        if size:
            if price not in d:
                insort(self._ask_keys, -price)
            d[price] = size
        elif price in d:
            del d[price]
            k = self._ask_keys
            del k[bisect_left(k, -price)]

    def invalidate(self, reason: str) -> None:
        """Mark the book unusable until the next snapshot and empty both sides."""
        if self.synced:
            self.resyncs += 1
        self.synced = False
        self.resync_reason = reason
        self.clear()

    def clear(self) -> None:
        """Remove every level; ``seq`` and ``synced`` are left alone (see ``invalidate``)."""
        self._bid_sizes.clear()
        self._bid_keys.clear()
        self._ask_sizes.clear()
        self._ask_keys.clear()

    # ------------------------------------------------------------------ readers

    def best_bid_ticks(self) -> int | None:
        try:
            return self._bid_keys[-1]
        except IndexError:
            return None

    def best_ask_ticks(self) -> int | None:
        try:
            return -self._ask_keys[-1]
        except IndexError:
            return None

    def best_bid(self) -> Decimal | None:
        k = self._bid_keys
        return k[-1] * self.tick_size if k else None

    def best_ask(self) -> Decimal | None:
        k = self._ask_keys
        return -k[-1] * self.tick_size if k else None

    def best_bid_size(self) -> Decimal | None:
        k = self._bid_keys
        return self._bid_sizes[k[-1]] * self.step_size if k else None

    def best_ask_size(self) -> Decimal | None:
        k = self._ask_keys
        return self._ask_sizes[-k[-1]] * self.step_size if k else None

    def mid(self) -> Decimal | None:
        """Exact ``(best bid + best ask) / 2``; None unless both sides are present."""
        bk = self._bid_keys
        ak = self._ask_keys
        if not bk or not ak:
            return None
        return (bk[-1] - ak[-1]) * self.tick_size / 2

    def spread(self) -> Decimal | None:
        """``best ask - best bid`` (negative or zero if crossed); None unless both sides."""
        bk = self._bid_keys
        ak = self._ask_keys
        if not bk or not ak:
            return None
        return (-ak[-1] - bk[-1]) * self.tick_size

    def is_crossed(self) -> bool:
        """Best bid >= best ask (a locked book counts as crossed)."""
        bk = self._bid_keys
        ak = self._ask_keys
        return bool(bk and ak and bk[-1] >= -ak[-1])

    def is_valid(self) -> bool:
        """Synced, both sides present and not crossed."""
        bk = self._bid_keys
        ak = self._ask_keys
        return bool(self.synced and bk and ak and bk[-1] < -ak[-1])

    def bids_ticks(self, n: int) -> list[Level]:
        """Up to ``n`` bid levels, best first, as (price ticks, size lots)."""
        if n <= 0:
            return []
        d = self._bid_sizes
        return [(p, d[p]) for p in reversed(self._bid_keys[-n:])]

    def asks_ticks(self, n: int) -> list[Level]:
        """Up to ``n`` ask levels, best first, as (price ticks, size lots)."""
        if n <= 0:
            return []
        d = self._ask_sizes
        return [(-p, d[-p]) for p in reversed(self._ask_keys[-n:])]

    def bids(self, n: int) -> list[tuple[Decimal, Decimal]]:
        """Up to ``n`` bid levels, best first, as (price, size)."""
        tick = self.tick_size
        step = self.step_size
        return [(p * tick, s * step) for p, s in self.bids_ticks(n)]

    def asks(self, n: int) -> list[tuple[Decimal, Decimal]]:
        """Up to ``n`` ask levels, best first, as (price, size)."""
        tick = self.tick_size
        step = self.step_size
        return [(p * tick, s * step) for p, s in self.asks_ticks(n)]

    def size_at(self, side: Side, price_ticks: int) -> int:
        """Lots resting at ``price_ticks`` on ``side`` (BUY = bids), 0 if no level."""
        d = self._bid_sizes if side is Side.BUY else self._ask_sizes
        return d.get(price_ticks, 0)

    def level_maps(self) -> tuple[dict[int, int], dict[int, int]]:
        """Copies of both sides as {price ticks: lots} (bids, asks): for followers."""
        return dict(self._bid_sizes), dict(self._ask_sizes)

    def depth(self) -> tuple[int, int]:
        """(number of bid levels, number of ask levels)."""
        return len(self._bid_sizes), len(self._ask_sizes)

    def age_ms(self, now_ms: int) -> int | None:
        """Milliseconds since the last applied snapshot/delta; None if there was none."""
        if not self.last_update_ms:
            return None
        return now_ms - self.last_update_ms

    def feed_age_ms(self, now_ms: int) -> int | None:
        """Milliseconds the feed carrying this book has been silent (no frame, no
        answered ping); a book without a ``liveness`` falls back to ``age_ms``.
        None if never heard from."""
        live = self.liveness
        if live is None:
            return self.age_ms(now_ms)
        return now_ms - live.last_ms if live.last_ms else None


def _checked_side(levels: Iterable[Level], name: str) -> dict[int, int]:
    sizes: dict[int, int] = {}
    for level in levels:
        try:
            price, size = level
        except (TypeError, ValueError):
            raise BookError(f"{name} level {level!r} is not a (price, size) pair") from None
        if type(price) is not int or type(size) is not int:
            raise BookError(f"{name} level {level!r}: price and size must be int ticks/lots")
        if size < 0:
            raise BookError(f"{name} level {level!r}: negative size")
        if size:
            sizes[price] = size
    return sizes
