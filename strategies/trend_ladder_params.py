"""The trend ladder's parameters (``trend_ladder``): what each one means, its
bounds, how they must agree, and the one-line hint for a parameter of the
original bot that is gone."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from strategies.base import StrategyParams
from strategies.param_checks import require_at_most, require_room_for_an_entry

_REMOVED = {
    "partial_tp_enabled": "every fill of an entry now gets its take-profit",
    "imb_threshold_mult": "the coverage check tops up any deficit of at least the minimum size",
    "requote_mode": "requotes are always cancel-first, confirmed by the order manager",
    "max_requote_dupes": "requotes are always cancel-first (no duplicates)",
    "requote_force_forget_after_retries": "the order manager reconciles stuck orders",
    "requote_force_forget_after_secs": "the order manager reconciles stuck orders",
    "telemetry_enabled": "telemetry is always published to the console",
    "telemetry_url": "telemetry is published by the core",
    "telemetry_interval": "telemetry is published by the core",
}


class TrendLadderParams(StrategyParams):
    # -- ladder ----------------------------------------------------------------
    quantity_base: Decimal = Field(
        default=Decimal("0.001"), gt=0, description="entry size, base units (at least venue min)"
    )
    take_profit_abs: Decimal = Field(
        default=Decimal(5), gt=0, description="take-profit distance from the entry, quote ccy"
    )
    entry_offset_ticks: int = Field(
        default=1, ge=0, description="entries this many ticks outside the touch (0 = join it)"
    )
    max_orders: int = Field(
        default=40, ge=1, description="cap on filled entries awaiting exit plus open entries"
    )
    max_open_entries: int = Field(default=1, ge=1, description="cap on resting entry orders")
    max_position: Decimal | None = Field(
        default=None, gt=0, description="base units; default max_orders x quantity_base"
    )
    # -- pacing ----------------------------------------------------------------
    base_wait: float = Field(default=450.0, ge=0, description="base cool-down between entries, s")
    min_wait: float = Field(default=60.0, ge=0, description="floor of the cool-down, s")
    max_wait: float = Field(default=900.0, ge=0, description="ceiling of the cool-down, s")
    idle_wait: float = Field(
        default=60.0, ge=0, description="cool-down while fewer than max_orders/6 exits wait, s"
    )
    pace_ignore_imbalance_tp: bool = Field(
        default=False, description="leave coverage exits out of the pacing count"
    )
    # -- direction -------------------------------------------------------------
    fixed_direction: Literal["long", "short"] = Field(
        default="long", description="direction when the detector is off (its start otherwise)"
    )
    detector_enabled: bool = Field(default=False, description="switch direction on EMA/ATR slope")
    bar_secs: float = Field(default=60.0, gt=0, description="detector bar length, s")
    ema_len: int = Field(default=50, ge=1, description="EMA length, bars")
    atr_len: int = Field(default=14, ge=1, description="ATR length, bars")
    slope_up: float = Field(default=0.2, description="slope (ATR per bar) above which: long")
    slope_down: float = Field(default=-0.2, description="slope (ATR per bar) below which: short")
    warmup_minutes: int = Field(default=50, ge=0, description="bars needed before a slope exists")
    hysteresis_bars: int = Field(
        default=2, ge=1, description="bars the opposite signal must hold before a switch"
    )
    hysteresis_margin: float | None = Field(
        default=None, gt=0, description="slope this far beyond a threshold switches at once"
    )
    flip_flush: Literal["passive", "market"] = Field(
        default="passive", description="how the old position closes on a switch"
    )
    flush_ticks: int = Field(default=0, ge=0, description="passive flush: ticks outside the touch")
    flush_timeout_secs: float = Field(
        default=60.0, gt=0, description="passive flush gives way to a market close after this"
    )
    # -- risk ------------------------------------------------------------------
    stop_loss_abs: Decimal | None = Field(
        default=None, gt=0, description="close all when unrealized loss reaches this, quote ccy"
    )
    stop_loss_pct: Decimal | None = Field(
        default=None, gt=0, lt=100, description="close all when the mid is this % against entry"
    )
    stop_cooldown_secs: float = Field(default=300.0, ge=0, description="no entries after a stop")
    imb_max_corr_in_10m: int = Field(
        default=3, ge=0, description="coverage top-ups per 10 minutes (0 = unlimited)"
    )
    # -- requotes --------------------------------------------------------------
    requote_ticks: int = Field(
        default=5, ge=0, description="requote an entry this many ticks off target (0 = off)"
    )
    requote_abs: Decimal = Field(
        default=Decimal(0), ge=0, description="alternative threshold, quote ccy (the larger wins)"
    )
    max_requotes_per_tick: int = Field(default=2, ge=1)
    requote_wait_confirm_secs: float = Field(
        default=5.0, gt=0, description="a requote cancel not confirmed by then backs off"
    )
    requote_skip_backoff_secs: float = Field(default=15.0, gt=0, description="first back-off, s")
    requote_skip_backoff_max_secs: float = Field(default=120.0, gt=0, description="back-off cap, s")

    RENAMED: ClassVar[dict[str, str]] = {
        key: f"{key} is no longer a parameter: {why}" for key, why in _REMOVED.items()
    }

    @model_validator(mode="after")
    def _consistent(self) -> TrendLadderParams:
        if not self.min_wait <= self.base_wait <= self.max_wait:
            raise ValueError(
                f"need min_wait <= base_wait <= max_wait, got {self.min_wait} / "
                f"{self.base_wait} / {self.max_wait}"
            )
        if self.slope_up <= self.slope_down:
            raise ValueError(
                f"slope_up ({self.slope_up}) must be above slope_down ({self.slope_down})"
            )
        require_at_most(
            "requote_skip_backoff_secs",
            self.requote_skip_backoff_secs,
            "requote_skip_backoff_max_secs",
            self.requote_skip_backoff_max_secs,
        )
        require_room_for_an_entry("max_position", self.max_position, self.quantity_base)
        return self


__all__ = ["TrendLadderParams"]
