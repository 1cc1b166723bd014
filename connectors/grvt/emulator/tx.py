"""The GRVT emulator's trading: ``create_order`` checks (GRVT's error codes, the
EIP-712 signature recovered for real), matching through the ``SimVenue`` one loop
turn later, cancels, the sim's account events turned into GRVT's order / fill /
position pushes, and the cancel-on-disconnect countdown.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from connectors.base import (
    ZERO,
    Fill,
    OrderRequest,
    OrderStatus,
    OrderType,
    OrderUpdate,
    Position,
    Side,
    TimeInForce,
)
from connectors.common.units import BadNumber, parse_decimal
from connectors.emulation.accounts import sim_mid
from connectors.grvt.emulator.state import GrvtState, Market, Order, User, valid_client_id
from connectors.grvt.emulator.wire import (
    BASE_DECIMALS,
    REJECT_REASONS,
    TIFS,
    GrvtErr,
    fill_json,
    now_ns,
    order_json,
    position_json,
)
from connectors.grvt.signing import (
    MAX_EXPIRATION_NS,
    SignatureCheckError,
    high_s,
    order_message,
    recover_signer,
)
from connectors.sim.venue import DROPPED, SimVenue

log = logging.getLogger("connectors.grvt.emulator")

CHAIN_IDS = (325, 326, 327)
_HEX32 = re.compile(r"^0x[0-9a-fA-F]{64}$")
_SIM_TIF = {
    "GOOD_TILL_TIME": TimeInForce.GTC,
    "IMMEDIATE_OR_CANCEL": TimeInForce.IOC,
    "FILL_OR_KILL": TimeInForce.FOK,
}

Push = Callable[[User, str, Market, dict[str, Any]], None]
"""(user, stream, market, feed) -> the private push (``GrvtFeed.push_private``)."""


def decimal_field(value: Any, name: str) -> Decimal:
    """A request's decimal string, bounded (``connectors.common.units``)."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise GrvtErr(1003, f"{name} must be a decimal string")
    try:
        d = parse_decimal(value, name)
    except BadNumber as exc:
        raise GrvtErr(1003, str(exc)) from None
    if d < 0:
        raise GrvtErr(1003, f"{name} must be a non-negative decimal")
    return d


