"""What the GRVT connector reads over REST (``rest.GrvtRest``, answers read by
``parse``): the instruments (and what signing needs of each), the open orders, an order
by client id, the fill history, positions and balances.

* ``lookup_order``: ``full/v1/order`` by ``client_order_id``; when GRVT does not know
  the id there (it promises client ids unique among active orders only), the order
  history of the last ``lookup_window_s``.
* Histories (``order_history``, ``fill_history``) are read to the end of their ``next``
  cursors; a cursor that repeats or more than ``MAX_PAGES`` pages is a bad answer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from connectors.base import (
    AccountState,
    Balance,
    ConnectorStats,
    ErrorCode,
    Fill,
    Instrument,
    OpenOrder,
    Position,
    Side,
    VenueError,
    VenueOrder,
)
from connectors.grvt import parse
from connectors.grvt.account import account_state
from connectors.grvt.keys import GrvtKeys
from connectors.grvt.parse import SigningAsset, Unreadable
from connectors.grvt.rest import GrvtRest

log = logging.getLogger("connectors.grvt")

PAGE_LIMIT = 1000
"""GRVT's largest page (``limit``: default 500, max 1000)."""
MAX_PAGES = 1000


class GrvtReads:
    def __init__(
        self,
        venue: str,
        rest: GrvtRest,
        keys: Callable[[], GrvtKeys],
        stats: ConnectorStats,
        *,
        lookup_window_s: float,
    ) -> None:
        self.venue = venue
        self.rest = rest
        self.keys = keys
        """The connector's keys, or the refusal of a connector without them."""
        self.stats = stats
        self.lookup_window_s = lookup_window_s
        self.instruments: dict[str, Instrument] = {}
        self.assets: dict[str, SigningAsset] = {}
        """Symbol -> what signing an order needs of its instrument."""

    # -- instruments ------------------------------------------------------------------

    async def load_instruments(self) -> dict[str, Instrument]:
        """The active perpetuals, read once; an entry that cannot be read is skipped
        (counted, logged); none readable is a bad answer."""
        if not self.instruments:
            body = {"kind": ["PERPETUAL"], "is_active": True, "limit": PAGE_LIMIT}
            answer = await self.rest.public("instruments", body)
            try:
                entries = parse.items(parse.result(answer, "instruments", self.venue), "result")
            except Unreadable as exc:
                raise parse.answer_error(self.venue, "instruments", exc) from None
            found: dict[str, Instrument] = {}
            for entry in entries:
                try:
                    inst, asset = parse.instrument(self.venue, entry)
                except Unreadable as exc:
                    self.stats.extra["bad_instruments"] = (
                        self.stats.extra.get("bad_instruments", 0) + 1
                    )
                    log.warning("%s: instruments: entry skipped: %s", self.venue, exc)
                    continue
                if inst.contract_type != "perp":
                    continue
                found[inst.symbol] = inst
                self.assets[inst.symbol] = asset
            if not found:
                raise VenueError(
                    f"{self.venue}: instruments: no perpetual could be read",
                    code=ErrorCode.BAD_ANSWER,
                )
            self.instruments = found
        return self.instruments

    def instrument(self, symbol: str) -> Instrument:
        inst = self.instruments.get(symbol)
        if inst is None:
            raise VenueError(
                f"{self.venue}: unknown symbol {symbol!r}", code=ErrorCode.UNKNOWN_SYMBOL
            )
        return inst

    def filter(self, symbol: str) -> dict[str, Any]:
        """GRVT's instrument filter (kind/base/quote lists) for one symbol."""
        inst = self.instrument(symbol)
        return {"kind": ["PERPETUAL"], "base": [inst.base], "quote": [inst.quote]}

    # -- the account ------------------------------------------------------------------

    async def open_orders(self, symbol: str | None = None) -> list[OpenOrder]:
        keys = self.keys()
        body: dict[str, Any] = {"sub_account_id": keys.trading_account_id}
        if symbol is not None:
            body |= self.filter(symbol)
        answer = await self.rest.private("open_orders", body)
        self._latency()
        try:
            entries = parse.items(parse.result(answer, "open_orders", self.venue), "result")
            listed = [parse.order(o, f"result[{i}]") for i, o in enumerate(entries)]
            return [
                parse.open_order(self.venue, o)
                for o in listed
                if symbol is None or o.symbol == symbol
            ]
        except Unreadable as exc:
            raise parse.answer_error(self.venue, "open_orders", exc) from None

    async def lookup_order(self, symbol: str, client_order_id: str) -> VenueOrder | None:
        """``full/v1/order`` by ``client_order_id`` (the venue's decimal form), then the
        order history of the last ``lookup_window_s``."""
        keys = self.keys()
        body = {"sub_account_id": keys.trading_account_id, "client_order_id": client_order_id}
        try:
            answer = await self.rest.private("order", body)
        except VenueError as exc:
            if exc.code != ErrorCode.NOT_FOUND:
                raise
            return await self._lookup_history(symbol, client_order_id)
        try:
            found = parse.order(parse.result(answer, "order", self.venue), "result")
        except Unreadable as exc:
            raise parse.answer_error(self.venue, "order", exc) from None
        return parse.venue_order(self.venue, found)

    async def fills_since(self, since_ms: int, symbol: str | None = None) -> list[Fill]:
        """``full/v1/fill_history`` from ``since_ms``, every page (``next`` cursor)."""
        keys = self.keys()
        body: dict[str, Any] = {
            "sub_account_id": keys.trading_account_id,
            "start_time": str(max(0, since_ms) * 1_000_000),
            "limit": PAGE_LIMIT,
        }
        if symbol is not None:
            body |= self.filter(symbol)
        fills: dict[tuple[str, Side], Fill] = {}
        async for i, entry in self._pages("fill_history", body):
            try:
                fill = parse.fill(self.venue, entry, f"result[{i}]")
            except Unreadable as exc:
                raise parse.answer_error(self.venue, "fill_history", exc) from None
            if fill.ts_ms >= since_ms and (symbol is None or fill.symbol == symbol):
                fills[(fill.trade_id, fill.side)] = fill
        return sorted(fills.values(), key=lambda f: f.ts_ms)

    async def positions(self) -> list[Position]:
        keys = self.keys()
        answer = await self.rest.private("positions", {"sub_account_id": keys.trading_account_id})
        self._latency()
        try:
            entries = parse.items(parse.result(answer, "positions", self.venue), "result")
            out = [parse.position(self.venue, p, f"result[{i}]") for i, p in enumerate(entries)]
        except Unreadable as exc:
            raise parse.answer_error(self.venue, "positions", exc) from None
        return [p for p in out if p.size != 0]

    async def balances(self) -> list[Balance]:
        summary = await self.account_summary()
        try:
            return [
                Balance(
                    self.venue,
                    parse.text(summary, "settle_currency", "result"),
                    parse.number(summary, "total_equity", "result"),
                    parse.number(summary, "available_balance", "result"),
                )
            ]
        except Unreadable as exc:
            raise parse.answer_error(self.venue, "account_summary", exc) from None

    async def account_summary(self) -> Mapping[str, Any]:
        keys = self.keys()
        answer = await self.rest.private(
            "account_summary", {"sub_account_id": keys.trading_account_id}
        )
        try:
            return parse.obj(parse.result(answer, "account_summary", self.venue), "result")
        except Unreadable as exc:
            raise parse.answer_error(self.venue, "account_summary", exc) from None

    async def read_account(self, symbols: list[str]) -> AccountState:
        """The account summary, and a ticker per market for its funding (``account.py``)."""
        summary = await self.account_summary()
        held = [p.get("instrument") for p in summary.get("positions") or [] if isinstance(p, dict)]
        tickers: dict[str, Mapping[str, Any]] = {}
        for symbol in sorted({*symbols, *(h for h in held if isinstance(h, str))}):
            answer = await self.rest.public("ticker", {"instrument": symbol})
            try:
                tickers[symbol] = parse.obj(parse.result(answer, "ticker", self.venue), "result")
            except Unreadable as exc:
                raise parse.answer_error(self.venue, "ticker", exc) from None
        self._latency()
        try:
            return account_state(self.venue, summary, tickers, symbols, int(time.time() * 1000))
        except Unreadable as exc:
            raise parse.answer_error(self.venue, "account_summary", exc) from None

    # -- requests ---------------------------------------------------------------------

    def _latency(self) -> None:
        self.stats.latency_ms = self.rest.latency_ms

    async def _pages(
        self, endpoint: str, body: Mapping[str, Any]
    ) -> AsyncIterator[tuple[int, Any]]:
        """Every entry of a paged history answer, following ``next`` to the end."""
        cursor = ""
        cursors: set[str] = set()
        for _ in range(MAX_PAGES):
            answer = await self.rest.private(endpoint, dict(body, cursor=cursor))
            try:
                entries = parse.items(parse.result(answer, endpoint, self.venue), "result")
                nxt = answer.get("next") or ""
                if not isinstance(nxt, str):
                    raise Unreadable("next", f"{nxt!r} is not a cursor")
            except Unreadable as exc:
                raise parse.answer_error(self.venue, endpoint, exc) from None
            for i, entry in enumerate(entries):
                yield i, entry
            if not nxt:
                return
            if nxt in cursors:
                raise VenueError(
                    f"{self.venue}: {endpoint}: the next cursor repeats ({nxt[:40]})",
                    code=ErrorCode.BAD_ANSWER,
                )
            cursors.add(nxt)
            cursor = nxt
        raise VenueError(
            f"{self.venue}: {endpoint}: more than {MAX_PAGES} pages", code=ErrorCode.BAD_ANSWER
        )

    async def _lookup_history(self, symbol: str, client_order_id: str) -> VenueOrder | None:
        keys = self.keys()
        since_ns = time.time_ns() - int(self.lookup_window_s * 1e9)
        body: dict[str, Any] = {
            "sub_account_id": keys.trading_account_id,
            "start_time": str(max(0, since_ns)),
            "limit": PAGE_LIMIT,
        }
        if symbol in self.instruments:
            body |= self.filter(symbol)
        async for i, entry in self._pages("order_history", body):
            try:
                o = parse.order(entry, f"result[{i}]")
            except Unreadable as exc:
                raise parse.answer_error(self.venue, "order_history", exc) from None
            if o.raw_client_id == client_order_id:
                return parse.venue_order(self.venue, o)
        return None


__all__ = ["MAX_PAGES", "PAGE_LIMIT", "GrvtReads"]
