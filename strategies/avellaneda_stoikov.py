"""Avellaneda–Stoikov market making.

One post-only bid and one post-only ask around an inventory-adjusted
reservation price (Avellaneda & Stoikov, "High-frequency trading in a limit
order book", 2008).

Units: prices in quote currency; ``q`` is the inventory counted in order sizes
(position / size), as in the paper where each trade is one unit; ``sigma`` is
the mid's volatility in price units per sqrt(second), estimated from a
time-weighted window of mids; ``k`` is the order-arrival decay per unit of
price (fills at distance delta from mid arrive at rate A * exp(-k * delta));
``gamma`` is the risk aversion in 1/price.

Finite (rolling) horizon, with T - t = ``tau`` seconds:
    r      = s - q * gamma * sigma^2 * (T - t)
    spread = gamma * sigma^2 * (T - t) + (2 / gamma) * ln(1 + gamma / k)
Infinite horizon, with omega = 1/2 * gamma^2 * sigma^2 * (q_max + 1)^2:
    r_ask = s + (1/gamma) * ln(1 + (1 - 2q) * gamma^2 * sigma^2 / (2 omega - gamma^2 q^2 sigma^2))
    r_bid = s + (1/gamma) * ln(1 + (-1 - 2q) * gamma^2 * sigma^2 / (2 omega - gamma^2 q^2 sigma^2))
    quotes at r_bid - h and r_ask + h with h = (1/gamma) * ln(1 + gamma / k)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from pydantic import Field, model_validator

from connectors.base import Instrument, OrderStatus, Side
from connectors.book import OrderBook
from strategies.base import (
    OrderView,
    PlannedOrder,
    Strategy,
    StrategyContext,
    StrategyParams,
)
from strategies.volatility import RealizedVolatility


class ASParams(StrategyParams):
    gamma: float = Field(default=0.01, gt=0, description="risk aversion (1/price)")
    gamma_max: float | None = Field(
        default=None, gt=0, description="gamma at |position| = max_position (linear in between)"
    )
    k: float = Field(default=0.1, gt=0, description="order-arrival decay per unit of price")
    tau: float = Field(default=6.0, gt=0, description="finite horizon T - t in seconds")
    horizon: Literal["finite", "infinite"] = "finite"
    window_secs: float = Field(default=60.0, gt=0, description="volatility window")
    warmup_secs: float = Field(default=5.0, ge=0, description="mids needed before quoting")
    min_spread_abs: Decimal = Field(default=Decimal(0), ge=0, description="floor on total spread")
    min_spread_bps: Decimal = Field(default=Decimal(0), ge=0, description="floor, bps of mid")
    size: Decimal | None = Field(default=None, gt=0, description="order size; None = venue min")
    max_position: Decimal | None = Field(
        default=None, gt=0, description="inventory limit in base units"
    )
    requote_ticks: int = Field(default=2, ge=1, description="move needed to replace a quote")
    max_quote_age_secs: float = Field(default=30.0, gt=0, description="replace older quotes")

    @model_validator(mode="after")
    def _consistent(self) -> ASParams:
        if self.gamma_max is not None and self.gamma_max < self.gamma:
            raise ValueError(
                f"gamma_max ({self.gamma_max}) must be >= gamma ({self.gamma}): "
                "risk aversion must not fall as inventory grows"
            )
        if self.horizon == "infinite" and self.max_position is None:
            raise ValueError("horizon 'infinite' needs max_position (it sets omega)")
        if self.warmup_secs > self.window_secs:
            raise ValueError(
                f"warmup_secs ({self.warmup_secs}) must not exceed window_secs ({self.window_secs})"
            )
        return self


@dataclass(frozen=True, slots=True)
class QuoteTarget:
    """Unrounded quote prices from the model."""

    reservation: float
    bid: float
    ask: float

    @property
    def spread(self) -> float:
        return self.ask - self.bid


def finite_horizon_quotes(
    mid: float, q: float, sigma: float, gamma: float, k: float, time_left: float
) -> QuoteTarget:
    variance_term = gamma * sigma * sigma * time_left
    reservation = mid - q * variance_term
    spread = variance_term + (2.0 / gamma) * math.log1p(gamma / k)
    return QuoteTarget(reservation, reservation - spread / 2, reservation + spread / 2)


def infinite_horizon_quotes(
    mid: float, q: float, sigma: float, gamma: float, k: float, q_max: float
) -> QuoteTarget:
    g2s2 = gamma * gamma * sigma * sigma
    omega = 0.5 * g2s2 * (q_max + 1) ** 2
    denom = 2 * omega - g2s2 * q * q
    if denom <= 0:
        raise ValueError(f"|q| = {abs(q)} must stay below q_max + 1 = {q_max + 1}")
    half = math.log1p(gamma / k) / gamma
    if g2s2 == 0:
        return QuoteTarget(mid, mid - half, mid + half)
    r_ask = mid + math.log1p((1 - 2 * q) * g2s2 / denom) / gamma
    r_bid = mid + math.log1p((-1 - 2 * q) * g2s2 / denom) / gamma
    return QuoteTarget((r_ask + r_bid) / 2, r_bid - half, r_ask + half)


def apply_min_spread(target: QuoteTarget, min_spread: float) -> QuoteTarget:
    """Widen symmetrically around the quotes' centre up to ``min_spread``."""
    if target.spread >= min_spread:
        return target
    centre = (target.bid + target.ask) / 2
    return QuoteTarget(target.reservation, centre - min_spread / 2, centre + min_spread / 2)


