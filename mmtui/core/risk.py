"""Pre-trade risk: every order intent passes here before it can reach a venue.

Risk state:
- ACTIVE: everything the limits allow.
- REDUCING: only orders that reduce a position (soft loss limit reached, or
  set by the operator).
- HALTED: nothing new (session loss limit hit, kill switch, or the operator);
  flatten orders bypass this check on purpose.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from connectors.base import ZERO, Instrument, OrderType, Side
from connectors.book import OrderBook


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
        """Apply the loss limits to the session PnL; returns True on a state change."""
        limits = self.limits
        if self.state is RiskState.HALTED:
            return False
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
        """None when the order may go; otherwise the reason it may not."""
        reason = self._check(order, now_ms)
        if reason is None:
            self._sent_ms.append(now_ms)
        else:
            key = reason.split(":", 1)[0]
            self.rejections[key] = self.rejections.get(key, 0) + 1
        return reason

    def _check(self, o: RiskInput, now_ms: int) -> str | None:
        limits = self.limits
        inst = o.instrument
        reduces = _reduces(o)
        if self.state is RiskState.HALTED:
            return f"halted: {self.reason}"
        if self.state is RiskState.REDUCING and not reduces:
            return f"reducing: only position-reducing orders allowed ({self.reason})"
        if o.size <= 0:
            return f"size: {o.size} must be positive"
        if o.size < inst.min_size and not (o.reduce_only and reduces):
            # reduce-only dust below the minimum may still close what is left
            return f"size: {o.size} below min size {inst.min_size}"
        if not inst.is_on_step(o.size):
            return f"size: {o.size} not a multiple of step {inst.step_size}"
        if o.price is not None and not inst.is_on_tick(o.price):
            return f"price: {o.price} not a multiple of tick {inst.tick_size}"
        if o.price is not None and o.price <= 0:
            return f"price: {o.price} must be positive"

        book = o.book
        mid = book.mid() if book is not None and book.is_valid() else None
        if limits.stale_book_ms is not None and not reduces:
            age = book.age_ms(now_ms) if book is not None else None
            if mid is None or age is None:
                return "stale book: no valid book"
            if age > limits.stale_book_ms:
                return f"stale book: last update {age} ms ago > {limits.stale_book_ms} ms"
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
