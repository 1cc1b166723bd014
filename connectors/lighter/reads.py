"""What the Lighter connector reads over REST (``rest.LighterRest``): the markets, the
account's orders, its fill history, positions and balance.

* Looking orders up: ``accountOrders`` by client order index, then the market's
  ``accountActiveOrders`` and ``accountInactiveOrders`` pages (``next_cursor``).
* Fill history: ``trades`` for the account, newest first, every page back to the asked
  time. Stream and history build fills with the same function (``trade_fills``: same
  trade ids).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from connectors.base import (
    AccountState,
    Balance,
    ConnectorStats,
    Fill,
    Instrument,
    OpenOrder,
    Position,
)
from connectors.common.errors import ErrorCode, VenueError
from connectors.common.units import epoch_ms
from connectors.lighter import wire
from connectors.lighter.account import account_state, funding_rates
from connectors.lighter.clientids import ClientIndexes
from connectors.lighter.markets import LighterMarkets
from connectors.lighter.pacing import Priority
from connectors.lighter.rest import LighterRest

log = logging.getLogger("connectors.lighter")

PAGE = 100
"""The venue's largest page of ``trades`` / ``accountInactiveOrders`` (NautilusTrader:
a larger ``limit`` is refused with 20001)."""
INACTIVE_PAGES = 20
"""How far back a lookup reads a market's inactive orders before it says it cannot tell."""


