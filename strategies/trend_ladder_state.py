"""What a trend ladder keeps between callbacks and how it reads its market.

Its mode, its lots, the entry pacing, requote and reject back-off state, its
trend detector; its orders, its position (clipped to the account's), its entry
side and the touch without its own orders. The strategy's parts (entries,
exits, closing) build on ``TrendLadderState``; ``TrendLadder`` joins them.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from connectors.base import ZERO, Side
from connectors.book import OrderBook
from strategies.backoff import RejectBackoff
from strategies.base import OrderView, Strategy, StrategyContext, StrategyParams
from strategies.external_book import external_bbo
from strategies.ladder_lots import LadderLot, take_profit_price
from strategies.trend_detector import Direction, TrendDetector
from strategies.trend_ladder_params import TrendLadderParams

COVER = "cov"
FLUSH = "flush"
STOP = "stop"


class Mode(enum.Enum):
    TRADING = "trading"
    FLUSHING = "flushing"
    STOPPING = "stopping"
    COOLDOWN = "cool-down"


@dataclass(slots=True)
class Lot(LadderLot):
    """A trend ladder's lot: its take-profit is tagged ``tp:<entry client id>``."""

    side: Side = field(kw_only=True)  # the entry's side


class TrendLadderState(Strategy):
    """The trend ladder's state and reads; its behaviour is in the parts built on it."""

    def __init__(
        self, ctx: StrategyContext, venue: str, symbol: str, params: StrategyParams
    ) -> None:
        super().__init__(ctx, venue, symbol, params)
        p: TrendLadderParams = self.params  # type: ignore[assignment]
        self.p = p
        self.size = max(self.inst.min_size, self.inst.round_size(p.quantity_base))
        self.max_position = (
            p.max_position if p.max_position is not None else p.max_orders * self.size
        )
        self.direction = Direction(p.fixed_direction)
        self.detector = self._new_detector(self.direction)
        self.mode = Mode.TRADING
        self.flush_target = self.direction
        self.flush_started_ms = 0
        self.cooldown_until_ms = 0
        self.stop_reason = ""
        self.stop_chunk = self.max_position
        self.lots: dict[str, Lot] = {}
        self.active = False
        self.last_entry_ms: int | None = None
        self.immediate = False
        self.requoting: dict[str, int] = {}
        self.requote_credit = 0
        self.backoff = RejectBackoff(
            round(p.requote_skip_backoff_secs * 1000), round(p.requote_skip_backoff_max_secs * 1000)
        )
        """Refusals back off per kind: ``entry``, each lot's take-profit (its tag), and
        ``requote`` (a requote cancel the venue did not confirm in time)."""
        self.corrections: deque[int] = deque()

    def _new_detector(self, initial: Direction) -> TrendDetector:
        p = self.p
        return TrendDetector(
            bar_ms=max(1, round(p.bar_secs * 1000)),
            ema_len=p.ema_len,
            atr_len=p.atr_len,
            slope_up=p.slope_up,
            slope_down=p.slope_down,
            warmup_bars=p.warmup_minutes,
            confirm_bars=p.hysteresis_bars,
            margin=p.hysteresis_margin,
            min_atr=float(self.inst.tick_size),
            initial=initial,
        )

    def _new_lot(self, entry_side: Side) -> Callable[[str, Decimal], Lot]:
        """What opens a lot for the first fill of an entry on ``entry_side``: at the
        entry's price, its take-profit ``take_profit_abs`` away."""

        def new(entry_id: str, price: Decimal) -> Lot:
            tp = take_profit_price(entry_side, price, self.p.take_profit_abs, self.inst)
            return Lot(entry_id, price, tp, side=entry_side)

        return new

    # -- reading --------------------------------------------------------------

    def _orders(self) -> list[OrderView]:
        return self.ctx.orders(self.venue, self.symbol)

    def _position(self) -> Decimal:
        return self.ctx.position(self.venue, self.symbol).size

    def _held(self) -> Decimal:
        """This strategy's position, clipped to what the account holds on that side:
        reduce-only orders can close no more than that (and an account-wide flatten
        closes the account without booking it to the strategy)."""
        own = self._position()
        account = self.ctx.account_position(self.venue, self.symbol)
        if own == 0 or account == 0 or (own > 0) != (account > 0):
            return ZERO
        return own if abs(own) <= abs(account) else account

    def _entry_side(self) -> Side:
        return Side.BUY if self.direction is Direction.LONG else Side.SELL

    def _touch(self, book: OrderBook) -> tuple[Decimal | None, Decimal | None]:
        """Best bid and ask of everyone else (our own resting size taken out)."""
        return external_bbo(book, self.inst, self._orders())


__all__ = ["COVER", "FLUSH", "STOP", "Lot", "Mode", "TrendLadderState"]
