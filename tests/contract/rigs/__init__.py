"""Every venue the contract suite runs: add a rig here and the whole suite runs on it."""

from __future__ import annotations

from collections.abc import Callable

from tests.contract.rig import VenueRig
from tests.contract.rigs.backpack import BackpackRig
from tests.contract.rigs.grvt import GrvtRig
from tests.contract.rigs.lighter import LighterRig
from tests.contract.rigs.sim import SimRig

RIGS: dict[str, Callable[[], VenueRig]] = {
    "sim": SimRig,
    "backpack": BackpackRig,
    "grvt": GrvtRig,
    "lighter": LighterRig,
}
