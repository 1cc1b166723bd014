"""What a hedge ladder keeps between callbacks: its two markets (the entry
market, the hedge market on another venue), the entry size both accept, the
net delta bound, its lots (each with its hedge state and a take-profit tag that
carries the entry price), the pacing, back-off and hedge retry state, and the
hedge it holds. The strategy's parts (entries, exits, hedging) build on
``HedgeLadderState``; ``HedgeLadder`` joins them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal

from connectors.base import Instrument
from strategies.backoff import RejectBackoff
from strategies.base import Strategy, StrategyContext, StrategyParams
from strategies.hedge_ladder_params import HedgeLadderParams
from strategies.ladder_lots import TP_PREFIX, LadderLot
from strategies.pairing import common_size, counterpart

HEDGE = "hedge"
UNHEDGE = "unhedge"
HEDGE_TAGS = frozenset({HEDGE, UNHEDGE})
MAX_BACKOFF_MS = 30_000


def resolve_hedge_instrument(
    ctx: StrategyContext, inst: Instrument, hedge_venue: str, hedge_symbol: str | None
) -> Instrument:
    """The hedge market: the configured one, else the one with the same assets."""
    return counterpart(ctx, inst, hedge_venue, hedge_symbol, "hedge_symbol")


def tp_tag(entry_id: str, entry_price: Decimal) -> str:
    return f"{TP_PREFIX}{entry_id}@{entry_price}"


def parse_tp_tag(tag: str) -> tuple[str, Decimal] | None:
    if not tag.startswith(TP_PREFIX) or "@" not in tag:
        return None
    entry_id, _, price = tag[len(TP_PREFIX) :].rpartition("@")
    try:
        return entry_id, Decimal(price)
    except ArithmeticError:
        return None


@dataclass(slots=True)
class Lot(LadderLot):
    """A hedge ladder's lot: hedged between its trigger and release prices; its
    take-profit's tag carries the entry price (``tp_tag``)."""

    trigger: Decimal = field(kw_only=True)
    release: Decimal = field(kw_only=True)
    hedged: bool = False
    flipped_ms: int | None = None
    flips: int = 0

    @property
    def tag(self) -> str:
        return tp_tag(self.entry_id, self.entry_price)


class HedgeLadderState(Strategy):
    """The hedge ladder's state and reads; its behaviour is in the parts built on it."""

    def __init__(
        self, ctx: StrategyContext, venue: str, symbol: str, params: StrategyParams
    ) -> None:
        super().__init__(ctx, venue, symbol, params)
        p: HedgeLadderParams = self.params  # type: ignore[assignment]
        self.p = p
        if p.hedge_venue is None:
            raise ValueError(
                "hedge_ladder: params.hedge_venue is required (the venue of the protective "
                "hedge, another venue than the entry venue)"
            )
        self.hedge_inst = resolve_hedge_instrument(ctx, self.inst, p.hedge_venue, p.hedge_symbol)
        self.hedge_venue = p.hedge_venue
        self.hedge_symbol = self.hedge_inst.symbol
        if (self.hedge_venue, self.hedge_symbol) == (venue, symbol):
            raise ValueError("hedge_venue: the hedge market must differ from the entry market")
        self.size = common_size(self.inst, self.hedge_inst, p.quantity_base)
        self.bound = (
            p.net_delta_bound
            if p.net_delta_bound is not None
            else self.size * p.max_concurrent_positions
        )
        self.lots: dict[str, Lot] = {}
        self.last_entry_ms: int | None = None
        self.repost = False  # a requoted entry may be re-posted without the interval
        self.backoff = RejectBackoff(p.tick_interval_ms, max(MAX_BACKOFF_MS, p.tick_interval_ms))
        """Refusals back off per kind: ``entry`` and each lot's take-profit (its tag)."""
        self.hedge_failures = 0
        self.hedge_retry_ms = 0
        self.hedge_sent: deque[int] = deque()
        self._pos_lots = 0

    def markets(self) -> list[tuple[str, str]]:
        return [(self.venue, self.symbol), (self.hedge_venue, self.hedge_symbol)]

    def _hedge_held(self) -> Decimal:
        """The short hedge this strategy holds, from its own fills (positive = short)."""
        return -self.ctx.position(self.hedge_venue, self.hedge_symbol).size


__all__ = [
    "HEDGE",
    "HEDGE_TAGS",
    "MAX_BACKOFF_MS",
    "UNHEDGE",
    "HedgeLadderState",
    "Lot",
    "parse_tp_tag",
    "resolve_hedge_instrument",
    "tp_tag",
]
