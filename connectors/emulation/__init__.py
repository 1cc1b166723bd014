"""Loopback venue emulators: a sim venue behind a real venue's wire protocol."""

from connectors.emulation.faults import FaultState, HttpFault
from connectors.emulation.harness import (
    EmulatorHarness,
    FaultInjector,
    VenueDialect,
    default_world,
)

__all__ = [
    "EmulatorHarness",
    "FaultInjector",
    "FaultState",
    "HttpFault",
    "VenueDialect",
    "default_world",
]
