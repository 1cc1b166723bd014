"""Backpack as a contract rig: the Backpack emulator (a SimVenue behind Backpack's
REST and WebSocket API) in its own thread, and the real ``BackpackConnector``."""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

import orjson

from connectors.backpack.connector import BackpackConnector
from connectors.backpack.emulator import BackpackDialect, backpack_emulator
from connectors.backpack.keys import BackpackKeys
from connectors.backpack.signing import auth_headers
from connectors.base import Connector, Side
from connectors.sim.venue import FlowParams
from tests.contract.rig import ACCOUNT, VenueRig

T = TypeVar("T")

SECRET = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="
"""The signing test vector's seed (tests/backpack/test_signing.py)."""
FOREIGN_CLIENT_ID = 123_456_789
"""Another tool's client id: a plain uint32, as ccxt's recorded open order shows."""


class BackpackRig(VenueRig):
    name = "backpack"
    symbol = "BTC_USDC_PERP"
    other_symbol = "ETH_USDC_PERP"

    def __init__(self) -> None:
        self.sim_symbols = {"BTC_USDC_PERP": "BTC-PERP", "ETH_USDC_PERP": "ETH-PERP"}
        self.keys = BackpackKeys(SECRET)
        self.harness = backpack_emulator(
            {self.keys.api_key: ACCOUNT}, flow=FlowParams(taker_rate=0.0), seed=5
        )
        self.venue = self.harness.venue
        self._foreign = 0

    @property
    def dialect(self) -> BackpackDialect:
        dialect = self.harness.dialect
        assert isinstance(dialect, BackpackDialect)
        return dialect

    async def start(self) -> None:
        await asyncio.to_thread(self.harness.start)

    async def stop(self) -> None:
        await asyncio.to_thread(self.harness.stop)

    def connector(self, run_prefix: str) -> Connector:
        return BackpackConnector(
            self.harness.base_url,
            self.harness.ws_url,
            self.keys,
            run_prefixes=(run_prefix,),
            ws_backoff_base_s=0.05,
            ws_backoff_cap_s=0.5,
        )

    def call(self, fn: Callable[[], T]) -> T:
        return self.harness.call(fn)

    # -- faults -------------------------------------------------------------------------

    async def quiet_market(self) -> None:
        await asyncio.to_thread(self.harness.pause)

    async def freeze_feed(self, conn: Connector) -> None:
        self.harness.faults.freeze()

    async def thaw_feed(self, conn: Connector) -> None:
        self.harness.faults.thaw()

    def rate_limit_next(self, count: int, retry_after_s: float = 0.2) -> None:
        self.harness.faults.http_errors(count, status=429, retry_after_s=retry_after_s)

    async def drop_stream(self, conn: Connector) -> None:
        await asyncio.to_thread(self.harness.faults.close_sockets)

    def drop_stream_on_next_fill(self, conn: Connector) -> None:
        self.harness.faults.close_sockets_on_next_fill()

    async def cancel_behind_our_back(self, conn: Connector, symbol: str) -> None:
        """Drop our sockets and cancel our resting orders on ``symbol`` in one step on
        the emulator's loop, so no cancel update can reach us; we reconnect by ourselves."""
        sim = self.sim_symbols[symbol]

        def behind() -> None:
            self.dialect.sockets.abort_all()
            self.venue.cancel_all(ACCOUNT, sim)

        await asyncio.to_thread(self.call, behind)

    def drop_next_order(self) -> None:
        self.harness.faults.drop_next_order(self.keys.api_key)

    def lose_next_answer(self) -> None:
        self.harness.faults.lose_next_answer("place")

    def book_duplicate_client_ids(self) -> None:
        self.harness.faults.book_duplicate_client_ids(self.keys.api_key)

    def place_foreign(self, symbol: str, side: Side, size: Decimal, price: Decimal) -> str:
        """Another tool on our account: a signed ``POST /api/v1/order`` with its own
        plain integer client id, straight to the venue's API (blocking: the venue runs
        in its own thread)."""
        self._foreign += 1
        cid = FOREIGN_CLIENT_ID + self._foreign - 1
        inst = self.venue.instruments[self.sim_symbols[symbol]]
        body = {
            "clientId": cid,
            "orderType": "Limit",
            "price": format(price.quantize(inst.tick_size), "f"),
            "quantity": format(size.quantize(inst.step_size), "f"),
            "side": "Bid" if side is Side.BUY else "Ask",
            "symbol": symbol,
            "timeInForce": "GTC",
        }
        headers = auth_headers(self.keys, "orderExecute", body, int(time.time() * 1000))
        request = urllib.request.Request(
            self.harness.base_url + "/api/v1/order",
            data=orjson.dumps(body),
            headers=headers | {"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                answer = orjson.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"foreign order refused: {exc.read()!r}") from None
        assert answer["status"] == "New" and answer["clientId"] == cid, answer
        return str(answer["clientId"])

    async def push_raw(self, conn: Connector, text: str) -> bool:
        return self.harness.call(lambda: self.dialect.push_raw(ACCOUNT, text)) > 0

    def liquidate(self, symbol: str, side: Side, size: Decimal, price: Decimal) -> None:
        self.harness.faults.liquidate(
            self.keys.api_key, self.sim_symbols[symbol], side, size, price
        )