def to_book_prices(
    target: QuoteTarget, inst: Instrument, best_bid: Decimal | None, best_ask: Decimal | None
) -> tuple[Decimal, Decimal]:
    """Round passively to the tick grid; never cross the opposite touch (post-only)."""
    bid = inst.round_price(Decimal(repr(target.bid)), Side.BUY)
    ask = inst.round_price(Decimal(repr(target.ask)), Side.SELL)
    if best_ask is not None:
        bid = min(bid, best_ask - inst.tick_size)
    if best_bid is not None:
        ask = max(ask, best_bid + inst.tick_size)
    bid = max(bid, inst.tick_size)
    if ask <= bid:
        ask = bid + inst.tick_size
    return bid, ask


class AvellanedaStoikov(Strategy):
    kind = "avellaneda_stoikov"
    title = "Avellaneda–Stoikov market maker"
    Params = ASParams

    def __init__(
        self, ctx: StrategyContext, venue: str, symbol: str, params: StrategyParams
    ) -> None:
        super().__init__(ctx, venue, symbol, params)
        p: ASParams = self.params  # type: ignore[assignment]
        self.vol = RealizedVolatility(round(p.window_secs * 1000), round(p.warmup_secs * 1000))
        self.size = max(self.inst.min_size, self.inst.round_size(p.size or self.inst.min_size))

    # -- callbacks ------------------------------------------------------------

    def on_book(self, venue: str, symbol: str) -> None:
        book = self.ctx.book(venue, symbol)
        if book is not None and book.is_valid():
            mid = book.mid()
            if mid is not None:
                self.vol.add(self.ctx.now_ms(), float(mid))

    def on_tick(self, now_ms: int) -> None:
        book = self.ctx.book(self.venue, self.symbol)
        tel = self.ctx.telemetry
        if book is None or not book.is_valid():
            tel.set("state", "no book")
            return
        mid = book.mid()
        assert mid is not None
        self.vol.add(now_ms, float(mid))
        sigma = self.vol.sigma()
        position = self.ctx.position(self.venue, self.symbol)
        tel.sample("mid", now_ms, mid)
        tel.sample("inventory", now_ms, position.size)
        tel.sample("pnl", now_ms, position.net_pnl(mid))
        tel.set("fills", position.fills)
        if sigma is None:
            tel.set("state", "warming up")
            return
        target = self.target(book, sigma, position.size)
        tel.sample("sigma", now_ms, sigma)
        tel.sample("reservation", now_ms, target.reservation)
        tel.sample("spread", now_ms, target.spread)
        bid, ask = to_book_prices(target, self.inst, book.best_bid(), book.best_ask())
        want_bid, want_ask = self._allowed_sides(position.size)
        tel.set("state", _state_label(want_bid, want_ask))
        self._work_side(Side.BUY, bid if want_bid else None, position.size, now_ms)
        self._work_side(Side.SELL, ask if want_ask else None, position.size, now_ms)
        ages = [now_ms - o.created_ms for o in self.ctx.orders(self.venue, self.symbol)]
        tel.set("quote_age_s", round(max(ages) / 1000, 1) if ages else None)

    def on_order(self, order: OrderView) -> None:
        if order.status is OrderStatus.REJECTED:
            self.ctx.telemetry.count("rejects")
            self.ctx.log.debug("quote %s rejected: %s", order.client_id, order.reason)

    # -- model ----------------------------------------------------------------

    def target(self, book: OrderBook, sigma: float, position: Decimal) -> QuoteTarget:
        p: ASParams = self.params  # type: ignore[assignment]
        mid = book.mid()
        assert mid is not None
        q = float(position / self.size)
        gamma = p.gamma
        if p.gamma_max is not None and p.max_position is not None:
            rho = min(1.0, abs(float(position / p.max_position)))
            gamma = p.gamma + (p.gamma_max - p.gamma) * rho
        if p.horizon == "infinite":
            assert p.max_position is not None
            q_max = float(p.max_position / self.size)
            q = max(-q_max, min(q_max, q))
            target = infinite_horizon_quotes(float(mid), q, sigma, gamma, p.k, q_max)
        else:
            target = finite_horizon_quotes(float(mid), q, sigma, gamma, p.k, p.tau)
        floor = max(float(p.min_spread_abs), float(p.min_spread_bps) * float(mid) / 10_000)
        return apply_min_spread(target, floor)

    def _allowed_sides(self, position: Decimal) -> tuple[bool, bool]:
        """Stop the side that would take the projected position past the limit."""
        limit = self.params.max_position  # type: ignore[attr-defined]
        if limit is None:
            return True, True
        return position + self.size <= limit, position - self.size >= -limit

    def _work_side(self, side: Side, price: Decimal | None, position: Decimal, now_ms: int) -> None:
        p: ASParams = self.params  # type: ignore[assignment]
        live = [
            o
            for o in self.ctx.orders(self.venue, self.symbol)
            if o.side is side and not o.cancel_requested
        ]
        limit = p.max_position
        reduces = position != 0 and Side.closing(position) is side
        reduce_only = limit is not None and reduces and abs(position) >= limit
        size = min(self.size, abs(position)) if reduce_only else self.size
        keep: OrderView | None = None
        for order in live:
            if keep is None and order.amending:
                keep = order  # already on its way to a new price
                continue
            fresh = now_ms - order.created_ms < p.max_quote_age_secs * 1000
            close = (
                price is not None
                and order.price is not None
                and abs(order.price - price) < p.requote_ticks * self.inst.tick_size
            )
            if keep is None and fresh and close:
                keep = order
            elif keep is None and fresh and self._amend(order, price, size, reduce_only):
                keep = order  # one modify instead of a cancel and a new order
            else:
                self.ctx.cancel(order.client_id)
        if keep is not None or price is None:
            return
        self.ctx.place(
            self.venue, self.symbol, side, size, price, post_only=True, reduce_only=reduce_only
        )

    def _amend(
        self, order: OrderView, price: Decimal | None, size: Decimal, reduce_only: bool
    ) -> bool:
        """Requote ``order`` in place when the venue supports it and only price moves."""
        if price is None or order.reduce_only != reduce_only or order.remaining != size:
            return False
        return self.ctx.amend(order.client_id, price)

    def preview(self) -> list[PlannedOrder]:
        book = self.ctx.book(self.venue, self.symbol)
        if book is None or not book.is_valid():
            return []
        sigma = self.vol.sigma()
        note = "" if sigma is not None else "sigma not estimated yet: assumed 0"
        position = self.ctx.position(self.venue, self.symbol).size
        target = self.target(book, sigma or 0.0, position)
        bid, ask = to_book_prices(target, self.inst, book.best_bid(), book.best_ask())
        want_bid, want_ask = self._allowed_sides(position)
        out = []
        if want_bid:
            out.append(
                PlannedOrder(self.venue, self.symbol, Side.BUY, bid, self.size, True, note=note)
            )
        if want_ask:
            out.append(
                PlannedOrder(self.venue, self.symbol, Side.SELL, ask, self.size, True, note=note)
            )
        return out


def _state_label(bid: bool, ask: bool) -> str:
    if bid and ask:
        return "quoting"
    if bid:
        return "bid only (inventory limit)"
    if ask:
        return "ask only (inventory limit)"
    return "flat limit"
