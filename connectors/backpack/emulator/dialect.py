"""The Backpack dialect: a ``SimVenue`` behind Backpack's REST and WebSocket API,
run by ``connectors.emulation.EmulatorHarness``::

    with backpack_emulator({api_key: "alice"}) as emu:
        rest = emu.base_url          # http://127.0.0.1:PORT
        ws = emu.ws_url              # ws://127.0.0.1:PORT/

The sim's ``BTC-PERP`` is ``BTC_USDC_PERP``; every signed request is verified with
ED25519 over the reconstructed signing string. What it models and where each
form comes from: ``docs/venues/backpack.md``; the emulator's own decisions where
the venue is unknown are listed there as guesses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from connectors.backpack.emulator.auth import Auth
from connectors.backpack.emulator.events import AccountEvents
from connectors.backpack.emulator.feed import Feed
from connectors.backpack.emulator.rest import RestApi
from connectors.backpack.emulator.state import State
from connectors.backpack.emulator.wire import (
    BackpackError,
    fault_answer,
    render_refusal,
    server_error,
)
from connectors.emulation.faults import FaultState, HttpFault
from connectors.emulation.harness import EmulatorHarness, VenueDialect, default_world
from connectors.emulation.rest import Routes
from connectors.sim.venue import FlowParams, SimVenue
from connectors.sim.world import SimWorld


class BackpackDialect(VenueDialect):
    def __init__(
        self,
        venue: SimVenue,
        accounts: Mapping[str, str],
        faults: FaultState,
        *,
        ping_interval_s: float = 60.0,
    ) -> None:
        super().__init__(venue, accounts, faults, ping_interval_s=ping_interval_s)
        self.auth = Auth(self.accounts)
        self.state = State(venue, self.accounts)
        self.feed = Feed(venue, self.state, self.auth, faults)
        self.sockets = self.feed.sockets
        self.events = AccountEvents(venue, self.state, self.feed, faults)
        self.events.attach(set(self.accounts.values()))
        routes = Routes(
            "backpack",
            faults,
            refusal=BackpackError,
            render_refusal=render_refusal,
            server_error=server_error,
        )
        self.rest = RestApi(venue, self.state, self.auth, self.events, routes)

    @property
    def markets(self) -> dict[str, Any]:
        return self.state.markets

    def install(self, app: web.Application) -> None:
        app.router.add_get("/", self._ws)
        self.rest.install(app)

    def fault_response(self, fault: HttpFault) -> web.StreamResponse:
        return fault_answer(fault)

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        return await self.feed.serve(request, self.ping_interval_s)

    # -- test hooks (call on the harness loop: ``harness.call``) ------------------------

    def push_raw(self, account: str, text: str) -> int:
        """Send ``text`` as a frame on the account's private streams."""
        return self.feed.push_raw(account, text)

    def defer_next_cancels(self, count: int = 1) -> None:
        """Answer the next ``count`` cancels 202 with no body, cancelling a moment later."""
        self.rest.defer_cancels += count


def backpack_emulator(
    accounts: Mapping[str, str],
    *,
    world: SimWorld | None = None,
    flow: FlowParams | None = None,
    seed: int = 1,
    venue: str = "backpack",
    **kwargs: Any,
) -> EmulatorHarness:
    """An (unstarted) harness serving a Backpack dialect; use as a context manager.
    ``accounts`` maps API keys (base64 ED25519 public keys) to sim account names."""
    world = world or default_world(venue, flow=flow, seed=seed)
    return EmulatorHarness(BackpackDialect, accounts=accounts, world=world, venue=venue, **kwargs)


__all__ = ["BackpackDialect", "backpack_emulator"]
