"""Lighter as a contract rig: the Lighter emulator (``connectors.lighter.emulator``) in its
own thread behind our real ``LighterConnector`` (lighter-sdk signing and nonces).

* The sim account ``me`` is Lighter account 281 with two API keys: key 3 is ours (the
  connector's), key 4 another tool's (``place_foreign`` sends with it through the SDK's
  ``SignerClient``, as a second program on the same account would).
* ``lose_next_answer`` loses the answer of the next ``sendTx`` (the route the emulator
  names ``"sendTx"``): the tx was taken, its answer is dropped, and the emulator keeps it
  queued at the sequencer a while (``lost_answer_delay_ms``), so the connector's re-read of
  ``nextNonce`` cannot see it executed yet: an unknown outcome. When the re-read does see
  it executed, the connector knows it was sent and answers PENDING instead
  (tests/lighter/test_truth.py covers that branch).
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from decimal import Decimal
from typing import Any, TypeVar

from connectors.base import Connector, Side
from connectors.emulation.harness import DEFAULT_ASSETS, EmulatorHarness
from connectors.lighter.connector import LighterConnector
from connectors.lighter.emulator import TX_ROUTE, LighterKey, lighter_emulator
from connectors.lighter.keys import LighterKeys
from connectors.sim.market import BasisDynamics
from connectors.sim.venue import FlowParams
from connectors.sim.world import SimWorld, VenueSpec
from mmtui.emulate import new_lighter_key
from tests.contract.rig import ACCOUNT, VenueRig

T = TypeVar("T")

ACCOUNT_INDEX = 281
OUR_KEY = 3
FOREIGN_KEY = 4
FOREIGN_CLIENT_INDEX = 123_456_789
MARKETS = {"BTC": 1, "ETH": 0}
STILL = [dataclasses.replace(a, volatility=0.0) for a in DEFAULT_ASSETS]
"""A market that does not move by itself (no volatility, no basis drift, no takers): the
emulator answers over sockets while the sim steps every 100 ms, so a quote one tick inside
the book must still be the touch when a test takes it (the in-process sim takes it before
the next step)."""


class LighterRig(VenueRig):
    name = "lighter"
    symbol = "BTC"
    other_symbol = "ETH"

    def __init__(
        self, *, connector_options: dict[str, Any] | None = None, **emulator_options: Any
    ) -> None:
        self.emulator_options = emulator_options
        """More ``lighter_emulator`` arguments (tests of Lighter's own behaviour)."""
        self.connector_options = connector_options or {}
        """More ``LighterConnector`` arguments (tier, batch_txs, dead_man_switch_s...)."""
        self.sim_symbols = {"BTC": "BTC-PERP", "ETH": "ETH-PERP"}
        self.harness: EmulatorHarness | None = None
        self._keys: dict[int, str] = {}
        self._connectors: list[LighterConnector] = []
        self._foreign = 0

    # -- life -------------------------------------------------------------------------

    async def start(self) -> None:
        self.harness = await asyncio.to_thread(self._start)
        self.venue = self.harness.venue

    def _start(self) -> EmulatorHarness:
        emulator_keys = []
        for index in (OUR_KEY, FOREIGN_KEY):
            private, public = new_lighter_key()
            self._keys[index] = private
            emulator_keys.append(
                LighterKey(ACCOUNT_INDEX, index, public.removeprefix("0x"), ACCOUNT)
            )
        venue = VenueSpec(
            "lighter", flow=FlowParams(taker_rate=0.0), basis=BasisDynamics(sigma=0.0)
        )
        world = SimWorld(STILL, [venue], seed=5)
        return lighter_emulator(emulator_keys, world=world, **self.emulator_options).start()

    async def stop(self) -> None:
        for conn in self._connectors:
            await conn.close()
        if self.harness is not None:
            await asyncio.to_thread(self.harness.stop)

    def connector(self, run_prefix: str) -> Connector:
        h = self._harness
        conn = LighterConnector(
            h.base_url,
            h.ws_url,
            LighterKeys(ACCOUNT_INDEX, OUR_KEY, self._keys[OUR_KEY]),
            run_prefixes=(run_prefix,),
            **self.connector_options,
        )
        self._connectors.append(conn)
        return conn

    def call(self, fn: Any) -> Any:
        return self._harness.call(fn)

    def stat(self, name: str) -> Any:
        """One of the emulator's counters (``LighterEmulatorStats``)."""
        h = self._harness
        return h.call(lambda: getattr(h.dialect.stats, name))

    @property
    def _harness(self) -> EmulatorHarness:
        assert self.harness is not None, "the rig is not started"
        return self.harness

    @property
    def _api_key(self) -> str:
        return f"{ACCOUNT_INDEX}:{OUR_KEY}"

    # -- faults -----------------------------------------------------------------------

    async def quiet_market(self) -> None:
        await asyncio.to_thread(self._harness.pause)

    async def freeze_feed(self, conn: Connector) -> None:
        self._harness.faults.freeze()

    async def thaw_feed(self, conn: Connector) -> None:
        self._harness.faults.thaw()

    def rate_limit_next(self, count: int, retry_after_s: float = 0.2) -> None:
        self._harness.faults.http_errors(count, status=429, retry_after_s=retry_after_s)

    async def drop_stream(self, conn: Connector) -> None:
        await asyncio.to_thread(self._harness.faults.close_sockets, abrupt=True)

    def drop_stream_on_next_fill(self, conn: Connector) -> None:
        self._harness.faults.close_sockets_on_next_fill()

    async def cancel_behind_our_back(self, conn: Connector, symbol: str) -> None:
        """Every socket drops and, in the same turn of the venue's loop, our orders on
        ``symbol`` are cancelled: the updates go to nobody; the connector reconnects."""
        h = self._harness
        sim = self.sim_symbols[symbol]

        def act() -> None:
            h.dialect.sockets.abort_all()
            h.venue.cancel_all(ACCOUNT, sim)

        self.call(act)

    def drop_next_order(self) -> None:
        self._harness.faults.drop_next_order(self._api_key)

    def lose_next_answer(self) -> None:
        self._harness.faults.lose_next_answer(TX_ROUTE)

    def book_duplicate_client_ids(self) -> None:
        self._harness.faults.book_duplicate_client_ids(self._api_key)

    def foreign_signer(self, fn: Any) -> Any:
        """Run ``await fn(client)`` with another program's ``SignerClient`` (the account's
        other API key), in a thread of its own; its result."""
        result: dict[str, Any] = {}

        async def run() -> None:
            import lighter

            client = lighter.SignerClient(
                url=self._harness.base_url,
                account_index=ACCOUNT_INDEX,
                api_private_keys={FOREIGN_KEY: self._keys[FOREIGN_KEY]},
            )
            try:
                result["answer"] = await fn(client)
            finally:
                await client.close()

        thread = threading.Thread(target=lambda: asyncio.run(run()), name="foreign tool")
        thread.start()
        thread.join(30)
        return result["answer"]

    def place_foreign(self, symbol: str, side: Side, size: Decimal, price: Decimal) -> str:
        """Another program with its own API key of the account sends a post-only limit
        order through the SDK (in a thread of its own: this is called from the suite's
        loop, and the venue answers on another)."""
        self._foreign += 1
        index = FOREIGN_CLIENT_INDEX + self._foreign
        price_dp, size_dp = self.call(lambda: self._harness.dialect.market_decimals(symbol))

        async def send(client: Any) -> Any:
            _, resp, err = await client.create_order(
                MARKETS[symbol],
                index,
                int(size.scaleb(size_dp)),
                int(price.scaleb(price_dp)),
                side is Side.SELL,
                client.ORDER_TYPE_LIMIT,
                client.ORDER_TIME_IN_FORCE_POST_ONLY,
            )
            return resp, err

        resp, err = self.foreign_signer(send)
        assert err is None and resp.code == 200, (resp, err)
        return str(index)

    async def push_raw(self, conn: Connector, text: str) -> bool:
        return self.call(lambda: self._harness.dialect.push_raw(text)) > 0
