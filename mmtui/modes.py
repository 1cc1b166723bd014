"""The session parts of the modes whose fills are simulated (``build_session`` calls
``mode_parts``):

* ``replay``: a ``ReplayWorld`` playing the data directory's Tardis files, one
  ``SimConnector`` per replay venue on it, a ``SimClock`` that starts at the data's
  first timestamp (the pacer moves it: ``--speed max`` as fast as the machine goes);
* ``paper``: per configured real venue, its public feed (no keys: it can send
  nothing), a local ``QueueVenue`` the feed's books and trades drive (``LiveFeed``),
  and a ``SimConnector`` to that venue, on wall time. The engine only ever sees the
  ``SimConnector``: no order request can reach the real venue.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.base import Connector
from connectors.replay.spec import InstrumentSpec, ReplayVenueSpec
from connectors.replay.world import ReplayWorld
from connectors.sim.connector import SimConnector
from mmtui.config import Config, SimVenueConfig
from mmtui.config_modes import (
    DEFAULT_MAKER_FEE,
    DEFAULT_TAKER_FEE,
    FillModelConfig,
    ReplayVenueConfig,
)
from mmtui.core.clock import Clock, SimClock, WallClock
from mmtui.paper import PaperConnector, latency_spec, queue_spec
from mmtui.venue_factory import SessionError, public_feed


@dataclass(slots=True)
class ModeParts:
    clock: Clock
    world: Any
    connectors: dict[str, Connector]
    step_ms: int
    sample_ms: int
    paced: bool
    """True: a sim clock the pacer moves (replay); False: wall time (paper)."""
    report_dir: Path | None = None
    """Where the session's stop writes its report (replay.report_dir, paper.report_dir)."""


def mode_parts(config: Config, *, manual: bool, start_ms: int | None) -> ModeParts:
    if config.mode == "replay":
        return replay_parts(config, start_ms=start_ms)
    if config.mode == "paper":
        if manual:
            raise SessionError("a paper session runs on wall time, not on manual time")
        return paper_parts(config)
    raise SessionError(f"mode {config.mode}: no simulated fills")


def replay_specs(config: Config) -> list[ReplayVenueSpec]:
    """``replay.venues`` as the replay venue specs; none configured: one venue per
    exchange a strategy names (defaults throughout)."""
    venues = dict(config.replay.venues)
    if not venues:
        venues = {s.venue: ReplayVenueConfig() for s in config.strategies}
    if not venues:
        raise SessionError("mode replay: no replay venue (replay.venues, or a strategy's venue)")
    specs = []
    for name, v in venues.items():
        grids = v.instruments
        specs.append(
            ReplayVenueSpec(
                name=name,
                exchange=v.exchange,
                symbols=tuple(v.symbols) if v.symbols else None,
                instruments={
                    symbol: InstrumentSpec(
                        tick_size=g.tick_size,
                        step_size=g.step_size,
                        min_size=g.min_size,
                        base=g.base,
                        quote=g.quote,
                    )
                    for symbol, g in grids.items()
                },
                maker_fee=v.maker_fee if v.maker_fee is not None else DEFAULT_MAKER_FEE,
                taker_fee=v.taker_fee if v.taker_fee is not None else DEFAULT_TAKER_FEE,
                queue=queue_spec(v),
                latency=latency_spec(v),
                starting_collateral=v.collateral,
            )
        )
    return specs


def replay_parts(config: Config, *, start_ms: int | None) -> ModeParts:
    """The recorded data on a sim clock that starts at its first timestamp."""
    data = config.replay.data
    if data is None:
        raise SessionError("mode replay: no data directory (replay.data, or --data)")
    try:
        world = ReplayWorld(data.expanduser(), replay_specs(config))
    except (ValueError, OSError) as exc:  # ReplayDataError, TardisError: one line each
        raise SessionError(f"replay: {exc}") from None
    clock = SimClock(start_ms=world.start_ms)
    connectors: dict[str, Connector] = {
        name: SimConnector(venue, sleep=clock.sleep)  # type: ignore[arg-type]
        for name, venue in world.venues.items()
    }
    return ModeParts(
        clock=clock,
        world=world,
        connectors=connectors,
        step_ms=config.replay.step_ms,
        sample_ms=config.replay.sample_ms,
        paced=True,
        report_dir=config.replay.report_dir,
    )


def paper_parts(config: Config) -> ModeParts:
    """Each configured real venue's public feed behind a local paper venue."""
    connectors: dict[str, Connector] = {}
    for name, venue_cfg in config.venues.items():
        if isinstance(venue_cfg, SimVenueConfig):
            raise SessionError(f"mode paper: venue {name} is a sim venue")
        fill = config.paper.venues.get(name) or FillModelConfig()
        # Lighter's market list gives its fees; Backpack's and GRVT's connectors read none
        listed = venue_cfg.type == "lighter"
        defaults = None if listed else (DEFAULT_MAKER_FEE, DEFAULT_TAKER_FEE)
        connectors[name] = PaperConnector(name, public_feed(name, venue_cfg), fill, defaults)
    return ModeParts(
        clock=WallClock(),
        world=None,
        connectors=connectors,
        step_ms=config.sim.step_ms,
        sample_ms=config.paper.sample_ms,
        paced=False,
        report_dir=config.paper.report_dir,
    )


__all__ = ["ModeParts", "mode_parts", "paper_parts", "replay_parts", "replay_specs"]