class GrvtExchange:
    def __init__(
        self,
        venue: SimVenue,
        state: GrvtState,
        push: Push,
        *,
        chain_id: int,
        max_open_orders: int,
    ) -> None:
        self.venue = venue
        self.state = state
        self.push = push
        self.chain_id = chain_id
        self.max_open_orders = max_open_orders
        self.dead_man: dict[str, float] = {}
        """account -> monotonic deadline of its cancel-on-disconnect countdown."""
        self.dead_man_triggered = 0
        self.duplicates_ignored = 0

    # -- create_order -----------------------------------------------------------------

    def create(self, user: User, order: Any) -> dict[str, Any]:
        if not isinstance(order, dict):
            raise GrvtErr(1003, "order is required")
        if str(order.get("sub_account_id")) != user.sub_account_id:
            raise GrvtErr(2003, "Order sub account does not match logged in user", 403)
        if order.get("order_id") not in (None, "", "0x00", "0x0"):
            raise GrvtErr(2010, "Order ID should be empty when creating an order")
        legs = order.get("legs")
        if not isinstance(legs, list) or len(legs) != 1 or not isinstance(legs[0], dict):
            raise GrvtErr(2042, "Orderbook Orders must contain only one leg")
        leg = legs[0]
        m = self.state.market(leg)
        inst = m.inst
        meta = order.get("metadata") or {}
        cid = str(meta.get("client_order_id") or "")
        if not cid:
            raise GrvtErr(2011, "Client Order ID should be supplied when creating an order")
        if not valid_client_id(cid):
            raise GrvtErr(1003, "client_order_id must be a uint64 in decimal")
        tif = str(order.get("time_in_force"))
        if tif not in TIFS:
            raise GrvtErr(1003, f"Unknown time_in_force {tif}")
        if tif == "ALL_OR_NONE":
            raise GrvtErr(2030, "Orderbook Orders must have a TimeInForce of GTT/IOC/FOK")
        is_market = bool(order.get("is_market"))
        post_only = bool(order.get("post_only"))
        reduce_only = bool(order.get("reduce_only"))
        size = decimal_field(leg.get("size"), "size")
        price = decimal_field(leg.get("limit_price") or "0", "limit_price")
        if is_market:
            if price != 0:
                raise GrvtErr(2020, "Market Order must always be supplied without a limit price")
            if tif not in ("IMMEDIATE_OR_CANCEL", "FILL_OR_KILL"):
                raise GrvtErr(2030, "Orderbook Orders must have a TimeInForce of GTT/IOC/FOK")
        elif price <= 0:
            raise GrvtErr(2021, "Limit Order must always be supplied with a limit price")
        if post_only and tif != "GOOD_TILL_TIME":
            raise GrvtErr(2032, "Post Only can only be set to true for GTT/AON orders")
        if size < inst.min_size and not reduce_only:
            raise GrvtErr(2062, "Order size smaller than min size")
        if size <= 0 or size % inst.min_size != 0:
            raise GrvtErr(2065, "Order size too granular")
        if price % inst.tick_size != 0:
            raise GrvtErr(2064, "Invalid limit price tick")
        reference = sim_mid(self.venue, inst.symbol) if is_market else price
        if m.min_notional > 0 and reference is not None and size * reference < m.min_notional:
            if reduce_only:
                raise GrvtErr(
                    2067,
                    "Order below minimum notional. Please try reducing your "
                    "position again with a higher price or size.",
                )
            raise GrvtErr(
                2066, "Order below minimum notional. Please try again with a higher price or size."
            )
        sig = self.check_signature(user, order, m)
        digest = json.dumps(
            [order.get(k) for k in ("is_market", "time_in_force", "post_only", "reduce_only")]
            + [leg.get(k) for k in ("size", "limit_price", "is_buying_asset", "instrument")]
            + [str(order.get("sub_account_id")), sig["expiration"], cid],
            default=str,
        )
        key = (sig["signer"].lower(), int(sig["nonce"]))
        seen = self.state.nonces.get(key)
        if seen is not None and seen[0] == digest and seen[1] in self.state.orders:
            # GRVT: the same nonce + payload is a duplicate and is ignored
            log.info("grvt emulator: duplicate create (nonce %s) ignored", key[1])
            self.duplicates_ignored += 1
            return order_json(self.state.orders[seen[1]], "create")
        allow_twice = user.account in self.venue.duplicate_client_ids
        if self.state.live_with_cid(user, cid) and not allow_twice:
            raise GrvtErr(2012, "Client Order ID overlaps with existing active order")
        if len(self.state.live_orders(user)) >= self.max_open_orders:
            raise GrvtErr(2090, "Max open orders exceeded", 429)
        forced = self.venue.reject_next.pop(user.account, None)
        if forced is not None and forced.isdigit():
            raise GrvtErr(int(forced), "Order rejected (injected)")
        now = now_ns()
        o = Order(
            order_id=self.state.new_order_id(),
            user=user,
            market=m,
            client_order_id=cid,
            side=Side.BUY if leg.get("is_buying_asset") else Side.SELL,
            is_market=is_market,
            tif=tif,
            post_only=post_only,
            reduce_only=reduce_only,
            size=size,
            price=price,
            signature=sig,
            create_ns=now,
            book_size=size,
            update_ns=now,
            forced_reject=forced,
        )
        self.state.add(o, key, digest)
        asyncio.get_running_loop().call_soon(self.execute, o)
        return order_json(o, "create")

    def check_signature(self, user: User, order: dict[str, Any], m: Market) -> dict[str, Any]:
        sig = order.get("signature")
        if not isinstance(sig, dict):
            raise GrvtErr(2002, "Signature does not match payload", 403)
        try:
            v = int(sig.get("v"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise GrvtErr(2005, "Signature V must be 27/28", 403) from None
        if v not in (27, 28):
            raise GrvtErr(2005, "Signature V must be 27/28", 403)
        r_text, s_text = str(sig.get("r") or ""), str(sig.get("s") or "")
        if not _HEX32.match(r_text) or not _HEX32.match(s_text):
            raise GrvtErr(2006, "Signature R/S must have exactly 64 characters", 403)
        r, s = int(r_text, 16), int(s_text, 16)
        if high_s(s):
            raise GrvtErr(2007, "Signature S must be in the lower half of the curve", 403)
        try:
            expiration = int(str(sig.get("expiration")))
            int(sig.get("nonce"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise GrvtErr(1003, "Signature expiration and nonce must be integers") from None
        now = now_ns()
        if expiration <= now:
            raise GrvtErr(2001, "Signature has expired", 403)
        if expiration > now + MAX_EXPIRATION_NS:
            raise GrvtErr(2008, "Signature exceeds maximum allowed duration.")
        try:
            message = order_message(order, [(m.asset_hash, BASE_DECIMALS)])
        except (SignatureCheckError, KeyError, TypeError, ValueError) as exc:
            raise GrvtErr(1003, f"Order cannot be verified: {exc}") from None
        signer = str(sig.get("signer") or "")
        recovered = recover_signer(message, self.chain_id, v, r, s)
        if recovered.lower() != signer.lower():
            for other in CHAIN_IDS:
                if other != self.chain_id and (
                    recover_signer(message, other, v, r, s).lower() == signer.lower()
                ):
                    raise GrvtErr(1012, f"Invalid signature chain ID ({other})")
            raise GrvtErr(2002, "Signature does not match payload", 403)
        if recovered.lower() != user.signer.lower():
            raise GrvtErr(2000, f"Signer {recovered} is not authorised for this API key", 403)
        return dict(sig)

    # -- matching --------------------------------------------------------------------

    def execute(self, o: Order) -> None:
        """Match a PENDING order (one loop turn after create_order answered)."""
        if o.status != "PENDING":
            return
        try:
            if o.forced_reject is not None:
                reason = o.forced_reject if o.forced_reject in REJECT_REASONS else "UNSPECIFIED"
                self.finish(o, "REJECTED", reason)
                return
            req = OrderRequest(
                client_id=o.sim_id,
                symbol=o.market.inst.symbol,
                side=o.side,
                size=o.size,
                type=OrderType.MARKET if o.is_market else OrderType.LIMIT,
                price=None if o.is_market else o.price,
                time_in_force=_SIM_TIF[o.tif],
                post_only=o.post_only,
                reduce_only=o.reduce_only,
            )
            ack = self.venue.submit(o.user.account, req)
            if ack.reason == DROPPED:
                log.info("grvt emulator: %s dropped without a report (fault)", o.order_id)
                self.state.forget(o)
                return
            if ack.status is OrderStatus.REJECTED and o.live:
                text = ack.reason
                if "post-only" in text:
                    self.finish(o, "REJECTED", "FAIL_POST_ONLY")
                elif "reduce-only" in text:
                    self.finish(o, "REJECTED", "FAIL_REDUCE_ONLY")
                elif "fill-or-kill" in text:
                    self.finish(o, "CANCELLED", "FOK_CANCEL")
                else:
                    reason = text if text in REJECT_REASONS else "UNSPECIFIED"
                    self.finish(o, "REJECTED", reason)
        except Exception:
            log.exception("grvt emulator: executing order %s failed", o.order_id)
            if o.live:
                self.finish(o, "REJECTED", "UNSPECIFIED")

    def finish(self, o: Order, status: str, reason: str) -> None:
        o.status = status
        o.reject_reason = reason
        o.book_size = ZERO
        o.update_ns = now_ns()
        self.state.finished(o)
        self.push_order(o)

    def cancel(self, o: Order, reason: str) -> None:
        if o.status == "PENDING":
            self.finish(o, "CANCELLED", reason)
            return
        o.cancel_reason = reason
        if not self.venue.cancel(o.user.account, o.market.inst.symbol, o.sim_id) and o.live:
            self.finish(o, "CANCELLED", reason)

    def cancel_all(self, user: User, markets: list[Market], reason: str) -> int:
        live = self.state.live_orders(user, markets)
        for o in live:
            self.cancel(o, reason)
        return len(live)

    # -- the sim's account events (AccountFanout handlers) ---------------------------

    def on_order(self, user: User, u: OrderUpdate) -> None:
        o = self.state.by_sim_id.get((user.account, u.client_id or ""))
        if o is None or not o.live:
            return
        o.update_ns = now_ns()
        if u.status is OrderStatus.OPEN or u.status is OrderStatus.PARTIALLY_FILLED:
            if o.status == "PENDING":
                o.status = "OPEN"
            if u.remaining_size is not None:
                o.book_size = u.remaining_size
                if u.filled_size is not None:
                    o.size = u.filled_size + u.remaining_size
            self.push_order(o)
            return
        if u.status is OrderStatus.FILLED:
            self.finish(o, "FILLED", "UNSPECIFIED")
            return
        reason = u.reason
        if reason == "cancelled by user":
            code = o.cancel_reason or "CLIENT_CANCEL"
        elif "self-trade" in reason:
            code = "SELF_TRADE_PROTECTION"
        elif "reduce-only" in reason:
            code = "FAIL_REDUCE_ONLY"
        elif o.tif == "FILL_OR_KILL":
            code = "FOK_CANCEL"
        else:
            code = "IOC_CANCEL"
        self.finish(o, "CANCELLED", code)

    def on_fill(self, user: User, f: Fill) -> None:
        m = self.state.by_sim[f.symbol]
        o = None
        if f.client_id is not None:
            o = self.state.by_sim_id.get((user.account, f.client_id))
            if o is None:
                log.warning("grvt emulator: fill of an unknown order %s", f.client_id)
                return
            o.traded += f.size
            o.traded_quote += f.size * f.price
            o.book_size = max(ZERO, o.size - o.traded)
            o.update_ns = now_ns()
            if o.status == "PENDING":
                o.status = "OPEN"
        inst = m.inst
        maker = f.liquidity.value == "maker"
        rate = inst.maker_fee if maker else inst.taker_fee
        mark = sim_mid(self.venue, inst.symbol) or f.price
        event_ns = now_ns()
        rest = fill_json(user, m, f, o, rate, mark, event_ns, "rest")
        self.state.add_fill(user, m.wire, event_ns, rest)
        self.push(user, "v1.fill", m, fill_json(user, m, f, o, rate, mark, event_ns, "ws"))
        if o is not None and o.book_size > 0:
            self.push_order(o)

    def on_position(self, user: User, p: Position) -> None:
        m = self.state.by_sim[p.symbol]
        self.push(user, "v1.position", m, self.position(user, p, "ws"))

    def position(self, user: User, p: Position, form: str) -> dict[str, Any]:
        m = self.state.by_sim[p.symbol]
        mark = sim_mid(self.venue, p.symbol) or p.entry_price
        markets = self.venue.account(user.account, [p.symbol]).markets
        margin = next((a for a in markets if a.symbol == p.symbol), None)
        return position_json(user, m, p, mark, form, margin)

    def positions(self, user: User, markets: list[Market] | None = None) -> list[Position]:
        chosen = None if markets is None else {id(m) for m in markets}
        return [
            p
            for p in self.venue.positions(user.account)
            if p.size != 0 and (chosen is None or id(self.state.by_sim[p.symbol]) in chosen)
        ]

    def push_order(self, o: Order) -> None:
        body = order_json(o, "ws")
        self.push(o.user, "v1.order", o.market, body)
        state = {"order_id": o.order_id, "client_order_id": o.client_order_id}
        self.push(o.user, "v1.state", o.market, state | {"order_state": body["state"]})

    # -- cancel on disconnect -----------------------------------------------------------

    def arm(self, user: User, countdown_ms: int) -> None:
        """GRVT: 0..1000 ms is rounded to 0 and ends the countdown; 1001..300000 (re)arms
        it; more is refused (6000)."""
        if countdown_ms < 0:
            raise GrvtErr(1003, "countdown_time must not be negative")
        if countdown_ms > 300_000:
            raise GrvtErr(6000, "Countdown time is bigger than 300s supported")
        if countdown_ms <= 1000:
            self.dead_man.pop(user.account, None)
        else:
            self.dead_man[user.account] = time.monotonic() + countdown_ms / 1000

    def on_heartbeat(self, now_ms: int) -> None:
        if not self.dead_man:
            return
        now = time.monotonic()
        for account, deadline in list(self.dead_man.items()):
            if now < deadline:
                continue
            del self.dead_man[account]
            self.dead_man_triggered += 1
            user = next(u for u in self.state.users.values() if u.account == account)
            live = self.state.live_orders(user)
            log.info(
                "grvt emulator: cancel-on-disconnect ran out for %s: cancelling %d orders",
                account,
                len(live),
            )
            for o in live:
                self.cancel(o, "CLIENT_CANCEL_ON_DISCONNECT_TRIGGERED")


__all__ = ["CHAIN_IDS", "GrvtExchange"]
