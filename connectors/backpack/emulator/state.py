"""What the Backpack emulator remembers beyond the sim: the venue's view of each
order (its wire fields), the account fill history, per-symbol trade numbers,
position ids, and the JSON forms of all of them."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from connectors.backpack.emulator.wire import (
    bad,
    client_id,
    decimals_of,
    fixed,
    iso_ms,
    iso_us,
    not_found,
    plain,
)
from connectors.base import ZERO, Instrument, Position, Side
from connectors.sim.venue import SimVenue

WIRE_SIDE = {Side.BUY: "Bid", Side.SELL: "Ask"}
SYSTEM_ORDER_BASE = 10**12
"""Order ids the venue gives its own (liquidation) orders: far above the sim's."""


@dataclass(slots=True)
class Stats:
    first: Decimal | None = None
    last: Decimal | None = None
    high: Decimal | None = None
    low: Decimal | None = None
    volume: Decimal = ZERO
    quote_volume: Decimal = ZERO
    trades: int = 0


@dataclass(slots=True)
class Market:
    inst: Instrument
    wire: str
    price_dp: int
    size_dp: int
    update_id: int = 0
    bbo: tuple[int, int, int, int] | None = None
    trade_seq: int = 0
    """The venue numbers trades per symbol (docs, "Trade" stream)."""
    unprinted: int | None = None
    """A trade number our fills took whose public print has not gone out yet."""
    stats: Stats = field(default_factory=Stats)

    def price(self, value: Decimal) -> str:
        return fixed(value, self.price_dp)

    def size(self, value: Decimal) -> str:
        return fixed(value, self.size_dp)


@dataclass(slots=True)
class Terms:
    """An order as the place request asked for it (known before the sim gives it an id)."""

    client_id: int | None
    market: Market
    side: Side
    order_type: str
    tif: str
    post_only: bool
    reduce_only: bool
    price: Decimal | None
    quantity: Decimal
    stp: str


@dataclass(slots=True)
class Order(Terms):
    id: int
    sim_cid: str
    account: str
    created_ms: int
    executed: Decimal = ZERO
    executed_quote: Decimal = ZERO
    status: str = "New"
    expiry_reason: str | None = None

    @classmethod
    def of(cls, terms: Terms, order_id: int, sim_cid: str, account: str, now_ms: int) -> Order:
        asked = {f.name: getattr(terms, f.name) for f in fields(Terms)}
        return cls(**asked, id=order_id, sim_cid=sim_cid, account=account, created_ms=now_ms)

    @property
    def live(self) -> bool:
        return self.status in ("New", "PartiallyFilled")


