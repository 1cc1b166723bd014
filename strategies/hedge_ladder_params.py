"""The hedge ladder's parameters (``hedge_ladder``): what each one means, its
bounds, how they must agree, and the one-line hint for a parameter of the
original bot that was renamed or is gone."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from pydantic import Field, model_validator

from strategies.base import StrategyParams
from strategies.param_checks import require_at_most, require_room_for_an_entry

_RENAMED = {
    "backpack_symbol": "backpack_symbol is the strategy entry's venue/symbol now",
    "lighter_symbol": "lighter_symbol is now hedge_symbol (with hedge_venue)",
    "lighter_reduce_only_close": "lighter_reduce_only_close is now hedge_reduce_only_close",
    "poll_interval_ms": "poll_interval_ms is now tick_interval_ms",
    "debug": "debug is gone: set logging.level (hedge orders are journaled)",
}


class HedgeLadderParams(StrategyParams):
    # -- markets ---------------------------------------------------------------
    hedge_venue: str | None = Field(
        default=None, description="venue of the protective hedge (required; not the entry venue)"
    )
    hedge_symbol: str | None = Field(
        default=None, description="hedge market; None = the market with the same base asset"
    )
    # -- ladder ----------------------------------------------------------------
    quantity_base: Decimal = Field(
        default=Decimal("0.001"), gt=0, description="entry size, base units (on both venues' grids)"
    )
    take_profit_abs: Decimal = Field(
        default=Decimal(30), gt=0, description="take-profit distance above the entry, quote ccy"
    )
    max_concurrent_positions: int = Field(
        default=10, ge=1, le=200, description="filled lots awaiting take-profit + resting entries"
    )
    max_resting_entries: int = Field(default=1, ge=1, le=20, description="entry bids at a time")
    entry_interval_secs: float = Field(
        default=10.0, ge=0, description="minimum time between new entry bids, s"
    )
    entry_offset_ticks: int = Field(default=0, ge=0, description="ticks below the best bid")
    requote_ticks: int = Field(
        default=10, ge=1, description="re-post an entry bid this many ticks under the best bid"
    )
    entry_max_age_secs: float | None = Field(
        default=120.0, gt=0, description="re-post an entry bid this old, s; None = never"
    )
    # -- hedge -----------------------------------------------------------------
    hedge_trigger_ratio: Decimal = Field(
        default=Decimal("0.99"), gt=0, lt=1, description="hedge a lot at mid <= entry x this"
    )
    hedge_release_ratio: Decimal = Field(
        default=Decimal("0.995"), gt=0, description="release it at mid >= entry x this (> trigger)"
    )
    hedge_min_hold_secs: float = Field(
        default=5.0, ge=0, description="a lot's hedge state is held at least this long, s"
    )
    net_delta_bound: Decimal | None = Field(
        default=None,
        gt=0,
        description="|entry + hedge position| bound, base; None = max_concurrent_positions x size",
    )
    hedge_rate_limit_per_sec: int = Field(
        default=10, ge=1, le=100, description="hedge orders per second (sliding window)"
    )
    hedge_retry: int = Field(default=3, ge=0, le=100, description="retries before a cool-down")
    hedge_retry_delay: float = Field(
        default=0.2, ge=0, description="retry back-off, s x attempt number"
    )
    hedge_retry_cooldown_secs: float = Field(
        default=10.0, ge=0, description="wait after hedge_retry failures in a row, s"
    )
    hedge_reduce_only_close: bool = Field(
        default=True, description="buying the hedge back is reduce-only"
    )

    RENAMED: ClassVar[dict[str, str]] = _RENAMED

    @model_validator(mode="after")
    def _consistent(self) -> HedgeLadderParams:
        if self.hedge_release_ratio <= self.hedge_trigger_ratio:
            raise ValueError(
                f"hedge_release_ratio ({self.hedge_release_ratio}) must be above "
                f"hedge_trigger_ratio ({self.hedge_trigger_ratio}): that gap is the hysteresis"
            )
        require_at_most(
            "max_resting_entries",
            self.max_resting_entries,
            "max_concurrent_positions",
            self.max_concurrent_positions,
        )
        require_room_for_an_entry("net_delta_bound", self.net_delta_bound, self.quantity_base)
        return self


__all__ = ["HedgeLadderParams"]
