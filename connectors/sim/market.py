"""The synthetic market behind every sim venue.

Each asset has one fair value: a geometric random walk with optional Poisson
jumps. Each venue quotes that fair value times (1 + basis), where the basis is
a mean-reverting (Ornstein–Uhlenbeck) process with the venue's own noise. So
several venues' mids are correlated, but not equal: cross-venue strategies have
spreads to work on. Everything is drawn from seeded generators, so a seed gives
the same paths on every run.
"""

from __future__ import annotations

import math
import random
import zlib
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AssetDynamics:
    """How one asset's fair value moves."""

    start_price: float
    volatility: float = 0.6  # annualised, e.g. 0.6 = 60 %
    jump_rate_per_hour: float = 0.0
    jump_sigma: float = 0.002  # relative size of a jump (stdev)


@dataclass(frozen=True, slots=True)
class BasisDynamics:
    """How far one venue's mid strays from the fair value."""

    sigma: float = 0.0002  # stationary stdev of the relative basis
    half_life_s: float = 30.0


_SECONDS_PER_YEAR = 365.0 * 24 * 3600


def stable_seed(*parts: object) -> int:
    """A seed derived from names that is the same in every process (unlike hash())."""
    return zlib.crc32("/".join(str(p) for p in parts).encode())


class SyntheticMarket:
    """Fair values per asset and a basis per (venue, asset)."""

    def __init__(self, assets: dict[str, AssetDynamics], seed: int = 1) -> None:
        self.seed = seed
        self._dyn = dict(assets)
        self._fair = {name: d.start_price for name, d in assets.items()}
        self._rng = random.Random(seed)
        self._basis: dict[tuple[str, str], float] = {}
        self._basis_dyn: dict[tuple[str, str], BasisDynamics] = {}
        self._basis_rng: dict[tuple[str, str], random.Random] = {}
        self.elapsed_ms = 0

    @property
    def assets(self) -> list[str]:
        return list(self._dyn)

    def add_venue(self, venue: str, basis: BasisDynamics | None = None) -> None:
        """Give ``venue`` its own basis on every asset (seeded by the venue name)."""
        dyn = basis or BasisDynamics()
        for asset in self._dyn:
            key = (venue, asset)
            rng = random.Random(stable_seed(self.seed, venue, asset))
            self._basis_rng[key] = rng
            self._basis_dyn[key] = dyn
            self._basis[key] = rng.gauss(0.0, dyn.sigma)

    def fair(self, asset: str) -> float:
        return self._fair[asset]

    def mid(self, venue: str, asset: str) -> float:
        return self._fair[asset] * (1.0 + self._basis.get((venue, asset), 0.0))

    def step(self, dt_ms: int) -> None:
        """Advance every path by ``dt_ms``."""
        if dt_ms <= 0:
            return
        dt = dt_ms / 1000.0
        rng = self._rng
        for asset, dyn in self._dyn.items():
            sigma_dt = dyn.volatility * math.sqrt(dt / _SECONDS_PER_YEAR)
            log_ret = rng.gauss(-0.5 * sigma_dt * sigma_dt, sigma_dt)
            if dyn.jump_rate_per_hour > 0 and rng.random() < dyn.jump_rate_per_hour * dt / 3600:
                log_ret += rng.gauss(0.0, dyn.jump_sigma)
            self._fair[asset] *= math.exp(log_ret)
        for key, value in self._basis.items():
            dyn = self._basis_dyn[key]
            theta = math.log(2) / max(dyn.half_life_s, 1e-9)
            decay = math.exp(-theta * dt)
            noise = dyn.sigma * math.sqrt(1 - decay * decay)
            self._basis[key] = value * decay + self._basis_rng[key].gauss(0.0, noise)
        self.elapsed_ms += dt_ms

    def set_basis(self, venue: str, asset: str, relative: float) -> None:
        """Put one venue's basis somewhere at once (tests: a cross-venue gap)."""
        if (venue, asset) not in self._basis:
            raise KeyError(f"no basis for venue {venue!r} asset {asset!r}")
        self._basis[(venue, asset)] = relative

    def shock(self, asset: str, relative: float) -> None:
        """Move an asset's fair value at once (tests: a synthetic drop or rally)."""
        self._fair[asset] *= 1.0 + relative
