"""The Lighter emulator's REST reads (a mixin of the dialect): markets, the account, the
account's orders and trades with the venue's pagination, nonces, API keys.

Lists page with an opaque ``next_cursor`` (absent on the last page). Ours is the sort key
of the page's last item, so a list that grows at its head while a client pages through it
neither skips nor repeats anything.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from aiohttp import web

from connectors.lighter.emulator import wire as w
from connectors.lighter.emulator.render import Render
from connectors.lighter.emulator.signatures import Signatures
from connectors.lighter.emulator.state import (
    CROWD_ACCOUNT,
    CROWD_IDS,
    TOKEN_MAX_S,
    Account,
    LighterEmulatorStats,
    Market,
    Order,
)

T = TypeVar("T")

TRADE_SORTS = ("timestamp", "trade_id", "block_height")
TRADE_TYPES = ("all", "trade", "liquidation", "deleverage", "market-settlement")


class RestApi(Render):
    stats: LighterEmulatorStats
    signatures: Signatures
    active_page_size: int
    _accounts: dict[int, Account]
    _token_cutoff: int
    _max_expiry_seen: int
    _seen_tokens: set[str]
    _revoked: set[str]

    # -- parameters ----------------------------------------------------------------------

    def _int_param(
        self, request: web.Request, name: str, default: int | None = None, required: bool = False
    ) -> int | None:
        raw = request.query.get(name)
        if raw is None or raw == "":
            if required:
                raise w.bad(w.CODE_INVALID_PARAM, f"invalid param: {name} is required")
            return default
        try:
            return int(raw)
        except ValueError:
            raise w.bad(w.CODE_INVALID_PARAM, f"invalid param: {name}") from None

    def _limit(self, request: web.Request, hi: int, default: int | None) -> int:
        limit = self._int_param(request, "limit", default, required=default is None)
        assert limit is not None
        if not 1 <= limit <= hi:
            raise w.bad(w.CODE_INVALID_PARAM, f"invalid param: limit must be in [1, {hi}]")
        return limit

    def _market_param(self, request: web.Request, required: bool = False) -> Market | None:
        mid = self._int_param(request, "market_id", required=required)
        if mid is None or (mid == w.NIL_MARKET and not required):
            return None
        m = self._by_id.get(mid)
        if m is None:
            raise w.bad(w.CODE_INVALID_MARKET, f"invalid market index {mid}")
        return m

    def _account_by_index(self, index: int | None) -> Account:
        acct = self._accounts.get(index) if index is not None else None
        if acct is None:
            raise w.bad(w.CODE_ACCOUNT_NOT_FOUND, "account not found")
        return acct

    def _auth(self, request: web.Request, account_index: int | None) -> Account:
        token = request.headers.get("Authorization") or request.query.get("auth")
        return self._check_token(token, account_index)

    def _check_token(self, text: str | None, account_index: int | None) -> Account:
        token = w.parse_token(text)
        refused = w.LighterError(401, w.CODE_INVALID_AUTH, "invalid auth token")
        if token is None:
            raise refused
        now_s = time.time()
        if token.expiry_s > self._max_expiry_seen and token.expiry_s <= now_s + TOKEN_MAX_S:
            self._max_expiry_seen = token.expiry_s
        if token.text in self._revoked or token.expiry_s < self._token_cutoff:
            raise refused
        if not now_s < token.expiry_s <= now_s + TOKEN_MAX_S:
            raise refused
        if account_index is not None and token.account_index != account_index:
            raise refused
        acct = self._accounts.get(token.account_index)
        if acct is None or token.api_key_index not in acct.keys:
            raise refused
        if not self.signatures.token_ok(token):
            raise refused
        self._seen_tokens.add(token.text)
        return acct

    @staticmethod
    def _page(
        items: Sequence[T],
        key: Callable[[T], tuple[int, ...]],
        request: web.Request,
        limit: int,
        name: str,
        render: Callable[[T], Any],
        *,
        descending: bool,
    ) -> dict[str, Any]:
        """``items`` (sorted by ``key``) after the one the cursor names, ``limit`` of them,
        and the next cursor when more follow."""
        start = 0
        cursor = request.query.get("cursor")
        if cursor:
            try:
                after = tuple(int(x) for x in cursor.split("."))
            except ValueError:
                raise w.bad(w.CODE_INVALID_PARAM, "invalid param: cursor") from None
            start = next(
                (
                    n
                    for n, i in enumerate(items)
                    if (key(i) < after if descending else key(i) > after)
                ),
                len(items),
            )
        page = list(items[start : start + limit])
        out: dict[str, Any] = {"code": w.CODE_OK, name: [render(i) for i in page]}
        if page and start + limit < len(items):
            out["next_cursor"] = ".".join(str(x) for x in key(page[-1]))
        return out

    # -- public --------------------------------------------------------------------------

    def _status(self, request: web.Request) -> dict[str, Any]:
        return {"status": 1, "network_id": 1, "timestamp": int(time.time())}

    def _markets_for(self, request: web.Request) -> list[Market]:
        m = self._market_param(request)
        return [m] if m is not None else sorted(self._by_id.values(), key=lambda x: x.market_id)

    def _order_books(self, request: web.Request) -> dict[str, Any]:
        books = [self._order_book_json(m) for m in self._markets_for(request)]
        return {"code": w.CODE_OK, "order_books": books}

    def _order_book_details(self, request: web.Request) -> dict[str, Any]:
        details = [self._order_book_detail(m) for m in self._markets_for(request)]
        return {"code": w.CODE_OK, "order_book_details": details, "spot_order_book_details": []}

    def _order_book_orders(self, request: web.Request) -> dict[str, Any]:
        m = self._market_param(request, required=True)
        assert m is not None
        limit = self._limit(request, 250, 250)
        bids, asks, _ = self.venue.snapshot(m.inst.symbol, limit)
        ours: dict[tuple[bool, int], list[Order]] = {}
        for acct in self._accounts.values():
            for o in acct.live.values():
                if o.market is m:
                    ours.setdefault((o.is_ask, m.inst.price_to_ticks(o.price)), []).append(o)

        def level_orders(is_ask: bool, levels: list[tuple[int, int]]) -> list[dict[str, Any]]:
            out: list[dict[str, Any]] = []
            for price_ticks, lots in levels:
                price = m.inst.ticks_to_price(price_ticks)
                rest = m.inst.lots_to_size(lots)
                for o in sorted(ours.get((is_ask, price_ticks), []), key=lambda x: x.created_ms):
                    rest -= o.remaining
                    out.append(
                        self._simple_order(
                            o.order_index,
                            o.account.index,
                            o.initial,
                            o.remaining,
                            m,
                            price,
                            o.order_expiry,
                        )
                    )
                if rest > 0:
                    oid = CROWD_IDS + price_ticks * 2 + (1 if is_ask else 0)
                    out.append(self._simple_order(oid, CROWD_ACCOUNT, rest, rest, m, price, 0))
                if len(out) >= limit:
                    break
            return out[:limit]

        ask_orders = level_orders(True, asks)
        bid_orders = level_orders(False, bids)
        return {
            "code": w.CODE_OK,
            "total_asks": len(ask_orders),
            "asks": ask_orders,
            "total_bids": len(bid_orders),
            "bids": bid_orders,
        }

    def _recent_trades(self, request: web.Request) -> dict[str, Any]:
        m = self._market_param(request, required=True)
        assert m is not None
        limit = self._limit(request, 100, 100)
        return {"code": w.CODE_OK, "trades": list(reversed(m.trades))[:limit]}

    # -- the account ---------------------------------------------------------------------

    def _account(self, request: web.Request) -> dict[str, Any]:
        by = request.query.get("by", "index")
        value = request.query.get("value", "")
        if by == "index":
            try:
                acct = self._account_by_index(int(value))
            except ValueError:
                raise w.bad(w.CODE_INVALID_PARAM, "invalid param: value") from None
        elif by == "l1_address":
            found = [a for a in self._accounts.values() if a.l1_address == value.lower()]
            if not found:
                raise w.bad(w.CODE_ACCOUNT_NOT_FOUND, "account not found")
            acct = found[0]
        else:
            raise w.bad(w.CODE_INVALID_PARAM, "invalid param: by")
        return {"code": w.CODE_OK, "total": 1, "accounts": [self._detailed_account(acct)]}

    def _accounts_by_l1(self, request: web.Request) -> dict[str, Any]:
        address = request.query.get("l1_address", "").lower()
        found = [a for a in self._accounts.values() if a.l1_address == address]
        if not found:
            raise w.bad(w.CODE_ACCOUNT_NOT_FOUND, "account not found")
        return {
            "code": w.CODE_OK,
            "l1_address": address,
            "sub_accounts": [self._base_account(a) for a in sorted(found, key=lambda a: a.index)],
        }

    def _active_orders(self, request: web.Request) -> dict[str, Any]:
        """Per market (NautilusTrader: the venue serves this list only by ``market_id``),
        oldest first, pages of ``active_page_size`` (a guess)."""
        index = self._int_param(request, "account_index", required=True)
        acct = self._auth(request, index)
        m = self._market_param(request, required=True)
        orders = sorted(
            (o for o in acct.live.values() if o.market is m), key=lambda o: o.order_index
        )
        return self._page(
            orders,
            lambda o: (o.order_index,),
            request,
            self.active_page_size,
            "orders",
            self._order_json,
            descending=False,
        )

    def _inactive_orders(self, request: web.Request) -> dict[str, Any]:
        """Newest first; filters ``market_id``, ``ask_filter`` (0 bids, 1 asks) and
        ``between_timestamps`` (``"<from s>-<to s>"``, NautilusTrader's form, on the order's
        last update: a guess)."""
        index = self._int_param(request, "account_index", required=True)
        acct = self._auth(request, index)
        limit = self._limit(request, 100, None)
        m = self._market_param(request)
        ask = self._int_param(request, "ask_filter")
        lo, hi = 0, 2**62
        between = request.query.get("between_timestamps")
        if between:
            try:
                a, b = (int(x) for x in between.split("-"))
            except ValueError:
                raise w.bad(w.CODE_INVALID_PARAM, "invalid param: between_timestamps") from None
            lo, hi = a * 1000, b * 1000 + 999
        chosen = [
            o
            for o in acct.orders.values()
            if not o.live
            and (m is None or o.market is m)
            and (ask is None or ask < 0 or o.is_ask == bool(ask))
            and lo <= o.updated_ms <= hi
        ]
        chosen.sort(key=lambda o: (o.updated_ms, o.order_index), reverse=True)
        return self._page(
            chosen,
            lambda o: (o.updated_ms, o.order_index),
            request,
            limit,
            "orders",
            self._order_json,
            descending=True,
        )

    def _account_orders(self, request: web.Request) -> dict[str, Any]:
        """By client order index (<= 20 of them): every order that carried one, live or
        done (the SDK's doc: the last 10K active, the last 1K inactive of 24 h)."""
        index = self._int_param(request, "account_index")
        acct = self._auth(request, index)
        raw = ",".join(request.query.getall("client_order_indexes", []))
        try:
            wanted = [int(x) for x in raw.replace("[", "").replace("]", "").split(",") if x.strip()]
        except ValueError:
            raise w.bad(w.CODE_INVALID_PARAM, "invalid param: client_order_indexes") from None
        if not wanted or len(wanted) > 20:
            raise w.bad(w.CODE_INVALID_PARAM, "invalid param: client_order_indexes (1..20 ids)")
        orders = [self._order_json(o) for c in wanted for o in acct.by_coi.get(c, ())]
        return {"code": w.CODE_OK, "orders": orders}

    def _trades(self, request: web.Request) -> dict[str, Any]:
        """The account's trades (or a market's), sorted by ``sort_by`` (``sort_dir``, desc by
        default), filters ``market_id``, ``order_index``, ``type``. ``from`` is not
        emulated: its meaning is not documented."""
        sort_by = request.query.get("sort_by", "")
        if sort_by not in TRADE_SORTS:
            raise w.bad(w.CODE_INVALID_PARAM, "invalid param: sort_by")
        direction = request.query.get("sort_dir", "desc")
        if direction not in ("asc", "desc"):
            raise w.bad(w.CODE_INVALID_PARAM, "invalid param: sort_dir")
        kind = request.query.get("type", "all")
        if kind not in TRADE_TYPES:
            raise w.bad(w.CODE_INVALID_PARAM, "invalid param: type")
        limit = self._limit(request, 100, None)
        m = self._market_param(request)
        index = self._int_param(request, "account_index")
        if index is not None and index >= 0:
            acct = self._auth(request, index)
            trades = [t for t in acct.trades if m is None or t["market_id"] == m.market_id]
        else:
            markets = [m] if m is not None else list(self._by_id.values())
            trades = [t for mk in markets for t in mk.trades]
        order_index = self._int_param(request, "order_index")
        if order_index is not None:
            trades = [t for t in trades if order_index in (t["ask_id"], t["bid_id"])]
        if kind != "all":
            trades = [t for t in trades if t["type"] == kind]

        def key(t: dict[str, Any]) -> tuple[int, int]:
            return (int(t[sort_by]), int(t["trade_id"]))

        trades.sort(key=key, reverse=direction == "desc")
        desc = direction == "desc"
        return self._page(trades, key, request, limit, "trades", lambda t: t, descending=desc)

    def _key_param(self, request: web.Request) -> tuple[Account, int]:
        acct = self._account_by_index(self._int_param(request, "account_index", required=True))
        key = self._int_param(request, "api_key_index", required=True)
        assert key is not None
        if key not in acct.keys:
            raise w.bad(w.CODE_API_KEY_NOT_FOUND, "api key not found")
        return acct, key

    def _next_nonce(self, request: web.Request) -> dict[str, Any]:
        """The next nonce after the executed ones (queued txs are not counted: a guess
        that follows the docs' "the nonce increases" once the sequencer has the tx)."""
        acct, key = self._key_param(request)
        return {"code": w.CODE_OK, "nonce": acct.executed[key]}

    def _apikeys(self, request: web.Request) -> dict[str, Any]:
        acct = self._account_by_index(self._int_param(request, "account_index", required=True))
        only = self._int_param(request, "api_key_index")
        if only is not None and only != w.NIL_MARKET and only not in acct.keys:
            raise w.bad(w.CODE_API_KEY_NOT_FOUND, "api key not found")
        keys = [
            {
                "account_index": acct.index,
                "api_key_index": k,
                "nonce": acct.executed[k],
                "public_key": pub,
                "transaction_time": 0,
            }
            for k, pub in sorted(acct.keys.items())
            if only is None or only == w.NIL_MARKET or k == only
        ]
        return {"code": w.CODE_OK, "api_keys": keys}
