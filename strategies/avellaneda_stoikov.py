"""Avellaneda–Stoikov market making.

One post-only bid and one post-only ask around an inventory-adjusted
reservation price (Avellaneda & Stoikov, "High-frequency trading in a limit
order book", Quantitative Finance 8(3), 2008).

Units: prices in quote currency; ``q`` is the inventory counted in order sizes
(position / size), as in the paper where each trade is one unit; ``sigma`` is
the mid's volatility in price units per sqrt(second), estimated from a
time-weighted window of mids; ``k`` is the order-arrival decay per unit of
price (fills at distance delta from mid arrive at rate A * exp(-k * delta));
``gamma`` is the risk aversion in 1/price; ``T - t`` is in seconds.

Finite horizon (section 2.2 of the paper), with T - t in seconds:
    r      = s - q * gamma * sigma^2 * (T - t)
    spread = gamma * sigma^2 * (T - t) + (2 / gamma) * ln(1 + gamma / k)
  ``horizon: finite``  -- rolling: T - t is held at ``tau`` (it never runs out);
  ``horizon: session`` -- the paper's: T is the end of the trading session and
      T - t counts down to it (spread and skew shrink toward the end); sessions
      repeat every ``session_secs``, one of them ending at ``session_end_utc``.
Infinite horizon (section 2.3), with omega = 1/2 * gamma^2 * sigma^2 * (q_max + 1)^2
(sigma cancels out of the ratio below):
    r_ask = s + (1/gamma) * ln(1 + (1 - 2q) / ((q_max + 1)^2 - q^2))
    r_bid = s + (1/gamma) * ln(1 + (-1 - 2q) / ((q_max + 1)^2 - q^2))
    quotes at r_bid - h and r_ask + h with h = (1/gamma) * ln(1 + gamma / k)
  At q = q_max the paper's reservation bid is -infinity: no bid is quoted (the
  ask, which reduces, still is). q is clamped to [-q_max, q_max].

The mid is the market's without our own quotes (``strategies.external_book``):
when our quotes are the touch, the plain book's mid would be half ours.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from connectors.base import Instrument, OrderStatus, Side
from strategies.backoff import RejectBackoff
from strategies.base import (
    OrderView,
    PlannedOrder,
    Strategy,
    StrategyContext,
    StrategyParams,
)
from strategies.external_book import external_mid
from strategies.requote import QuotingParams, RequoteGate
from strategies.volatility import RealizedVolatility

MAX_BACKOFF_MS = 10_000  # longest pause of a side's quoting after refusals in a row
DAY_S = 86_400
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$")


class ASParams(QuotingParams):
    gamma: float = Field(default=0.01, gt=0, description="risk aversion (1/price)")
    gamma_max: float | None = Field(
        default=None, gt=0, description="gamma at |position| = max_position (linear in between)"
    )
    k: float = Field(default=0.1, gt=0, description="order-arrival decay per unit of price")
    horizon: Literal["finite", "session", "infinite"] = Field(
        default="finite",
        description="finite: T - t held at tau; session: T - t counts down to the session "
        "end; infinite: the paper's infinite horizon (needs max_position)",
    )
    tau: float = Field(default=6.0, gt=0, description="finite horizon T - t in seconds")
    session_secs: float = Field(
        default=float(DAY_S), ge=1, le=DAY_S, description="session length in seconds (session)"
    )
    session_end_utc: str = Field(
        default="00:00", description="a session ends at this UTC time of day, HH:MM[:SS]"
    )
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

    LIVE: ClassVar[frozenset[str]] = frozenset(
        {"gamma", "k", "min_spread_abs", "min_spread_bps", "size", "requote_ticks"}
    )
    SIZES: ClassVar[frozenset[str]] = frozenset({"size"})

    @field_validator("session_end_utc")
    @classmethod
    def _time_of_day(cls, value: str) -> str:
        if _HHMM.match(value) is None:
            raise ValueError(f"session_end_utc must be HH:MM or HH:MM:SS (UTC), got {value!r}")
        return value

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

    @property
    def session_end_offset_s(self) -> int:
        """Seconds after midnight UTC of the configured session end."""
        m = _HHMM.match(self.session_end_utc)
        assert m is not None  # validated
        return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + int(m.group(3) or 0)


@dataclass(frozen=True, slots=True)
class QuoteTarget:
    """Unrounded quote prices from the model; a side is None where the model has no
    price (the infinite horizon's bid at q_max is -infinity)."""

    reservation: float | None
    bid: float | None
    ask: float | None

    @property
    def spread(self) -> float | None:
        return None if self.bid is None or self.ask is None else self.ask - self.bid


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def session_time_left(now_ms: int, session_secs: float, end_offset_s: float) -> float:
    """T - t in seconds, in (0, session_secs]: sessions of ``session_secs`` end every
    ``session_secs`` seconds counted from ``end_offset_s`` after midnight UTC (epoch
    time; with a session length that divides a day, at that time of day every day).
    At the very end a new session starts: T - t is the full length again."""
    period_ms = round(session_secs * 1000)
    into = (now_ms - round(end_offset_s * 1000)) % period_ms
    return (period_ms - into) / 1000


def finite_horizon_quotes(
    mid: float, q: float, sigma: float, gamma: float, k: float, time_left: float
) -> QuoteTarget:
    time_left = max(0.0, time_left)
    variance_term = gamma * sigma * sigma * time_left
    reservation = mid - q * variance_term
    spread = variance_term + (2.0 / gamma) * math.log1p(gamma / k)
    r = _finite(reservation)
    if r is None or not math.isfinite(spread):
        return QuoteTarget(None, None, None)
    return QuoteTarget(r, _finite(r - spread / 2), _finite(r + spread / 2))


def infinite_horizon_quotes(
    mid: float, q: float, sigma: float, gamma: float, k: float, q_max: float
) -> QuoteTarget:
    """The paper's infinite-horizon quotes; defined for every q (clamped to the
    limits). ``sigma`` cancels out with the paper's omega; it is kept for the
    signature the horizons share."""
    del sigma
    q = max(-q_max, min(q_max, q))
    room = (q_max + 1) ** 2 - q * q  # > 0: |q| <= q_max
    half = math.log1p(gamma / k) / gamma
    r_ask = _reservation(mid, (1 - 2 * q) / room, gamma)
    # the reservation bid is -infinity at q_max (buying would pass the limit)
    r_bid = None if q >= q_max else _reservation(mid, (-1 - 2 * q) / room, gamma)
    reservation = (r_ask + r_bid) / 2 if r_ask is not None and r_bid is not None else None
    bid = r_bid - half if r_bid is not None else None
    ask = r_ask + half if r_ask is not None else None
    return QuoteTarget(reservation, bid, ask)


def _reservation(mid: float, x: float, gamma: float) -> float | None:
    """mid + ln(1 + x) / gamma; None where the log is -infinity or undefined."""
    if not x > -1.0:
        return None
    return _finite(mid + math.log1p(x) / gamma)


def apply_min_spread(target: QuoteTarget, min_spread: float) -> QuoteTarget:
    """Widen symmetrically around the quotes' centre up to ``min_spread`` (a
    one-sided target has no spread to widen)."""
    if target.bid is None or target.ask is None or target.ask - target.bid >= min_spread:
        return target
    centre = (target.bid + target.ask) / 2
    return QuoteTarget(target.reservation, centre - min_spread / 2, centre + min_spread / 2)


def to_book_prices(
    target: QuoteTarget, inst: Instrument, best_bid: Decimal | None, best_ask: Decimal | None
) -> tuple[Decimal | None, Decimal | None]:
    """Round passively to the tick grid; never cross the opposite touch (post-only).
    A side the model has no price for, or a bid at or below zero, is None."""
    bid = ask = None
    if target.bid is not None:
        bid = inst.round_price(Decimal(repr(target.bid)), Side.BUY)
        if best_ask is not None:
            bid = min(bid, best_ask - inst.tick_size)
        if bid <= 0:
            bid = None
    if target.ask is not None:
        ask = inst.round_price(Decimal(repr(target.ask)), Side.SELL)
        if best_bid is not None:
            ask = max(ask, best_bid + inst.tick_size)
        ask = max(ask, inst.tick_size)
        if bid is not None and ask <= bid:
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
        self.p = p
        self.vol = RealizedVolatility(round(p.window_secs * 1000), round(p.warmup_secs * 1000))
        self.size = max(self.inst.min_size, self.inst.round_size(p.size or self.inst.min_size))
        self.backoff = RejectBackoff(p.tick_interval_ms, max(MAX_BACKOFF_MS, p.tick_interval_ms))
        self.gate = RequoteGate.of(ctx, self._quote, self.inst.tick_size, p)

    def apply_params(self, params: StrategyParams) -> None:
        super().apply_params(params)
        self.p = params  # type: ignore[assignment]
        self.size = max(self.inst.min_size, self.inst.round_size(self.p.size or self.inst.min_size))

    # -- callbacks ------------------------------------------------------------

    def on_book(self, venue: str, symbol: str) -> None:
        book = self.ctx.book(venue, symbol)
        if book is not None and book.is_valid():
            mid = external_mid(book, self.inst, self.ctx.orders(self.venue, self.symbol))
            if mid is not None:
                now_ms = self.ctx.now_ms()
                self.vol.add(now_ms, float(mid))
                self.gate.on_book(now_ms, mid)  # requote now if the mid moved enough

    def on_resume(self) -> None:
        self.backoff.reset()

    def on_tick(self, now_ms: int) -> None:
        self._quote(now_ms)

    def _quote(self, now_ms: int) -> None:
        """The quote cycle: on every tick, and on a book change that moved the mid
        (``RequoteGate``); both sides are worked in the same call."""
        book = self.ctx.book(self.venue, self.symbol)
        tel = self.ctx.telemetry
        mid = None
        if book is not None and book.is_valid():
            mid = external_mid(book, self.inst, self.ctx.orders(self.venue, self.symbol))
        if book is None or mid is None:
            tel.set("state", "no book")
            return
        self.gate.cycled(now_ms, mid)
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
        target = self.target(mid, sigma, position.size, now_ms)
        tel.sample("sigma", now_ms, sigma)
        tel.sample("reservation", now_ms, target.reservation)
        tel.sample("spread", now_ms, target.spread)
        if self.p.horizon != "infinite":
            tel.set("time_left_s", round(self.time_left(now_ms), 1))
        bid, ask = to_book_prices(target, self.inst, book.best_bid(), book.best_ask())
        want_bid, want_ask = self._allowed_sides(position.size)
        want_bid, want_ask = want_bid and bid is not None, want_ask and ask is not None
        waiting = self.backoff.waiting_ms(now_ms)
        tel.set("backoff_s", round(waiting / 1000, 1))
        state = _state_label(want_bid, want_ask)
        tel.set("state", f"{state} (back-off after rejects)" if waiting > 0 else state)
        self._work_side(Side.BUY, bid if want_bid else None, position.size, now_ms)
        self._work_side(Side.SELL, ask if want_ask else None, position.size, now_ms)
        ages = [now_ms - o.created_ms for o in self.ctx.orders(self.venue, self.symbol)]
        tel.set("quote_age_s", round(max(ages) / 1000, 1) if ages else None)

    def on_order(self, order: OrderView) -> None:
        if order.status is OrderStatus.REJECTED:
            self._rejected(order)
        elif order.status is OrderStatus.OPEN:
            self.backoff.accepted(order.side)

    def _rejected(self, order: OrderView) -> None:
        wait = self.backoff.rejected(order.side, self.ctx.now_ms(), order.client_id)
        if wait is not None:
            self.ctx.telemetry.count("rejects")
            self.ctx.telemetry.set("last_reject", order.reason)
            self.ctx.log.debug(
                "%s quote %s rejected (%s): next in %.1f s",
                order.side.value,
                order.client_id,
                order.reason,
                wait / 1000,
            )

    # -- model ----------------------------------------------------------------

    def time_left(self, now_ms: int) -> float:
        """T - t in seconds for the finite horizons."""
        p = self.p
        if p.horizon == "session":
            return session_time_left(now_ms, p.session_secs, p.session_end_offset_s)
        return p.tau

    def target(self, mid: Decimal, sigma: float, position: Decimal, now_ms: int) -> QuoteTarget:
        p = self.p
        q = float(position / self.size)
        gamma = p.gamma
        if p.gamma_max is not None and p.max_position is not None:
            rho = min(1.0, abs(float(position / p.max_position)))
            gamma = p.gamma + (p.gamma_max - p.gamma) * rho
        if p.horizon == "infinite":
            assert p.max_position is not None
            q_max = float(p.max_position / self.size)
            target = infinite_horizon_quotes(float(mid), q, sigma, gamma, p.k, q_max)
        else:
            time_left = self.time_left(now_ms)
            target = finite_horizon_quotes(float(mid), q, sigma, gamma, p.k, time_left)
        floor = max(float(p.min_spread_abs), float(p.min_spread_bps) * float(mid) / 10_000)
        return apply_min_spread(target, floor)

    def _allowed_sides(self, position: Decimal) -> tuple[bool, bool]:
        """Stop the side that would take the projected position past the limit."""
        limit = self.p.max_position
        if limit is None:
            return True, True
        return position + self.size <= limit, position - self.size >= -limit

    def _work_side(self, side: Side, price: Decimal | None, position: Decimal, now_ms: int) -> None:
        p = self.p
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
            # a reduce-only quote left from the limit is replaced once the position
            # is back under it (and a plain one at the limit by a reduce-only one)
            fits = order.reduce_only == reduce_only
            if keep is None and fresh and close and fits:
                keep = order
            elif keep is None and fresh and fits and self._amend(order, price, size, reduce_only):
                keep = order  # one modify instead of a cancel and a new order
            else:
                self.ctx.cancel(order.client_id)
        if keep is not None or price is None or not self.backoff.ready(side, now_ms):
            return
        order = self.ctx.place(
            self.venue, self.symbol, side, size, price, post_only=True, reduce_only=reduce_only
        )
        if order.status is OrderStatus.REJECTED:  # refused before it left (risk)
            self._rejected(order)

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
        mid = external_mid(book, self.inst, self.ctx.orders(self.venue, self.symbol))
        if mid is None:
            return []
        sigma = self.vol.sigma()
        note = "" if sigma is not None else "sigma not estimated yet: assumed 0"
        position = self.ctx.position(self.venue, self.symbol).size
        target = self.target(mid, sigma or 0.0, position, self.ctx.now_ms())
        bid, ask = to_book_prices(target, self.inst, book.best_bid(), book.best_ask())
        want_bid, want_ask = self._allowed_sides(position)
        out = []
        if want_bid and bid is not None:
            out.append(
                PlannedOrder(self.venue, self.symbol, Side.BUY, bid, self.size, True, note=note)
            )
        if want_ask and ask is not None:
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
