"""Loopback venue emulators: a sim venue behind a real venue's wire protocol."""

from connectors.emulation.accounts import AccountFanout, sim_mid
from connectors.emulation.faults import FaultState, HttpFault, LostAnswer
from connectors.emulation.harness import (
    EmulatorHarness,
    FaultInjector,
    VenueDialect,
    default_world,
)
from connectors.emulation.hub import SubscriptionHub
from connectors.emulation.rest import Routes, json_answer

__all__ = [
    "AccountFanout",
    "EmulatorHarness",
    "FaultInjector",
    "FaultState",
    "HttpFault",
    "LostAnswer",
    "Routes",
    "SubscriptionHub",
    "VenueDialect",
    "default_world",
    "json_answer",
    "sim_mid",
]
