"""A set of sim venues on one synthetic market, stepped by one clock.

``SimWorld`` owns the market and the venues; ``run`` moves them forward every
``step_ms`` of the clock it is given (the core's ``SimClock`` in sim mode).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from connectors.base import Instrument
from connectors.sim.funding import FundingSpec
from connectors.sim.market import AssetDynamics, BasisDynamics, SyntheticMarket
from connectors.sim.venue import FlowParams, SimVenue

log = logging.getLogger("connectors.sim.world")


class _Clock(Protocol):
    def now_ms(self) -> int: ...

    def sleep(self, seconds: float) -> Awaitable[None]: ...


@dataclass(frozen=True, slots=True)
class AssetSpec:
    """An asset of the sim and the perp market every sim venue lists for it."""

    name: str
    start_price: Decimal
    tick_size: Decimal
    step_size: Decimal
    min_size: Decimal
    volatility: float = 0.6
    jump_rate_per_hour: float = 0.0
    jump_sigma: float = 0.002
    quote: str = "USDC"

    @property
    def symbol(self) -> str:
        return f"{self.name}-PERP"


@dataclass(frozen=True, slots=True)
class VenueSpec:
    name: str
    maker_fee: Decimal = Decimal("0.0001")
    taker_fee: Decimal = Decimal("0.0004")
    flow: FlowParams = field(default_factory=FlowParams)
    basis: BasisDynamics = field(default_factory=BasisDynamics)
    symbols: tuple[str, ...] | None = None  # None: every asset
    funding: FundingSpec = field(default_factory=FundingSpec)


class SimWorld:
    def __init__(self, assets: list[AssetSpec], venues: list[VenueSpec], *, seed: int = 1) -> None:
        if not assets:
            raise ValueError("the sim needs at least one asset")
        self.seed = seed
        self.market = SyntheticMarket(
            {
                a.name: AssetDynamics(
                    float(a.start_price), a.volatility, a.jump_rate_per_hour, a.jump_sigma
                )
                for a in assets
            },
            seed=seed,
        )
        self.venues: dict[str, SimVenue] = {}
        by_symbol = {a.symbol: a for a in assets}
        for spec in venues:
            self.market.add_venue(spec.name, spec.basis)
            chosen = spec.symbols or tuple(by_symbol)
            unknown = [s for s in chosen if s not in by_symbol]
            if unknown:
                raise ValueError(f"sim venue {spec.name}: unknown symbols {unknown}")
            instruments = [
                Instrument(
                    venue=spec.name,
                    symbol=s,
                    base=by_symbol[s].name,
                    quote=by_symbol[s].quote,
                    tick_size=by_symbol[s].tick_size,
                    step_size=by_symbol[s].step_size,
                    min_size=by_symbol[s].min_size,
                    max_leverage=Decimal(20),
                    maker_fee=spec.maker_fee,
                    taker_fee=spec.taker_fee,
                )
                for s in chosen
            ]
            self.venues[spec.name] = SimVenue(
                spec.name, instruments, self.market, flow=spec.flow, seed=seed, funding=spec.funding
            )
        self.steps = 0

    def step(self, now_ms: int, dt_ms: int) -> None:
        self.market.step(dt_ms)
        for venue in self.venues.values():
            venue.step(now_ms, dt_ms)
        self.steps += 1

    def prime(self, now_ms: int) -> None:
        """Lay the background books before anyone trades."""
        for venue in self.venues.values():
            venue.step(now_ms, 0)

    async def run(
        self, clock: _Clock, step_ms: int, on_error: Callable[[Exception], None] | None = None
    ) -> None:
        """Step every ``step_ms`` of ``clock`` until cancelled."""
        self.prime(clock.now_ms())
        while True:
            await clock.sleep(step_ms / 1000)
            try:
                self.step(clock.now_ms(), step_ms)
            except Exception as exc:  # a broken step must not kill the sim silently
                log.exception("sim step failed at %d ms", clock.now_ms())
                if on_error is not None:
                    on_error(exc)
                raise
