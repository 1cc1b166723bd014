"""The GRVT emulator's own records: users and sessions, markets, orders (with their
history and client-id index), fills, paged histories.

One ``GrvtState`` per dialect; everything here runs on the harness loop.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import web
from eth_account import Account
from eth_utils import to_checksum_address

from connectors.base import ZERO, Instrument, Side
from connectors.grvt.emulator.wire import WIRE_QUOTE, GrvtErr

HISTORY_SIZE = 100_000
"""Finished orders and fills kept per account (the oldest are forgotten)."""
DEFAULT_MIN_NOTIONAL = Decimal("20.0")
"""The ``min_notional`` of the int-form instruments unless given (the api-spec's
example value; recorded BTC has 100 at a BTC price the sim does not use)."""
_U64 = 2**64 - 1


@dataclass(frozen=True, slots=True)
class Credentials:
    """What an API user holds: API key, sub-account id, signing key (and its address)."""

    api_key: str
    sub_account_id: str
    private_key: str
    address: str


def new_credentials() -> Credentials:
    acct = Account.create()
    return Credentials(
        api_key=secrets.token_hex(16),
        sub_account_id=str(secrets.randbelow(10**15) + 10**15),
        private_key="0x" + acct.key.hex().removeprefix("0x"),
        address=acct.address,
    )


@dataclass(slots=True)
class Market:
    inst: Instrument
    wire: str
    asset_hash: str
    venue: str
    min_notional: Decimal = ZERO
    bbo: tuple[int, int, int, int] | None = None
    mini: dict[str, Any] | None = None
    trades: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=20))
    """The latest public trades (what a ``v1.trade`` subscribe replays)."""


@dataclass(slots=True)
class User:
    api_key: str
    account: str
    sub_account_id: str
    signer: str
    main_account_id: str


@dataclass(eq=False, slots=True)
class Order:
    order_id: str
    user: User
    market: Market
    client_order_id: str
    side: Side
    is_market: bool
    tif: str
    post_only: bool
    reduce_only: bool
    size: Decimal
    price: Decimal
    signature: dict[str, Any]
    create_ns: int
    sim_id: str = ""
    """The client id the sim exchange holds (the wire id, made unique while another
    live order has it: GRVT keeps our ids unique only among active orders)."""
    status: str = "PENDING"
    reject_reason: str = "UNSPECIFIED"
    traded: Decimal = ZERO
    traded_quote: Decimal = ZERO
    book_size: Decimal = ZERO
    update_ns: int = 0
    forced_reject: str | None = None
    cancel_reason: str | None = None
    history_seq: int = 0
    """Position in the order history (0 while live)."""
    nonce_key: tuple[str, int] = ("", 0)

    @property
    def live(self) -> bool:
        return self.status in ("PENDING", "OPEN")


@dataclass(slots=True)
class FillRecord:
    seq: int
    wire: str
    event_ns: int
    rest: dict[str, Any]


def cursor_of(seq: int) -> str:
    return base64.b64encode(str(seq).encode()).decode()


def seq_of(cursor: Any) -> int | None:
    """The position a ``cursor`` names (None: from the newest)."""
    if cursor in (None, ""):
        return None
    try:
        return int(base64.b64decode(str(cursor), validate=True).decode())
    except ValueError:
        raise GrvtErr(1003, f"Invalid cursor {str(cursor)[:40]}") from None


def as_int(value: Any, name: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(str(value))
    except ValueError:
        raise GrvtErr(1003, f"{name}: not an integer: {str(value)[:40]!r}") from None


def page_limit(body: Mapping[str, Any]) -> int:
    limit = as_int(body.get("limit"), "limit")
    return 500 if limit is None else max(1, min(limit, 1000))


class GrvtState:
    def __init__(
        self,
        instruments: Mapping[str, Instrument],
        accounts: Mapping[str, str],
        *,
        venue: str,
        signers: Mapping[str, str],
        sub_accounts: Mapping[str, str],
        min_notional: Mapping[str, Decimal] | None = None,
    ) -> None:
        self.users: dict[str, User] = {}
        for i, (api_key, account) in enumerate(accounts.items()):
            signer = signers.get(api_key)
            if signer is None:
                raise ValueError(f"grvt emulator: API key {api_key[:6]}… has no signer address")
            self.users[api_key] = User(
                api_key=api_key,
                account=account,
                sub_account_id=str(sub_accounts.get(api_key) or 10**15 + i + 1),
                signer=to_checksum_address(signer),
                main_account_id=f"0x{secrets.token_hex(20)}",
            )
        self.by_sub = {u.sub_account_id: u for u in self.users.values()}
        self.markets: dict[str, Market] = {}
        self.by_sim: dict[str, Market] = {}
        notional = dict(min_notional or {})
        for i, (sim_symbol, inst) in enumerate(instruments.items()):
            m = Market(inst, f"{inst.base}_{WIRE_QUOTE}_Perp", f"0x03{i + 5:02x}01", venue)
            if inst.base in notional:
                m.min_notional = notional[inst.base]
            elif inst.base in ("BTC", "ETH"):
                m.min_notional = max(inst.min_notional, DEFAULT_MIN_NOTIONAL)
            self.markets[m.wire] = m
            self.by_sim[sim_symbol] = m
        self.sessions: dict[str, tuple[User, float]] = {}
        self.orders: dict[str, Order] = {}
        self.by_cid: dict[tuple[str, str], list[Order]] = {}
        """(account, client_order_id) -> its orders, oldest first (two while a
        repeated client id was booked on purpose)."""
        self.by_sim_id: dict[tuple[str, str], Order] = {}
        self.nonces: dict[tuple[str, int], tuple[str, str]] = {}
        """(signer, nonce) -> (payload digest, order id)."""
        self.fills: dict[str, deque[FillRecord]] = {}
        self.history: dict[str, deque[Order]] = {}
        """account -> finished orders in the order they finished."""
        self._next_order = 1
        self._next_seq = 0

    # -- sessions ------------------------------------------------------------------

    def login(self, user: User, ttl_s: float) -> tuple[str, float]:
        token = secrets.token_hex(24)
        expires = time.time() + ttl_s
        self.sessions[token] = (user, expires)
        return token, expires

    def session_user(self, request: web.Request) -> User | None:
        token = request.cookies.get("gravity")
        if not token:
            return None
        entry = self.sessions.get(token)
        if entry is None:
            return None
        user, expires = entry
        if time.time() >= expires:
            self.sessions.pop(token, None)
            return None
        if request.headers.get("X-Grvt-Account-Id") != user.main_account_id:
            return None
        return user

    # -- markets -------------------------------------------------------------------

    def market(self, body: Mapping[str, Any], key: str = "instrument") -> Market:
        name = body.get(key)
        m = self.markets.get(str(name))
        if m is None:
            raise GrvtErr(2061 if key == "instrument" else 3000, f"Unknown instrument {name}")
        return m

    def filtered(self, body: Mapping[str, Any]) -> list[Market]:
        kinds, bases, quotes = body.get("kind"), body.get("base"), body.get("quote")
        return [
            m
            for m in self.markets.values()
            if (not kinds or "PERPETUAL" in kinds)
            and (not bases or m.inst.base in bases)
            and (not quotes or WIRE_QUOTE in quotes)
        ]

    # -- orders --------------------------------------------------------------------

    def new_order_id(self) -> str:
        n = self._next_order
        self._next_order += 1
        return f"0x0101010500000000{n:016x}"

    def next_seq(self) -> int:
        self._next_seq += 1
        return self._next_seq

    def add(self, o: Order, nonce_key: tuple[str, int], digest: str) -> None:
        account = o.user.account
        sim_id = o.client_order_id
        if any(x.live and x.sim_id == sim_id for x in self.by_cid.get((account, sim_id), ())):
            sim_id = f"{o.client_order_id}~{o.order_id}"
        o.sim_id = sim_id
        self.orders[o.order_id] = o
        self.by_cid.setdefault((account, o.client_order_id), []).append(o)
        self.by_sim_id[(account, sim_id)] = o
        self.nonces[nonce_key] = (digest, o.order_id)
        o.nonce_key = nonce_key

    def forget(self, o: Order) -> None:
        """The venue keeps no record of ``o`` (an order it dropped, or one too old)."""
        account = o.user.account
        self.orders.pop(o.order_id, None)
        same = self.by_cid.get((account, o.client_order_id), [])
        if o in same:
            same.remove(o)
        if not same:
            self.by_cid.pop((account, o.client_order_id), None)
        if self.by_sim_id.get((account, o.sim_id)) is o:
            del self.by_sim_id[(account, o.sim_id)]
        if self.nonces.get(o.nonce_key, ("", ""))[1] == o.order_id:
            del self.nonces[o.nonce_key]

    def finished(self, o: Order) -> None:
        if o.history_seq == 0:
            o.history_seq = self.next_seq()
            history = self.history.setdefault(o.user.account, deque())
            history.append(o)
            if len(history) > HISTORY_SIZE:
                self.forget(history.popleft())

    def live_with_cid(self, user: User, cid: str) -> list[Order]:
        return [o for o in self.by_cid.get((user.account, cid), ()) if o.live]

    def find(self, user: User, body: Mapping[str, Any]) -> Order | None:
        """By ``order_id``, else the newest order with ``client_order_id`` (any state)."""
        oid, cid = body.get("order_id"), body.get("client_order_id")
        if oid not in (None, "", "0x00", "0x0", "0"):
            o = self.orders.get(str(oid))
            return o if o is not None and o.user is user else None
        if cid not in (None, "", "0", 0):
            same = self.by_cid.get((user.account, str(cid)), [])
            live = [o for o in same if o.live]
            return (live or same)[-1] if (live or same) else None
        raise GrvtErr(3021, "Either order ID or client order ID must be supplied")

    def live_orders(self, user: User, markets: Iterable[Market] | None = None) -> list[Order]:
        chosen = None if markets is None else {id(m) for m in markets}
        return [
            o
            for o in self.orders.values()
            if o.user is user and o.live and (chosen is None or id(o.market) in chosen)
        ]

    # -- fills ---------------------------------------------------------------------

    def add_fill(self, user: User, wire: str, event_ns: int, rest: dict[str, Any]) -> None:
        record = FillRecord(self.next_seq(), wire, event_ns, rest)
        self.fills.setdefault(user.account, deque(maxlen=HISTORY_SIZE)).append(record)

    def fill_page(self, user: User, body: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str]:
        """One page of ``fill_history``: newest first from ``end_time`` (or the cursor)
        back to ``start_time``; ``next`` names where the following page starts."""
        wires = {m.wire for m in self.filtered(body)}
        lo = as_int(body.get("start_time"), "start_time")
        hi = as_int(body.get("end_time"), "end_time")
        below = seq_of(body.get("cursor"))
        chosen = [
            f
            for f in reversed(self.fills.get(user.account, ()))
            if f.wire in wires
            and (below is None or f.seq < below)
            and (lo is None or f.event_ns >= lo)
            and (hi is None or f.event_ns <= hi)
        ]
        return _page([(f.seq, f.rest) for f in chosen], page_limit(body))

    def order_page(
        self, user: User, body: Mapping[str, Any], render: Any
    ) -> tuple[list[dict[str, Any]], str]:
        """One page of ``order_history`` (finished orders, newest first)."""
        chosen_markets = {id(m) for m in self.filtered(body)}
        lo = as_int(body.get("start_time"), "start_time")
        hi = as_int(body.get("end_time"), "end_time")
        below = seq_of(body.get("cursor"))
        chosen = [
            o
            for o in reversed(self.history.get(user.account, ()))
            if id(o.market) in chosen_markets
            and (below is None or o.history_seq < below)
            and (lo is None or o.update_ns >= lo)
            and (hi is None or o.update_ns <= hi)
        ]
        return _page([(o.history_seq, o) for o in chosen], page_limit(body), render)


def _page(
    entries: list[tuple[int, Any]], limit: int, render: Any = None
) -> tuple[list[dict[str, Any]], str]:
    page = entries[:limit]
    rows = [render(e) if render is not None else e for _, e in page]
    more = len(entries) > limit
    return rows, cursor_of(page[-1][0]) if more and page else ""


def valid_client_id(text: str) -> bool:
    return text.isdigit() and int(text) <= _U64


__all__ = [
    "DEFAULT_MIN_NOTIONAL",
    "Credentials",
    "FillRecord",
    "GrvtState",
    "Market",
    "Order",
    "User",
    "as_int",
    "new_credentials",
    "valid_client_id",
]