class State:
    def __init__(self, venue: SimVenue, accounts: Mapping[str, str]) -> None:
        self.venue = venue
        self.markets: dict[str, Market] = {}
        self.by_sim: dict[str, Market] = {}
        for sim_symbol, inst in venue.instruments.items():
            m = Market(
                inst,
                f"{inst.base}_{inst.quote}_PERP",
                decimals_of(inst.tick_size),
                decimals_of(inst.step_size),
            )
            self.markets[m.wire] = m
            self.by_sim[sim_symbol] = m
        self.orders: dict[int, Order] = {}
        self.live: dict[tuple[str, int], list[int]] = {}
        """(account, client id) -> live order ids, oldest first (two with the
        duplicate-client-id fault)."""
        self.pending: dict[tuple[str, str], Terms] = {}
        self.fills: dict[str, list[dict[str, Any]]] = {}
        """account -> fill history items (oldest first), each with its ``_ms``."""
        self.trade_numbers: OrderedDict[str, int] = OrderedDict()
        self.pos_size: dict[tuple[str, str], Decimal] = {}
        self.pos_id: dict[tuple[str, str], int] = {}
        self.next_pos_id = 1
        self.next_system_order = SYSTEM_ORDER_BASE
        self.anon = 0
        self.user_ids = {acct: i + 1 for i, acct in enumerate(sorted(set(accounts.values())))}

    # -- markets and orders ------------------------------------------------------------

    def market(self, params: Mapping[str, Any], required: bool = True) -> Market | None:
        symbol = params.get("symbol")
        if symbol is None:
            if required:
                raise bad("Missing symbol")
            return None
        m = self.markets.get(str(symbol))
        if m is None:
            raise bad(f"Unknown symbol {symbol}", "INVALID_SYMBOL")
        return m

    def add(self, order: Order) -> None:
        self.orders[order.id] = order
        if order.client_id is not None:
            self.live.setdefault((order.account, order.client_id), []).append(order.id)

    def settle(self, order: Order) -> None:
        """``order`` is done: it leaves the live index."""
        if order.live or order.client_id is None:
            return
        key = (order.account, order.client_id)
        ids = self.live.get(key)
        if ids and order.id in ids:
            ids.remove(order.id)
            if not ids:
                del self.live[key]

    def find_live(self, account: str, params: Mapping[str, Any]) -> Order:
        """The resting order a query or cancel names (by ``orderId`` or ``clientId``;
        the newest of two live orders with one client id)."""
        m = self.market(params)
        has_id, has_cid = params.get("orderId") is not None, params.get("clientId") is not None
        if has_id == has_cid:
            raise bad("Must specify either `clientId` or `orderId`")
        order: Order | None = None
        if has_id:
            try:
                order = self.orders.get(int(str(params["orderId"])))
            except ValueError:
                raise bad("Invalid orderId") from None
        else:
            ids = self.live.get((account, client_id(params["clientId"])))
            order = self.orders.get(ids[-1]) if ids else None
        if order is None or order.account != account or order.market is not m or not order.live:
            raise not_found()
        return order

    # -- trades -------------------------------------------------------------------------

    def fill_trade_number(self, m: Market, sim_trade_id: str) -> int:
        """The venue's trade number of one match (both sides and the print share it)."""
        n = self.trade_numbers.get(sim_trade_id)
        if n is None:
            m.trade_seq += 1
            n = m.unprinted = self.trade_numbers[sim_trade_id] = m.trade_seq
            while len(self.trade_numbers) > 10_000:
                self.trade_numbers.popitem(last=False)
        return n

    def print_trade_number(self, m: Market) -> int:
        if m.unprinted is not None:
            n, m.unprinted = m.unprinted, None
            return n
        m.trade_seq += 1
        return m.trade_seq

    def system_trade_number(self, m: Market) -> int:
        m.trade_seq += 1
        return m.trade_seq

    # -- JSON forms -------------------------------------------------------------------------

    def order_json(self, o: Order, *, history: bool = False) -> dict[str, Any]:
        """An order object (recorded: plain decimals, ``clientId`` int or null,
        ``createdAt`` ms; in the history a naive ISO time and ``expiryReason``)."""
        m = o.market
        out: dict[str, Any] = {
            "clientId": o.client_id,
            "createdAt": iso_ms(o.created_ms) if history else o.created_ms,
            "executedQuantity": plain(o.executed),
            "executedQuoteQuantity": plain(o.executed_quote),
            "id": str(o.id),
            "orderType": o.order_type,
        }
        if o.order_type == "Limit":
            out["postOnly"] = o.post_only
            out["price"] = plain(o.price or ZERO)
        out["quantity"] = plain(o.quantity)
        if history:
            out["expiryReason"] = o.expiry_reason
            out["quoteQuantity"] = plain(o.quantity * o.price) if o.price else None
            out["systemOrderType"] = None
        else:
            out["reduceOnly"] = True if o.reduce_only else None
            out["relatedOrderId"] = None
        out |= {
            "selfTradePrevention": o.stp,
            "side": WIRE_SIDE[o.side],
            "status": o.status,
            "stopLossLimitPrice": None,
            "stopLossTriggerBy": None,
            "stopLossTriggerPrice": None,
            "strategyId": None,
            "symbol": m.wire,
            "takeProfitLimitPrice": None,
            "takeProfitTriggerBy": None,
            "takeProfitTriggerPrice": None,
            "timeInForce": o.tif,
            "triggerBy": None,
            "triggerPrice": None,
            "triggerQuantity": None,
        }
        if not history:
            out["triggeredAt"] = None
        return out

    def position_rest(self, account: str, p: Position, mark: Decimal) -> dict[str, Any]:
        m = self.by_sim[p.symbol]
        return {
            "breakEvenPrice": plain(p.entry_price),
            "cumulativeFundingPayment": "0",
            "cumulativeInterest": "0",
            "entryPrice": plain(p.entry_price, None),
            "estLiquidationPrice": "0",
            "imf": "0.02",
            "markPrice": plain(mark),
            "mmf": "0.0125",
            "netCost": plain(p.size * p.entry_price, 6),
            "netExposureNotional": plain(abs(p.size) * mark, 6),
            "netExposureQuantity": plain(abs(p.size)),
            "netQuantity": plain(p.size),
            "pnlRealized": plain(p.realized_pnl, 6),
            "pnlUnrealized": plain(p.unrealized_pnl, 6),
            "positionId": str(self.pos_id.get((account, p.symbol), 0)),
            "subaccountId": None,
            "symbol": m.wire,
            "userId": self.user_ids.get(account, 0),
        }

    def position_stream(self, account: str, p: Position, mark: Decimal, now_us: int) -> dict:
        """``account.positionUpdate`` data (recorded: integer µs times, signed ``q``)."""
        m = self.by_sim[p.symbol]
        return {
            "B": plain(p.entry_price),
            "E": now_us,
            "M": plain(mark),
            "P": plain(p.unrealized_pnl, 6),
            "Q": m.size(abs(p.size)),
            "T": now_us,
            "b": plain(p.entry_price),
            "f": "0.02",
            "i": self.pos_id.get((account, p.symbol), 0),
            "l": "0",
            "m": "0.0125",
            "n": plain(abs(p.size) * mark, 6),
            "p": plain(p.realized_pnl, 6),
            "q": m.size(p.size),
            "s": m.wire,
        }

    def market_json(self, m: Market) -> dict[str, Any]:
        """A market object in the recorded form (bbgo's live recording, bpx-api-client)."""
        inst = m.inst
        return {
            "baseSymbol": inst.base,
            "createdAt": iso_us(1_737_441_294_691),
            "filters": {
                "price": {
                    "borrowEntryFeeMaxMultiplier": None,
                    "borrowEntryFeeMinMultiplier": None,
                    "maxImpactMultiplier": "1.03",
                    "maxMultiplier": "1.25",
                    "maxPrice": None,
                    "meanMarkPriceBand": {"maxMultiplier": "1.03", "minMultiplier": "0.97"},
                    "meanPremiumBand": None,
                    "minImpactMultiplier": "0.97",
                    "minMultiplier": "0.75",
                    "minPrice": plain(inst.tick_size),
                    "tickSize": plain(inst.tick_size),
                },
                "quantity": {
                    "maxQuantity": None,
                    "minQuantity": plain(inst.min_size),
                    "stepSize": plain(inst.step_size),
                },
            },
            "fundingInterval": 3_600_000,
            "fundingRateLowerBound": "-100",
            "fundingRateUpperBound": "100",
            "imfFunction": {"base": "0.02", "factor": "0.00006", "type": "sqrt"},
            "marketType": "PERP",
            "mmfFunction": {"base": "0.0135", "factor": "0.000036", "type": "sqrt"},
            "openInterestLimit": "4000000",
            "orderBookState": "Open",
            "positionLimitWeight": "1",
            "quoteSymbol": inst.quote,
            "rwaMarketType": None,
            "symbol": m.wire,
            "visible": True,
        }


__all__ = ["Market", "Order", "State", "Terms"]
