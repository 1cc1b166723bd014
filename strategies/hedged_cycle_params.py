"""The hedged cycle's parameters and their checks (``hedged_cycle`` in a config)."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from strategies.base import StrategyParams

_RENAMED = {
    "backpack_fill_timeout": "backpack_fill_timeout is now maker_fill_timeout (seconds)",
    "lighter_fill_timeout": "lighter_fill_timeout is now hedge_fill_timeout (seconds)",
    "lighter_symbol": "lighter_symbol is now hedge_symbol (with hedge_venue)",
    "symbol": "symbol is set on the strategy entry (the maker market), not in params",
}


class HedgedCycleParams(StrategyParams):
    tick_interval_ms: int = Field(default=500, ge=10, description="state machine step, ms")
    hedge_venue: str | None = Field(
        default=None, description="venue of the hedge leg (required; not the maker venue)"
    )
    hedge_symbol: str | None = Field(
        default=None, description="hedge market; None = the market with the same base asset"
    )
    size: Decimal | None = Field(
        default=None, gt=0, description="base units per cycle; None = smallest common size"
    )
    direction: Literal["random", "long", "short"] = Field(
        default="random", description="maker leg direction each cycle"
    )
    seed: int = Field(default=1, description="seed of direction, hold and cool-down draws")
    hold_seconds_min: float = Field(default=600.0, ge=0, description="hold, s (random in range)")
    hold_seconds_max: float = Field(default=900.0, ge=0)
    cooldown_seconds_min: float = Field(default=0.0, ge=0, description="cool-down, s (random)")
    cooldown_seconds_max: float = Field(default=300.0, ge=0)
    maker_fill_timeout: float = Field(
        default=180.0, gt=0, description="s to open (or close) the maker leg, all attempts"
    )
    hedge_fill_timeout: float = Field(
        default=90.0, gt=0, description="s the legs may stay unmatched before the unwind"
    )
    reprice_after_seconds: float = Field(
        default=5.0, gt=0, description="life of one maker attempt before it is re-priced"
    )
    max_reprice_attempts: int = Field(
        default=1, ge=0, le=1000, description="re-prices after the first maker attempt"
    )
    hedge_retries: int = Field(
        default=1, ge=0, le=20, description="hedge orders retried before the unwind"
    )
    maker_post_only: bool = Field(default=True, description="maker limits are post-only")
    max_notional_per_cycle: Decimal = Field(
        default=Decimal(1000), gt=0, description="quote ccy; a bigger cycle is not started"
    )
    max_cycles: int = Field(default=0, ge=0, description="cycles to start; 0 = no limit")
    loss_cap: Decimal = Field(
        default=Decimal(50),
        gt=0,
        description="quote ccy; at this net loss the open cycle closes and no new one starts",
    )

    RENAMED: ClassVar[dict[str, str]] = _RENAMED

    @model_validator(mode="after")
    def _consistent(self) -> HedgedCycleParams:
        if self.hold_seconds_min > self.hold_seconds_max:
            raise ValueError(
                f"hold_seconds_min ({self.hold_seconds_min}) must not exceed "
                f"hold_seconds_max ({self.hold_seconds_max})"
            )
        if self.cooldown_seconds_min > self.cooldown_seconds_max:
            raise ValueError(
                f"cooldown_seconds_min ({self.cooldown_seconds_min}) must not exceed "
                f"cooldown_seconds_max ({self.cooldown_seconds_max})"
            )
        if self.reprice_after_seconds > self.maker_fill_timeout:
            raise ValueError(
                f"reprice_after_seconds ({self.reprice_after_seconds}) must not exceed "
                f"maker_fill_timeout ({self.maker_fill_timeout})"
            )
        return self
