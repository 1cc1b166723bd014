"""Sim account events -> the venue's order book-keeping and private pushes
(``account.orderUpdate``, ``account.positionUpdate``), routed by the kit's
``AccountFanout`` (which also drops the sockets right before a fill as a fault).

Forms (sources in ``docs/venues/backpack.md``): ``c`` only when the order has a
client id; ``t`` null except on fills; integer µs times; a liquidation fill has no
``c``, an order id of the venue's own and ``O`` = ``LIQUIDATION_AUTOCLOSE``.
"""

from __future__ import annotations

import logging
from typing import Any

from connectors.backpack.emulator.feed import Feed
from connectors.backpack.emulator.state import WIRE_SIDE, Market, Order, State
from connectors.backpack.emulator.wire import expiry_reason, fixed, iso_ms, plain
from connectors.base import ZERO, Fill, Liquidity, OrderStatus, OrderUpdate, Position
from connectors.emulation.accounts import AccountFanout
from connectors.emulation.faults import FaultState
from connectors.sim.venue import SimVenue

log = logging.getLogger("connectors.backpack.emulator")


class AccountEvents:
    def __init__(self, venue: SimVenue, state: State, feed: Feed, faults: FaultState) -> None:
        self.venue = venue
        self.state = state
        self.feed = feed
        self.fanout: AccountFanout[str] = AccountFanout(
            venue,
            faults,
            on_order=self.on_order,
            on_fill=self.on_fill,
            on_position=self.on_position,
            drop_sockets=feed.sockets.abort_all,
            label="backpack emulator",
        )

    def attach(self, accounts: set[str]) -> None:
        for account in accounts:
            self.fanout.attach(account, account)

    # -- orders -------------------------------------------------------------------------

    def on_order(self, account: str, u: OrderUpdate) -> None:
        if u.venue_order_id is None:
            return
        oid = int(u.venue_order_id)
        order = self.state.orders.get(oid)
        if order is None:
            pending = self.state.pending.get((account, u.client_id or ""))
            if pending is None:
                log.warning("backpack emulator: update for an unknown order %s", u)
                return
            order = Order.of(pending, oid, u.client_id or "", account, self.venue.now_ms)
            self.state.add(order)
            self.push_order(order, "orderAccepted")
            return
        if u.status is OrderStatus.FILLED:
            order.status = "Filled"
        elif u.status is OrderStatus.CANCELLED and u.reason == "cancelled by user":
            order.status = "Cancelled"
            self.push_order(order, "orderCancelled")
        elif u.status in (OrderStatus.CANCELLED, OrderStatus.EXPIRED):
            order.status = "Expired"
            order.expiry_reason = expiry_reason(u.reason)
            self.push_order(order, "orderExpired")
        elif u.remaining_size is not None and u.filled_size is not None:
            order.quantity = u.filled_size + u.remaining_size  # a reduce-only trim
            self.push_order(order, "orderModified")
        self.state.settle(order)

    def push_order(self, o: Order, event: str, fill: dict[str, Any] | None = None) -> None:
        m = o.market
        us = self.venue.now_ms * 1000
        data: dict[str, Any] = {"E": us, "O": "USER"}
        if o.price is not None:
            data["Q"] = fixed(o.quantity * o.price, m.price_dp + m.size_dp)
        data |= {"S": WIRE_SIDE[o.side], "T": us, "V": o.stp, "X": o.status}
        data["Z"] = plain(o.executed_quote)
        if o.client_id is not None:
            data["c"] = o.client_id
        data |= {"e": event, "f": o.tif, "i": str(o.id), "o": o.order_type.upper()}
        if o.price is not None:
            data["p"] = m.price(o.price)
        data |= {"q": m.size(o.quantity), "r": o.reduce_only, "s": m.wire, "t": None}
        if o.order_type == "Limit":
            data["y"] = o.post_only
        data["z"] = m.size(o.executed)
        if event == "orderExpired" and o.expiry_reason:
            data["R"] = o.expiry_reason
        if fill is not None:
            data |= fill
        self.feed.publish_private(o.account, "account.orderUpdate", m.wire, data)

    # -- fills ----------------------------------------------------------------------------

    def on_fill(self, account: str, f: Fill) -> None:
        m = self.state.by_sim.get(f.symbol)
        if m is None:
            return
        if f.venue_order_id is None:
            self._system_fill(account, m, f)
            return
        order = self.state.orders.get(int(f.venue_order_id))
        if order is None:
            log.warning("backpack emulator: fill for an unknown order %s", f)
            return
        order.executed += f.size
        order.executed_quote += f.size * f.price
        order.status = "Filled" if order.executed >= order.quantity else "PartiallyFilled"
        number = self.state.fill_trade_number(m, f.trade_id)
        maker = f.liquidity is Liquidity.MAKER
        self._record(account, m, f, number, str(order.id), order.client_id, maker, None)
        self.push_order(
            order,
            "orderFill",
            fill={
                "L": m.price(f.price),
                "N": m.inst.quote,
                "l": m.size(f.size),
                "m": maker,
                "n": plain(f.fee, 8),
                "t": number,
            },
        )
        self.state.settle(order)

    def _system_fill(self, account: str, m: Market, f: Fill) -> None:
        """A fill of the venue's own order on the account (a liquidation), in the
        recorded form: no ``c``, ``O`` = ``LIQUIDATION_AUTOCLOSE``."""
        self.state.next_system_order += 1
        oid = str(self.state.next_system_order)
        number = self.state.system_trade_number(m)
        self._record(account, m, f, number, oid, None, False, "LiquidatePositionOnBook")
        us = self.venue.now_ms * 1000
        data = {
            "E": us,
            "L": m.price(f.price),
            "N": m.inst.quote,
            "O": "LIQUIDATION_AUTOCLOSE",
            "S": WIRE_SIDE[f.side],
            "T": us,
            "V": "RejectTaker",
            "X": "Filled",
            "Z": plain(f.size * f.price),
            "e": "orderFill",
            "f": "IOC",
            "i": oid,
            "l": m.size(f.size),
            "m": False,
            "n": plain(f.fee, 8),
            "o": "MARKET",
            "q": m.size(f.size),
            "s": m.wire,
            "t": number,
            "z": m.size(f.size),
        }
        self.feed.publish_private(account, "account.orderUpdate", m.wire, data)

    def _record(
        self,
        account: str,
        m: Market,
        f: Fill,
        number: int,
        order_id: str,
        client_id: int | None,
        maker: bool,
        system: str | None,
    ) -> None:
        """One fill history item (``clientId`` a string and only when set, per the
        OpenAPI schema; the ``timestamp`` a naive ISO time as recorded)."""
        item: dict[str, Any] = {}
        if client_id is not None:
            item["clientId"] = str(client_id)
        item |= {
            "fee": plain(f.fee, 8),
            "feeSymbol": m.inst.quote,
            "isMaker": maker,
            "orderId": order_id,
            "price": plain(f.price),
            "quantity": plain(f.size),
            "side": WIRE_SIDE[f.side],
            "symbol": m.wire,
        }
        if system is not None:
            item["systemOrderType"] = system
        item |= {"timestamp": iso_ms(f.ts_ms), "tradeId": number, "_ms": f.ts_ms}
        self.state.fills.setdefault(account, []).append(item)

    # -- positions ------------------------------------------------------------------------

    def on_position(self, account: str, p: Position) -> None:
        key = (account, p.symbol)
        before = self.state.pos_size.get(key, ZERO)
        self.state.pos_size[key] = p.size
        if before == 0 and p.size != 0:
            event = "positionOpened"
            self.state.pos_id[key] = self.state.next_pos_id
            self.state.next_pos_id += 1
        elif p.size == 0:
            event = "positionClosed"
        else:
            event = "positionAdjusted"
        m = self.state.by_sim[p.symbol]
        mark = self.feed.mark(p.symbol, p.entry_price)
        data = {"e": event} | self.state.position_stream(account, p, mark, self.venue.now_ms * 1000)
        self.feed.publish_private(account, "account.positionUpdate", m.wire, data)


__all__ = ["AccountEvents"]
