"""The cross-venue arbitrage's parameters and their checks (``cross_arbitrage`` in a
config)."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from pydantic import Field, model_validator

from connectors.base import ZERO
from strategies.base import StrategyParams

_RENAMED = {
    "poll_interval_ms": "poll_interval_ms is now tick_interval_ms",
    "debug_run_once": "debug_run_once is now max_round_trips (1 = stop entering after one)",
    "lighter_market_execution": "lighter_market_execution is gone: the first leg is a tracking "
    "limit (passive_first_leg: true joins the touch, false crosses it)",
    "symbol_filters": "symbol_filters is gone: one strategy trades one market pair "
    "(venue/symbol and other_venue/other_symbol)",
    "latency_circuit_ms": "latency_circuit_ms is gone: the core's stale-book guard "
    "(risk.stale_book_ms) stops orders on a stale feed",
}


class CrossArbitrageParams(StrategyParams):
    tick_interval_ms: int = Field(default=250, ge=10, description="decision cycle, ms")
    other_venue: str | None = Field(
        default=None, description="venue of leg B (required; leg A is the strategy's venue)"
    )
    other_symbol: str | None = Field(
        default=None, description="symbol of leg B; None = same base asset, found by pairing"
    )
    entry_threshold_pct: Decimal = Field(
        default=Decimal("0.20"), gt=0, le=50, description="minimum edge after fees, %"
    )
    size: Decimal | None = Field(
        default=None, gt=0, description="pair size, base units; None = smallest common size"
    )
    max_concurrent_positions: int = Field(default=3, ge=1, le=50, description="open pairs")
    cooldown_secs: float = Field(
        default=3.0, ge=0, description="minimum time between entries, and after an exit"
    )
    tp_ratio: Decimal = Field(
        default=Decimal(1), gt=0, le=2, description="exit when edge <= (1 - tp_ratio) x entry"
    )
    sl_ratio: Decimal = Field(
        default=Decimal(1), gt=0, description="stop when edge >= (1 + sl_ratio) x entry"
    )
    max_hold_secs: float | None = Field(
        default=600.0, gt=0, description="time stop; None = no time stop"
    )
    maintenance_hour_utc: int | None = Field(
        default=None, ge=0, le=23, description="no entries in this UTC hour; None = off"
    )
    maintenance_local_hour: int | None = Field(
        default=None, ge=0, le=23, description="no entries in this local hour; None = off"
    )
    pre_maint_close_minutes: int = Field(
        default=10, ge=0, le=59, description="close pairs this many minutes before maintenance"
    )
    delta_tolerance: Decimal = Field(
        default=Decimal("0.01"), ge=0, lt=1, description="allowed leg mismatch, fraction of size"
    )
    max_delta_failures: int = Field(
        default=3, ge=1, le=100, description="delta failures in a row before suspending"
    )
    tracking_wait_secs: float = Field(
        default=10.0, gt=0, le=3600, description="one tracking-limit attempt, s"
    )
    tracking_max_retries: int = Field(
        default=3, ge=1, le=20, description="tracking-limit attempts per leg"
    )
    allow_market_fallback: bool = Field(
        default=True, description="entry legs: market IOC for the rest after the attempts"
    )
    passive_first_leg: bool = Field(
        default=False, description="first leg joins its own touch (maker) instead of crossing"
    )
    requote_ticks: int = Field(
        default=0, ge=0, le=10_000, description="follow the touch when it moves more than this"
    )
    expected_funding_pct: Decimal = Field(
        default=ZERO, ge=-10, le=10, description="expected funding cost over a hold, %"
    )
    max_round_trips: int | None = Field(
        default=None, ge=1, description="stop entering after this many closed pairs; None = no"
    )

    RENAMED: ClassVar[dict[str, str]] = _RENAMED

    @model_validator(mode="after")
    def _consistent(self) -> CrossArbitrageParams:
        if self.other_venue is not None and not self.other_venue.strip():
            raise ValueError("other_venue must name a configured venue")
        if self.max_hold_secs is not None and self.max_hold_secs * 1000 < self.tick_interval_ms:
            raise ValueError(
                f"max_hold_secs ({self.max_hold_secs}) is shorter than one tick "
                f"({self.tick_interval_ms} ms)"
            )
        return self
