"""Pre-trade risk: every order intent passes here before it can reach a venue.

Risk state:
- ACTIVE: everything the limits allow.
- REDUCING: only orders that reduce a position (soft loss limit reached, or
  set by the operator).
- HALTED: nothing new (session loss limit hit, a session PnL that is not a
  number, the risk monitor failing, kill switch, or the operator); flatten
  orders bypass this check on purpose.

The check never raises: a price or size that is not a finite Decimal on the
instrument's grid (a float, NaN, an infinity, a string, a negative) is a reason
like any limit, and so is anything the check itself trips over.
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from dataclasses import dataclass
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from connectors.base import ZERO, Instrument, OrderType, Side
from connectors.book import OrderBook
from mmtui.core import numbers

log = logging.getLogger("mmtui.risk")


class RiskState(enum.Enum):
    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


class SymbolLimits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_order_size: Decimal | None = Field(default=None, gt=0, description="base units")
    max_position: Decimal | None = Field(default=None, gt=0, description="base units")


class RiskLimits(BaseModel):
    """Limits in quote currency unless named otherwise. ``None`` disables a limit."""

    model_config = ConfigDict(extra="forbid")

    max_order_notional: Decimal | None = Field(default=Decimal(10_000), gt=0)
    max_position_notional: Decimal | None = Field(default=Decimal(50_000), gt=0)
    max_open_orders: int | None = Field(default=100, gt=0)
    max_orders_per_second: float | None = Field(default=20.0, gt=0)
    price_band_pct: Decimal | None = Field(default=Decimal(5), gt=0)
    max_loss: Decimal | None = Field(default=Decimal(1_000), gt=0)
    reduce_at_loss: Decimal | None = Field(default=None, gt=0)
    stale_book_ms: int | None = Field(default=5_000, gt=0)
    fill_price_band_pct: Decimal | None = Field(
        default=Decimal(25),
        gt=0,
        description=(
            "a fill priced further than this from the market (the book's mid, else the "
            "venue's mark, else our order's limit price) is refused as impossible"
        ),
    )
    symbols: dict[str, SymbolLimits] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _soft_below_hard(self) -> RiskLimits:
        if (
            self.reduce_at_loss is not None
            and self.max_loss is not None
            and self.reduce_at_loss >= self.max_loss
        ):
            raise ValueError(
                f"reduce_at_loss ({self.reduce_at_loss}) must be below max_loss ({self.max_loss})"
            )
        return self


@dataclass(frozen=True, slots=True)
class RiskInput:
    """What the check needs to know about one intended order."""

    instrument: Instrument
    side: Side
    size: Decimal
    price: Decimal | None
    order_type: OrderType
    reduce_only: bool
    position: Decimal
    open_same_side: Decimal
    open_orders: int
    book: OrderBook | None


class RiskEngine:
    def __init__(self, limits: RiskLimits) -> None:
        self.limits = limits
        self.state = RiskState.ACTIVE
        self.reason = ""
        self.rejections: dict[str, int] = {}
        self._sent_ms: deque[int] = deque()

    # -- state ----------------------------------------------------------------

    def set_state(self, state: RiskState, reason: str) -> bool:
        """Move to ``state``; returns True when it changed."""
        if state is self.state:
            return False
        self.state = state
        self.reason = reason
        return True

    def update_pnl(self, session_pnl: Decimal) -> bool:
        """Apply the loss limits to the session PnL; returns True on a state change.

        A PnL that is not a finite number halts (fail closed): the limits cannot be
        enforced on it."""
        limits = self.limits
        if self.state is RiskState.HALTED:
            return False
        bad = numbers.problem("session PnL", session_pnl, positive=False)
        if bad is not None:
            return self.set_state(RiskState.HALTED, f"{bad}: the loss limits cannot be checked")
        if limits.max_loss is not None and session_pnl <= -limits.max_loss:
            return self.set_state(
                RiskState.HALTED, f"session loss {-session_pnl} reached max_loss {limits.max_loss}"
            )
        if (
            self.state is RiskState.ACTIVE
            and limits.reduce_at_loss is not None
            and session_pnl <= -limits.reduce_at_loss
        ):
            return self.set_state(
                RiskState.REDUCING,
                f"session loss {-session_pnl} reached reduce_at_loss {limits.reduce_at_loss}",
            )
        return False

    # -- the check ------------------------------------------------------------

    def check(self, order: RiskInput, now_ms: int) -> str | None:
        """None when the order may go; otherwise the reason it may not. Never raises."""
        reason = self.terms(order.instrument, order.size, order.price)
        if reason is None:
            try:
                reason = self._check(order, now_ms)
            except Exception as exc:  # a value the limits trip over: refuse, never raise
                log.exception("risk check of %s %s failed", order.instrument.venue, order)
                reason = f"risk check failed: {exc!r}"
        if reason is None:
            self._sent_ms.append(now_ms)
        else:
            self.count_rejection(reason)
        return reason

    @staticmethod
    def terms(inst: Instrument, size: object, price: object) -> str | None:
        """An order's size and price (None: a market order) as the venue can hold
        them: finite Decimals, positive, on the step and tick grid. Flatten orders
        are held to this too."""
        return numbers.problem("size", size, grid=inst.step_size, grid_name="step") or (
            None
            if price is None
            else numbers.problem("price", price, grid=inst.tick_size, grid_name="tick")
        )

    def count_rejection(self, reason: str) -> None:
        key = reason.split(":", 1)[0]
        self.rejections[key] = self.rejections.get(key, 0) + 1

    def _check(self, o: RiskInput, now_ms: int) -> str | None:
        limits = self.limits
        inst = o.instrument
        reduces = _reduces(o)
        if self.state is RiskState.HALTED:
            return f"halted: {self.reason}"
        if self.state is RiskState.REDUCING and not reduces:
            return f"reducing: only position-reducing orders allowed ({self.reason})"
        if o.size < inst.min_size and not (o.reduce_only and reduces):
            # reduce-only dust below the minimum may still close what is left
            return f"size: {o.size} below min size {inst.min_size}"

        book = o.book
        mid = book.mid() if book is not None and book.is_valid() else None
        if limits.stale_book_ms is not None and not reduces:
            # the feed's silence, not the market's: a quiet book on a live feed is fresh
            age = book.feed_age_ms(now_ms) if book is not None else None
            if mid is None or age is None:
                return "stale book: no valid book"
            if age > limits.stale_book_ms:
                return f"stale book: feed silent for {age} ms > {limits.stale_book_ms} ms"
        ref_price = o.price if o.price is not None else mid
        if ref_price is None:
            return "price: market order needs a book mid"

        sym = limits.symbols.get(inst.symbol)
        if sym is not None and sym.max_order_size is not None and o.size > sym.max_order_size:
            return f"max order size: {o.size} > {sym.max_order_size}"
        notional = o.size * ref_price
        if inst.min_notional > 0 and notional < inst.min_notional and not o.reduce_only:
            # the venue refuses it (GRVT 2066): do not send what cannot pass
            return f"min notional: {notional} below the venue's minimum {inst.min_notional}"
        if limits.max_order_notional is not None and notional > limits.max_order_notional:
            return f"max order notional: {notional} > {limits.max_order_notional}"

        if (
            limits.price_band_pct is not None
            and o.price is not None
            and mid is not None
            and o.order_type is OrderType.LIMIT
        ):
            band = mid * limits.price_band_pct / 100
            if abs(o.price - mid) > band:
                return f"price band: {o.price} is more than {limits.price_band_pct}% from mid {mid}"

        if not reduces:
            projected = o.position + o.side.sign * (o.open_same_side + o.size)
            if (
                sym is not None
                and sym.max_position is not None
                and abs(projected) > sym.max_position
            ):
                return f"max position: projected {projected} exceeds {sym.max_position}"
            if limits.max_position_notional is not None:
                projected_notional = abs(projected) * ref_price
                if projected_notional > limits.max_position_notional:
                    return (
                        f"max position notional: projected {projected_notional} > "
                        f"{limits.max_position_notional}"
                    )

        if limits.max_open_orders is not None and o.open_orders >= limits.max_open_orders:
            return f"max open orders: {o.open_orders} open, limit {limits.max_open_orders}"

        if limits.max_orders_per_second is not None:
            window = self._sent_ms
            while window and window[0] <= now_ms - 1000:
                window.popleft()
            if len(window) >= limits.max_orders_per_second:
                return f"order rate: {len(window)} orders in the last second"
        return None


def _reduces(o: RiskInput) -> bool:
    """True when the order can only shrink the position."""
    if o.position == 0:
        return False
    closing = Side.closing(o.position)
    if o.side is not closing:
        return False
    return o.reduce_only or o.size <= abs(o.position)


__all__ = ["ZERO", "RiskEngine", "RiskInput", "RiskLimits", "RiskState", "SymbolLimits"]
