"""``GrvtDialect``: the GRVT emulator assembled on the emulation kit, and
``grvt_emulator(...)``, the harness that runs it."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from functools import partial
from typing import Any

from aiohttp import web

from connectors.emulation.accounts import AccountFanout
from connectors.emulation.faults import FaultState, HttpFault
from connectors.emulation.harness import EmulatorHarness, VenueDialect, default_world
from connectors.grvt.emulator.feed import GrvtFeed
from connectors.grvt.emulator.rest import GrvtRoutes
from connectors.grvt.emulator.state import GrvtState, Market, User
from connectors.grvt.emulator.tx import GrvtExchange
from connectors.grvt.emulator.wire import GrvtErr, envelope, order_json
from connectors.sim.venue import FlowParams, SimVenue
from connectors.sim.world import SimWorld

MAX_OPEN_ORDERS = 500
"""Open orders per sub-account before 2090 (GRVT publishes no number: a guess)."""


class GrvtDialect(VenueDialect):
    def __init__(
        self,
        venue: SimVenue,
        accounts: Mapping[str, str],
        faults: FaultState,
        *,
        ping_interval_s: float = 60.0,
        signers: Mapping[str, str] | None = None,
        sub_accounts: Mapping[str, str] | None = None,
        chain_id: int = 326,
        cookie_ttl_s: float = 24 * 3600,
        min_notional: Mapping[str, Decimal] | None = None,
        max_open_orders: int = MAX_OPEN_ORDERS,
    ) -> None:
        super().__init__(venue, accounts, faults, ping_interval_s=ping_interval_s)
        self.chain_id = chain_id
        self.state = GrvtState(
            venue.instruments,
            self.accounts,
            venue=venue.name,
            signers=signers or {},
            sub_accounts=sub_accounts or {},
            min_notional=min_notional,
        )
        self.feed = GrvtFeed(
            venue,
            self.state,
            faults,
            positions=self._position_feeds,
            ping_interval_s=ping_interval_s,
        )
        self.sockets = self.feed.sockets
        self.exchange = GrvtExchange(
            venue,
            self.state,
            self.feed.push_private,
            chain_id=chain_id,
            max_open_orders=max_open_orders,
        )
        self.routes = GrvtRoutes(
            self.state, self.exchange, self.feed, faults, cookie_ttl_s=cookie_ttl_s
        )
        self.fanout: AccountFanout[User] = AccountFanout(
            venue,
            faults,
            on_order=self.exchange.on_order,
            on_fill=self.exchange.on_fill,
            on_position=self.exchange.on_position,
            drop_sockets=self.sockets.abort_all,
            label="grvt emulator",
        )
        for user in self.state.users.values():
            self.fanout.attach(user.account, user)
        venue.on_book(self.feed.on_book)
        venue.on_trade(self.feed.on_trade)
        venue.on_heartbeat(self.exchange.on_heartbeat)

    def _position_feeds(self, user: User) -> list[dict[str, Any]]:
        return [self.exchange.position(user, p, "ws") for p in self.exchange.positions(user)]

    @property
    def markets(self) -> dict[str, Market]:
        return self.state.markets

    @property
    def dead_man_triggered(self) -> int:
        return self.exchange.dead_man_triggered

    def sub_account_id(self, api_key: str) -> str:
        return self.state.users[api_key].sub_account_id

    # -- test hooks (call on the emulator loop: harness.call) ---------------------

    def expire_sessions(self) -> int:
        """End every login session now (the next call gets 401/1000)."""
        n = len(self.state.sessions)
        self.state.sessions.clear()
        return n

    def send_raw(self, text: str, *, private: bool = False) -> int:
        """Push ``text`` as-is to every open socket (only to the private, logged-in
        ones with ``private``): malformed-frame tests."""
        return self.feed.send_raw(text, private=private)

    def cancel_unheard(self, api_key: str, wire_symbol: str) -> int:
        """Drop every socket, then cancel the account's live orders on ``wire_symbol``
        (as another session or the venue could): nobody hears the cancels. Returns
        how many were cancelled."""
        self.sockets.abort_all()
        m = self.state.markets[wire_symbol]
        user = self.state.users[api_key]
        return self.exchange.cancel_all(user, [m], "CLIENT_BULK_CANCEL")

    def orders_of(self, account: str, *, live: bool = True) -> list[dict[str, Any]]:
        return [
            order_json(o, "rest")
            for o in self.state.orders.values()
            if o.user.account == account and (o.live or not live)
        ]

    # -- harness hooks ----------------------------------------------------------------

    @property
    def ws_path(self) -> str:
        return "/ws"

    def install(self, app: web.Application) -> None:
        self.routes.install(app)

    def fault_response(self, fault: HttpFault) -> web.StreamResponse:
        if fault.status == 429:
            resp = envelope(
                GrvtErr(1006, "You have surpassed the allocated rate limit for your tier", 429)
            )
            if fault.retry_after_s is not None:
                resp.headers["Retry-After"] = str(max(0, round(fault.retry_after_s)))
            return resp
        resp = envelope(GrvtErr(1002, "Internal Server Error", 500))
        resp.set_status(fault.status)
        return resp


def grvt_emulator(
    accounts: Mapping[str, str],
    *,
    signers: Mapping[str, str],
    sub_accounts: Mapping[str, str] | None = None,
    world: SimWorld | None = None,
    flow: FlowParams | None = None,
    seed: int = 1,
    venue: str = "grvt",
    chain_id: int = 326,
    cookie_ttl_s: float = 24 * 3600,
    min_notional: Mapping[str, Decimal] | None = None,
    max_open_orders: int = MAX_OPEN_ORDERS,
    **kwargs: Any,
) -> EmulatorHarness:
    """An (unstarted) harness serving the GRVT dialect; use as a context manager.

    ``accounts`` maps API keys to sim account names, ``signers`` each API key to
    the wallet address its orders must be signed with, ``sub_accounts`` each API
    key to its sub-account id (default: generated; ``dialect.sub_account_id``),
    ``min_notional`` a base asset to its minimum order value (BTC and ETH default
    to ``DEFAULT_MIN_NOTIONAL``, the others list none)."""
    world = world or default_world(venue, flow=flow, seed=seed)
    dialect = partial(
        GrvtDialect,
        signers=signers,
        sub_accounts=sub_accounts,
        chain_id=chain_id,
        cookie_ttl_s=cookie_ttl_s,
        min_notional=min_notional,
        max_open_orders=max_open_orders,
    )
    return EmulatorHarness(dialect, accounts=accounts, world=world, venue=venue, **kwargs)


__all__ = ["MAX_OPEN_ORDERS", "GrvtDialect", "grvt_emulator"]
