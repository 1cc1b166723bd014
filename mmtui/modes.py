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

from dataclasses import dataclass, field
from typing import Any

from connectors.base import Connector
from mmtui.config import Config
from mmtui.core.clock import Clock
from mmtui.venue_factory import SessionError


@dataclass(slots=True)
class ModeParts:
    clock: Clock
    world: Any
    connectors: dict[str, Connector]
    step_ms: int
    sample_ms: int
    paced: bool
    """True: a sim clock the pacer moves (replay); False: wall time (paper)."""
    services: list[Any] = field(default_factory=list)


def mode_parts(config: Config, *, manual: bool, start_ms: int | None) -> ModeParts:
    if config.mode == "replay":
        return replay_parts(config, start_ms=start_ms)
    if config.mode == "paper":
        if manual:
            raise SessionError("a paper session runs on wall time, not on manual time")
        return paper_parts(config)
    raise SessionError(f"mode {config.mode}: no simulated fills")


def replay_parts(config: Config, *, start_ms: int | None) -> ModeParts:
    raise SessionError("mode replay: the replay venue (connectors/replay) is not in this build")


def paper_parts(config: Config) -> ModeParts:
    raise SessionError("mode paper: the replay venue (connectors/replay) is not in this build")


__all__ = ["ModeParts", "mode_parts", "paper_parts", "replay_parts"]