class LighterReads:
    def __init__(
        self,
        venue: str,
        account: int,
        rest: LighterRest,
        markets: LighterMarkets,
        ids: ClientIndexes,
        stats: ConnectorStats,
    ) -> None:
        self.venue = venue
        self.account = account
        self.rest = rest
        self.markets = markets
        self.ids = ids
        self.stats = stats

    async def instruments(self) -> dict[str, Instrument]:
        """``orderBookDetails`` once; the markets after that."""
        if not self.markets.instruments:
            self.markets.load(await self.rest.get("/api/v1/orderBookDetails"))
            self._latency()
        return self.markets.instruments

    def trade_fills(self, t: Any) -> list[Fill]:
        """The account's fills in one trade of the stream or the history."""
        if not isinstance(t, dict):
            raise ValueError(f"trade {t!r} is not an object")
        m = self.markets.by_id.get(int(t["market_id"]))
        if m is None:
            return []
        return wire.account_fills(self.venue, m.symbol, t, self.account, self.ids.from_index)

    async def open_orders(self, markets: list[wire.Market]) -> list[OpenOrder]:
        """``accountActiveOrders`` of each market (the venue wants ``market_id``), every
        page; an order that cannot be read is skipped (logged)."""
        out: list[OpenOrder] = []
        for m in markets:
            # the listing that finds and verifies cancels (shutdown, flatten, reconcile):
            # ranked with cancels in the tier's budget
            for o in await self._active_orders(m, Priority.CANCEL):
                try:
                    if wire.order_status(o).is_terminal:
                        continue
                    out.append(wire.open_order(self.venue, m.symbol, o, self.ids.of_order(o)))
                except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
                    log.warning("%s: open order skipped (%r): %s", self.venue, exc, o)
        return out

    async def find(self, m: wire.Market, index: int) -> dict[str, Any] | None:
        """The venue's order with client order ``index`` on market ``m`` (a live one,
        else the newest): by client index, then the market's active and inactive lists."""
        found = await self._by_client_index(m, index)
        if found is None:
            found = _pick(o for o in await self._active_orders(m) if _is(o, m, index))
        if found is None:
            async for page in self.rest.pages(
                "/api/v1/accountInactiveOrders",
                {"account_index": self.account, "market_id": m.market_id, "limit": PAGE},
                "orders",
                private=True,
                max_pages=INACTIVE_PAGES,
            ):
                found = _pick(o for o in page if _is(o, m, index))
                if found is not None:
                    break
        self._latency()
        return found

    async def fills_since(self, since_ms: int, market: wire.Market | None = None) -> list[Fill]:
        """``trades`` of the account, newest first, page after page until the trades are
        older than ``since_ms`` (or the venue has no more)."""
        params: dict[str, Any] = {
            "account_index": self.account,
            "sort_by": "timestamp",
            "sort_dir": "desc",
            "limit": PAGE,
        }
        if market is not None:
            params["market_id"] = market.market_id
        fills: dict[str, Fill] = {}
        async for page in self.rest.pages("/api/v1/trades", params, "trades", private=True):
            oldest: int | None = None
            for t in page:
                ts = epoch_ms(t.get("timestamp") if isinstance(t, dict) else None, "ms")
                oldest = ts if oldest is None else min(oldest, ts)
                if ts < since_ms:
                    continue
                for fill in self.trade_fills(t):
                    fills[fill.trade_id] = fill
            if oldest is not None and oldest < since_ms:
                break
        self._latency()
        return sorted(fills.values(), key=lambda f: (f.ts_ms, _trade_order(f.trade_id)))

    async def positions(self) -> list[Position]:
        account = await self._account()
        out: list[Position] = []
        now = int(time.time() * 1000)
        for p in wire.items(account, "positions"):
            try:
                m = self.markets.by_id.get(int(p["market_id"]))
                if m is None:
                    continue
                pos = wire.position(self.venue, m.symbol, p, now)
            except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
                log.warning("%s: position skipped (%r): %s", self.venue, exc, p)
                continue
            if pos.size != 0:
                out.append(pos)
        return out

    async def balances(self) -> list[Balance]:
        account = await self._account()
        try:
            return [wire.balance(self.venue, account)]
        except (TypeError, ValueError, ArithmeticError) as exc:
            log.warning("%s: balance unreadable (%r)", self.venue, exc)
            return []

    async def read_account(self, symbols: list[str]) -> AccountState:
        """The account and Lighter's funding rates (``account.py``)."""
        account = await self._account()
        answer = await self.rest.get("/api/v1/funding-rates")
        try:
            rates = funding_rates(answer, self.markets.by_id)
            return account_state(
                self.venue, account, rates, self.markets.by_id, symbols, int(time.time() * 1000)
            )
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise VenueError(
                f"{self.venue}: account unreadable ({exc!r})", code=ErrorCode.BAD_ANSWER
            ) from None

    # -- requests ---------------------------------------------------------------------

    def _latency(self) -> None:
        self.stats.latency_ms = self.rest.latency_ms

    async def _active_orders(
        self, m: wire.Market, priority: int = Priority.QUERY
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        async for page in self.rest.pages(
            "/api/v1/accountActiveOrders",
            {"account_index": self.account, "market_id": m.market_id},
            "orders",
            private=True,
            priority=priority,
        ):
            out.extend(o for o in page if isinstance(o, dict))
        self._latency()
        return out

    async def _by_client_index(self, m: wire.Market, index: int) -> dict[str, Any] | None:
        """``accountOrders``: the account's orders by client order index (the venue keeps
        the last 10K active and the last 1K inactive of 24 h there)."""
        try:
            resp = await self.rest.get(
                "/api/v1/accountOrders",
                {"account_index": self.account, "client_order_indexes": index},
                private=True,
            )
        except VenueError as exc:
            if exc.code != ErrorCode.NOT_FOUND:
                raise
            return None  # not served there: the market's lists say
        return _pick(o for o in wire.items(resp, "orders") if _is(o, m, index))

    async def _account(self) -> dict[str, Any]:
        resp = await self.rest.get("/api/v1/account", {"by": "index", "value": self.account})
        self._latency()
        accounts = wire.items(resp, "accounts")
        if not accounts or not isinstance(accounts[0], dict):
            raise VenueError(
                f"{self.venue}: account {self.account} not found", code=ErrorCode.NOT_FOUND
            )
        return accounts[0]


def _is(o: Any, m: wire.Market, index: int) -> bool:
    if not isinstance(o, dict) or wire.client_index(o) != index:
        return False
    try:
        return int(o.get("market_index", m.market_id)) == m.market_id
    except (TypeError, ValueError):
        return False


def _pick(orders: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """Of the orders with one client index: a live one, else the newest."""
    best: dict[str, Any] | None = None
    best_key: tuple[int, int, int] | None = None
    for o in orders:
        try:
            live = 1 if wire.order_status(o).is_live else 0
            key = (live, epoch_ms(o.get("updated_at"), "ms"), int(wire.order_index(o)))
        except (KeyError, TypeError, ValueError):
            continue
        if best_key is None or key > best_key:
            best, best_key = o, key
    return best


def _trade_order(trade_id: str) -> tuple[int, str]:
    head, _, tail = trade_id.partition(":")
    return (int(head) if head.isdigit() else 0, tail)


__all__ = ["INACTIVE_PAGES", "PAGE", "LighterReads"]
