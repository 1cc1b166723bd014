"""A tracking-limit leg executor that any strategy can drive.

One ``TrackingLeg`` buys or sells ``size`` base units on one market:

1. it posts a limit at the touch: its own side's best price (``cross=False``,
   "join": a bid at the best bid when buying -- everyone else's best, our own
   orders taken out, ``strategies.external_book``) or the opposite side's best
   price (``cross=True``: a marketable limit that takes what is there and
   rests for the rest);
2. while the order rests, it follows the touch: when the wanted price moves
   more than ``requote_ticks`` away from the order's price it cancels, and it
   places the replacement only once the order manager has *confirmed* the old
   order terminal (so two orders of one leg are never live together);
3. each attempt lasts ``wait_ms``; after ``max_retries`` attempts (a timeout
   or a reject ends one) it sends the remainder as an immediate-or-cancel
   market order when ``market_fallback`` is set, else it gives up; after a
   reject the next attempt waits the shared back-off (``strategies.backoff``:
   ``reject_backoff_ms``, doubling with each reject in a row);
4. the filled size comes only from ``on_fill`` (partials included, late fills
   after a cancel too); the leg is ``DONE`` only when the confirmed fills reach
   the size.

It is synchronous and event driven: the strategy forwards ``on_order``,
``on_fill`` and ``on_tick`` (each returns at once; nothing awaits or polls).
A reject is retried from the next ``on_tick`` only, never re-entrantly.
While the strategy is not running (paused) the leg places nothing and waits.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from connectors.base import Fill, Instrument, OrderStatus, OrderType, Side, TimeInForce
from connectors.book import OrderBook
from strategies.backoff import RejectBackoff
from strategies.base import OrderView, StrategyContext
from strategies.external_book import external_best

ZERO = Decimal(0)
MAX_BACKOFF_MS = 10_000


class LegStatus(enum.Enum):
    WORKING = "working"
    DONE = "done"  # confirmed fills reached the size
    FAILED = "failed"  # attempts (and the fallback) used up; ``filled`` may be partial
    ABORTED = "aborted"  # the owner called ``abort()``; ``filled`` may be partial


@dataclass(frozen=True, slots=True)
class LegConfig:
    """How a leg is worked (see the module docstring)."""

    wait_ms: int = 10_000
    max_retries: int = 3
    market_fallback: bool = True
    cross: bool = False
    post_only: bool = False
    requote_ticks: int = 0
    reject_backoff_ms: int = 0
    """First wait after a reject (0: the next tick); doubles with each reject in a row."""

    def __post_init__(self) -> None:
        if self.wait_ms <= 0:
            raise ValueError(f"wait_ms must be positive, not {self.wait_ms}")
        if self.max_retries < 1:
            raise ValueError(f"max_retries must be at least 1, not {self.max_retries}")
        if self.reject_backoff_ms < 0:
            raise ValueError(
                f"reject_backoff_ms must not be negative, not {self.reject_backoff_ms}"
            )
        if self.requote_ticks < 0:
            raise ValueError(f"requote_ticks must not be negative, not {self.requote_ticks}")
        if self.post_only and self.cross:
            raise ValueError("a crossing leg cannot be post-only")


def touch_price(
    book: OrderBook | None,
    side: Side,
    cross: bool,
    inst: Instrument | None = None,
    mine: Iterable[OrderView] = (),
) -> Decimal | None:
    """The price a leg on ``side`` posts at: own touch (join) or opposite touch (cross).
    Joining, the touch is everyone else's (``inst`` given: ``mine`` taken out), so a
    leg alone at the top follows the market rather than its own order."""
    if book is None or not book.is_valid():
        return None
    buy = side is Side.BUY
    if cross:
        return book.best_ask() if buy else book.best_bid()
    if inst is not None:
        best = external_best(book, inst, side, mine)
        if best is not None:
            return best
    return book.best_bid() if buy else book.best_ask()


class TrackingLeg:
    """One leg: ``start()``, then forward events until ``finished``."""

    def __init__(
        self,
        ctx: StrategyContext,
        venue: str,
        symbol: str,
        side: Side,
        size: Decimal,
        config: LegConfig,
        *,
        tag: str = "",
        reduce_only: bool = False,
    ) -> None:
        self.ctx = ctx
        self.venue = venue
        self.symbol = symbol
        self.side = side
        self.inst = ctx.instrument(venue, symbol)
        self.size = self.inst.round_size(size)
        if self.size <= 0:
            raise ValueError(f"leg size {size} rounds to nothing on {venue}/{symbol}")
        self.config = config
        self.tag = tag
        self.reduce_only = reduce_only
        self.status = LegStatus.WORKING
        self.reason = ""
        self.filled = ZERO
        self.cost = ZERO  # sum of price * size over the fills
        self.fees = ZERO
        self.order: OrderView | None = None
        self.client_ids: set[str] = set()
        self.attempts = 0
        self.requotes = 0
        self.rejects = 0
        self.fallback_sent = False
        self._attempt_started_ms = 0
        self._new_attempt = True  # the next placement opens a new attempt window
        self._wait_tick = False  # after a reject: place again from on_tick only
        self.backoff = RejectBackoff(
            config.reject_backoff_ms, max(config.reject_backoff_ms, 10_000)
        )
        self._aborting = False
        self._started = False

    # -- reading --------------------------------------------------------------

    @property
    def remaining(self) -> Decimal:
        return max(ZERO, self.size - self.filled)

    @property
    def finished(self) -> bool:
        return self.status is not LegStatus.WORKING

    @property
    def avg_price(self) -> Decimal | None:
        return self.cost / self.filled if self.filled > 0 else None

    @property
    def live(self) -> bool:
        return self.order is not None and self.order.status.is_live

    def owns(self, client_id: str) -> bool:
        return client_id in self.client_ids

    def __repr__(self) -> str:
        return (
            f"TrackingLeg({self.venue}/{self.symbol} {self.side.value} {self.filled}/{self.size} "
            f"{self.status.value} attempts={self.attempts} {self.reason!r})"
        )

    # -- driving --------------------------------------------------------------

    def start(self, now_ms: int) -> None:
        if not self._started:
            self._started = True
            self._advance(now_ms, tick=True)

    def on_tick(self, now_ms: int) -> None:
        if self._started:
            self._advance(now_ms, tick=True)

    def on_order(self, order: OrderView) -> bool:
        """Returns True if the order is this leg's."""
        if order.client_id not in self.client_ids:
            return False
        if self._started:
            self._advance(self.ctx.now_ms(), tick=False)
        return True

    def on_fill(self, fill: Fill, order: OrderView) -> bool:
        """Count a confirmed fill (also after the leg finished). True if it is this leg's."""
        if order.client_id not in self.client_ids:
            return False
        self.filled += fill.size
        self.cost += fill.price * fill.size
        self.fees += fill.fee
        if self.finished and self.status is not LegStatus.DONE and self.remaining == 0:
            self.status, self.reason = LegStatus.DONE, "filled (late fill)"
        elif self._started:
            self._advance(self.ctx.now_ms(), tick=False)
        return True

    def abort(self, reason: str = "aborted") -> None:
        """Stop working: cancel the live order; ABORTED once it is confirmed terminal."""
        if self.finished:
            return
        self._aborting = True
        self.reason = reason
        self._advance(self.ctx.now_ms(), tick=False)

    # -- the state machine ----------------------------------------------------

    def _advance(self, now_ms: int, *, tick: bool) -> None:
        if self.finished:
            return
        order = self.order
        if order is not None:
            if order.status.is_live:
                self._work_live(order, now_ms, tick)
                return
            self._on_terminal(order, now_ms)
        if self.remaining == 0:
            self.status, self.reason = LegStatus.DONE, "filled"
            return
        if self._aborting:
            self.status = LegStatus.ABORTED
            return
        if self.fallback_sent:
            self.status = LegStatus.FAILED
            self.reason = f"market fallback left {self.remaining} unfilled" + (
                f" ({self.reason})" if self.reason else ""
            )
            return
        if not self.reduce_only and self.remaining < self.inst.min_size:
            self.status = LegStatus.FAILED
            self.reason = f"remainder {self.remaining} is below the venue minimum"
            return
        if not self.ctx.running or (self._wait_tick and not tick):
            return
        if not self.backoff.ready("place", now_ms):
            return
        self._wait_tick = False
        if self._new_attempt and self.attempts >= self.config.max_retries:
            if self.config.market_fallback:
                self._send_fallback(now_ms)
            else:
                self.status = LegStatus.FAILED
                self.reason = f"{self.attempts} limit attempts used" + (
                    f"; last: {self.reason}" if self.reason else ""
                )
            return
        price = self._touch()
        if price is None:
            self.reason = "no book"
            return
        if self._new_attempt:
            self.attempts += 1
            self._attempt_started_ms = now_ms
            self._new_attempt = False
        self._place(price, OrderType.LIMIT, TimeInForce.GTC)

    def _work_live(self, order: OrderView, now_ms: int, tick: bool) -> None:
        if order.cancel_requested:
            return
        if self._aborting:
            self.ctx.cancel(order.client_id)
            return
        if self.fallback_sent:
            return  # the IOC fallback ends by itself
        if now_ms - self._attempt_started_ms >= self.config.wait_ms:
            self._new_attempt = True
            self.reason = "attempt timed out"
            self.ctx.cancel(order.client_id)
            return
        if not tick or order.price is None:
            return
        wanted = self._touch()
        if wanted is None:
            return
        away = (wanted - order.price) / self.inst.tick_size
        if abs(away) > self.config.requote_ticks:
            self.requotes += 1
            self.ctx.cancel(order.client_id)

    def _touch(self) -> Decimal | None:
        book = self.ctx.book(self.venue, self.symbol)
        mine = self.ctx.orders(self.venue, self.symbol)
        return touch_price(book, self.side, self.config.cross, self.inst, mine)

    def _on_terminal(self, order: OrderView, now_ms: int) -> None:
        self.order = None
        if order.status is OrderStatus.REJECTED:
            self.backoff.rejected("place", now_ms, order.client_id)
            self.rejects += 1
            self.reason = f"rejected: {order.reason}"
            self._new_attempt = True
            self._wait_tick = True
        elif order.status is OrderStatus.EXPIRED:
            self._new_attempt = True
        if order.filled > 0 or order.status is not OrderStatus.REJECTED:
            self.backoff.accepted("place")

    def _send_fallback(self, now_ms: int) -> None:
        self.fallback_sent = True
        self._place(None, OrderType.MARKET, TimeInForce.IOC)

    def _place(self, price: Decimal | None, order_type: OrderType, tif: TimeInForce) -> None:
        order = self.ctx.place(
            self.venue,
            self.symbol,
            self.side,
            self.remaining,
            price,
            order_type=order_type,
            time_in_force=tif,
            post_only=self.config.post_only and order_type is OrderType.LIMIT,
            reduce_only=self.reduce_only,
            tag=self.tag,
        )
        self.client_ids.add(order.client_id)
        self.order = order
        if order.status.is_terminal:  # rejected at once (risk): handled here, not re-entrantly
            self._on_terminal(order, self.ctx.now_ms())
            if self.fallback_sent and self.remaining > 0:
                self.status = LegStatus.FAILED
                self.reason = f"market fallback {self.reason}"
