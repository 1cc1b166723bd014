"""The embedded sim venue as a contract rig: the SimVenue in this loop, stepped on
wall time, and the in-process ``SimConnector``."""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal

from connectors.base import Connector, OrderRequest, Side
from connectors.emulation.harness import default_world
from connectors.sim.connector import SimConnector
from connectors.sim.venue import FlowParams
from mmtui.core.clock import WallClock
from tests.contract.rig import ACCOUNT, VenueRig


class SimRig(VenueRig):
    name = "sim"
    symbol = "BTC-PERP"
    other_symbol = "ETH-PERP"
    supports_raw_frames = False

    def __init__(self) -> None:
        self.sim_symbols = {"BTC-PERP": "BTC-PERP", "ETH-PERP": "ETH-PERP"}
        self.world = default_world("sim", flow=FlowParams(taker_rate=0.0), seed=5)
        self.venue = self.world.venues["sim"]
        self._task: asyncio.Task[None] | None = None
        self._connectors: list[SimConnector] = []
        self._foreign = 0

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(
            self.world.run(WallClock(), 100), name="sim rig world"
        )
        await asyncio.sleep(0)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def quiet_market(self) -> None:
        """Step the venue (crowd, heartbeats) but no longer the market: the mid holds."""
        await self.stop()
        self._task = asyncio.get_running_loop().create_task(self._venue_only(), name="sim rig")

    async def _venue_only(self) -> None:
        clock = WallClock()
        while True:
            await clock.sleep(0.1)
            self.venue.step(clock.now_ms(), 100)

    async def freeze_feed(self, conn: Connector) -> None:
        assert isinstance(conn, SimConnector)
        conn.silent = True

    async def thaw_feed(self, conn: Connector) -> None:
        assert isinstance(conn, SimConnector)
        conn.silent = False

    def connector(self, run_prefix: str) -> Connector:
        conn = SimConnector(self.venue, account=ACCOUNT)
        self._connectors.append(conn)
        return conn

    def rate_limit_next(self, count: int, retry_after_s: float = 0.2) -> None:
        raise NotImplementedError("the in-process sim has no rate limit to hit")

    async def drop_stream(self, conn: Connector) -> None:
        assert isinstance(conn, SimConnector)
        conn.drop_stream()
        loop = asyncio.get_running_loop()
        loop.call_later(0.3, conn.restore_stream)

    def drop_stream_on_next_fill(self, conn: Connector) -> None:
        assert isinstance(conn, SimConnector)
        conn.reconnect_after_s = 0.3
        conn.drop_stream_on_next_fill = True

    async def cancel_behind_our_back(self, conn: Connector, symbol: str) -> None:
        assert isinstance(conn, SimConnector)
        conn.drop_stream()
        self.venue.cancel_all(ACCOUNT, self.sim_symbols[symbol])
        asyncio.get_running_loop().call_later(0.3, conn.restore_stream)

    def drop_next_order(self) -> None:
        self.venue.drop_next[ACCOUNT] = self.venue.drop_next.get(ACCOUNT, 0) + 1

    def lose_next_answer(self) -> None:
        for conn in self._connectors:
            conn.lose_next_answers += 1

    def book_duplicate_client_ids(self) -> None:
        self.venue.duplicate_client_ids.add(ACCOUNT)

    def place_foreign(self, symbol: str, side: Side, size: Decimal, price: Decimal) -> str:
        self._foreign += 1
        cid = str(123_456_789 + self._foreign)
        ack = self.venue.submit(ACCOUNT, OrderRequest(cid, symbol, side, size, price=price))
        assert ack.venue_order_id, ack
        return cid

    async def push_raw(self, conn: Connector, text: str) -> bool:
        return False
