"""GRVT as a contract rig: the GRVT emulator in its own thread (``EmulatorHarness``)
in front of the sim venue, and our real ``GrvtConnector`` logged in to it.

Another tool on the same account is grvt-pysdk's own synchronous client
(``GrvtRawSync``): it logs in with the account's API key, signs with the SDK's
``sign_order`` and places through GRVT's ``create_order``, with a client id of
its own."""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal

from pysdk import grvt_raw_types as t
from pysdk.grvt_raw_base import GrvtApiConfig
from pysdk.grvt_raw_env import GrvtEnv
from pysdk.grvt_raw_signing import sign_order
from pysdk.grvt_raw_sync import GrvtRawSync

from connectors.base import Connector, Side
from connectors.grvt.connector import GrvtConnector
from connectors.grvt.emulator import grvt_emulator, new_credentials
from connectors.grvt.keys import GrvtKeys
from connectors.grvt.rest import GrvtUrls
from connectors.sim.venue import FlowParams
from tests.contract.rig import ACCOUNT, VenueRig

BTC = "BTC_USDT_Perp"
ETH = "ETH_USDT_Perp"


class GrvtRig(VenueRig):
    name = "grvt"
    symbol = BTC
    other_symbol = ETH

    def __init__(self) -> None:
        self.sim_symbols = {BTC: "BTC-PERP", ETH: "ETH-PERP"}
        self.creds = new_credentials()
        self.harness = grvt_emulator(
            {self.creds.api_key: ACCOUNT},
            signers={self.creds.api_key: self.creds.address},
            sub_accounts={self.creds.api_key: self.creds.sub_account_id},
            flow=FlowParams(taker_rate=0.0),
            seed=5,
        )
        self.venue = self.harness.venue
        self.keys = GrvtKeys(self.creds.api_key, self.creds.sub_account_id, self.creds.private_key)
        self._foreign = 0

    async def start(self) -> None:
        await asyncio.to_thread(self.harness.start)

    async def stop(self) -> None:
        await asyncio.to_thread(self.harness.stop)

    def connector(self, run_prefix: str) -> Connector:
        return GrvtConnector(
            GrvtUrls.single(self.harness.base_url, self.harness.ws_url),
            self.keys,
            ws_backoff_base_s=0.05,
            ws_backoff_cap_s=0.5,
        )

    def call(self, fn):  # type: ignore[no-untyped-def]
        return self.harness.call(fn)

    # -- faults -----------------------------------------------------------------

    async def quiet_market(self) -> None:
        await asyncio.to_thread(self.harness.pause)

    async def freeze_feed(self, conn: Connector) -> None:
        self.harness.faults.freeze()

    async def thaw_feed(self, conn: Connector) -> None:
        self.harness.faults.thaw()

    def rate_limit_next(self, count: int, retry_after_s: float = 0.2) -> None:
        self.harness.faults.http_errors(count, status=429, retry_after_s=retry_after_s)

    async def drop_stream(self, conn: Connector) -> None:
        await asyncio.to_thread(self.harness.faults.close_sockets, abrupt=True)

    def drop_stream_on_next_fill(self, conn: Connector) -> None:
        self.harness.faults.close_sockets_on_next_fill()

    async def cancel_behind_our_back(self, conn: Connector, symbol: str) -> None:
        dialect = self.harness.dialect
        api_key = self.creds.api_key
        self.call(lambda: dialect.cancel_unheard(api_key, symbol))  # type: ignore[attr-defined]

    def drop_next_order(self) -> None:
        self.harness.faults.drop_next_order(self.creds.api_key)

    def lose_next_answer(self) -> None:
        self.harness.faults.lose_next_answer("place")

    def book_duplicate_client_ids(self) -> None:
        self.harness.faults.book_duplicate_client_ids(self.creds.api_key)

    def place_foreign(self, symbol: str, side: Side, size: Decimal, price: Decimal) -> str:
        """grvt-pysdk's synchronous client places with the account's keys and a plain
        client id of its own (below 2^63, as GRVT's UI and other tools use)."""
        self._foreign += 1
        cid = str(123_456_789 + self._foreign)
        config = GrvtApiConfig(
            GrvtEnv.TESTNET,
            self.creds.sub_account_id,
            self.creds.private_key,
            self.creds.api_key,
            logging.getLogger("tests.contract.grvt.sdk"),
        )
        raw = GrvtRawSync(config)
        base = self.harness.base_url
        raw.md_rpc = raw.td_rpc = raw.env.edge.rpc_endpoint = base
        inst = raw.get_instrument_v1(t.ApiGetInstrumentRequest(symbol))
        assert isinstance(inst, t.ApiGetInstrumentResponse), inst
        order = t.Order(
            sub_account_id=self.creds.sub_account_id,
            time_in_force=t.TimeInForce.GOOD_TILL_TIME,
            legs=[t.OrderLeg(symbol, str(size), side is Side.BUY, str(price))],
            signature=t.Signature("", "", "", 0, str(time.time_ns() + 3600 * 10**9), 42),
            metadata=t.OrderMetadata(client_order_id=cid),
        )
        sign_order(order, config, raw.account, {symbol: inst.result})
        created = raw.create_order_v1(t.ApiCreateOrderRequest(order))
        assert isinstance(created, t.ApiCreateOrderResponse), created
        return cid

    async def push_raw(self, conn: Connector, text: str) -> bool:
        dialect = self.harness.dialect
        return self.call(lambda: dialect.send_raw(text, private=True)) > 0  # type: ignore[attr-defined]
