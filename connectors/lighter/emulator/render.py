"""The JSON forms the emulator answers with, as the real venue sends them (recorded payloads
in tests/fixtures/venues/lighter/; tests/lighter/test_emulator_forms.py holds the two side by
side): decimal strings with the market's decimals, timestamps in ms (``transaction_time`` and
``last_updated_at`` in us), a trade's fee rates in millionths and left out when zero."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

from connectors.base import ZERO, Liquidity, Side, Trade
from connectors.emulation.accounts import sim_mid
from connectors.lighter.emulator import wire as w
from connectors.lighter.emulator.state import (
    CROWD_ACCOUNT,
    CROWD_IDS,
    IMF,
    INSURANCE_FUND,
    TAKER_ACCOUNT,
    Account,
    Market,
    Order,
    Stash,
)
from connectors.sim.venue import SimVenue


class Render:
    """JSON of orders, trades, positions, accounts, markets (a mixin of the dialect)."""

    venue: SimVenue
    _block: int
    _trade_seq: int
    _markets: dict[str, Market]
    _by_id: dict[int, Market]
    _by_sim: dict[str, Market]
    _last_tx_hash: dict[int, str]

    def _mid(self, m: Market) -> Decimal | None:
        mid: Decimal | None = sim_mid(self.venue, m.inst.symbol)
        return mid

    # -- markets -------------------------------------------------------------------------

    def _order_book_json(self, m: Market) -> dict[str, Any]:
        inst = m.inst
        return {
            "symbol": m.wire,
            "market_id": m.market_id,
            "market_type": "perp",
            "base_asset_id": 0,
            "quote_asset_id": 0,
            "status": "active",
            "taker_fee": w.fmt(inst.taker_fee * 100, 4),
            "is_taker_fee_enabled": True,
            "maker_fee": w.fmt(inst.maker_fee * 100, 4),
            "is_maker_fee_enabled": True,
            "liquidation_fee": "1.0000",
            "min_base_amount": m.size(inst.min_size),
            "min_quote_amount": w.fmt(inst.min_notional, 6),
            "order_quote_limit": "281474976.710655",
            "supported_size_decimals": m.size_dp,
            "supported_price_decimals": m.price_dp,
            "supported_quote_decimals": 6,
        }

    def _order_book_detail(self, m: Market) -> dict[str, Any]:
        mark = self._mid(m) or ZERO
        last = m.last_price if m.last_price is not None else mark
        first = m.first_price if m.first_price is not None else last
        return self._order_book_json(m) | {
            "size_decimals": m.size_dp,
            "price_decimals": m.price_dp,
            "quote_multiplier": 1,
            "default_initial_margin_fraction": 500,
            "min_initial_margin_fraction": 500,
            "maintenance_margin_fraction": 300,
            "closeout_margin_fraction": 200,
            # JSON numbers here, as recorded (and as the SDK model wants)
            "last_trade_price": float(last),
            "daily_trades_count": m.trade_count,
            "daily_base_token_volume": float(m.volume),
            "daily_quote_token_volume": float(m.quote_volume),
            "daily_price_low": float(m.low if m.low is not None else last),
            "daily_price_high": float(m.high if m.high is not None else last),
            "daily_price_change": float((last - first) / first * 100 if first else ZERO),
            "open_interest": 0,
            "daily_chart": {},
            "market_config": {
                "market_margin_mode": 0,
                "insurance_fund_account_index": INSURANCE_FUND,
                "liquidation_mode": 0,
                "force_reduce_only": False,
                "trading_hours": "",
                "funding_fee_discounts_enabled": False,
                "hidden": False,
                "rfq_enabled": False,
            },
            "strategy_index": 0,
        }

    def _market_stats(self, m: Market) -> dict[str, Any]:
        mark = self._mid(m) or ZERO
        last = m.last_price if m.last_price is not None else mark
        first = m.first_price if m.first_price is not None else last
        funding = self.venue.funding
        percent = w.fmt(funding.rate * 100, 4)  # ccxt's recorded "0.0012": a percentage (guess)
        nxt = funding.next_ms or (self.venue.now_ms // funding.interval_ms + 1) * (
            funding.interval_ms
        )
        return {
            "symbol": m.wire,
            "market_id": m.market_id,
            "index_price": m.price(mark),
            "mark_price": m.price(mark),
            "mid_price": m.price(mark),
            "open_interest": "0",
            "last_trade_price": m.price(last),
            "current_funding_rate": percent,
            "funding_rate": percent,
            "funding_timestamp": nxt,
            "daily_base_token_volume": float(m.volume),
            "daily_quote_token_volume": float(m.quote_volume),
            "daily_price_low": float(m.low if m.low is not None else last),
            "daily_price_high": float(m.high if m.high is not None else last),
            "daily_price_change": float((last - first) / first * 100 if first else ZERO),
            "daily_trades_count": m.trade_count,
        }

    def _level(self, m: Market, price: int, lots: int) -> dict[str, str]:
        return {
            "price": m.price(m.inst.ticks_to_price(price)),
            "size": m.size(m.inst.lots_to_size(lots)),
        }

    def _book_snapshot(self, m: Market) -> dict[str, Any]:
        """``subscribed/order_book``: every level; ``begin_nonce`` 0 (recorded)."""
        bids, asks, _ = self.venue.snapshot(m.inst.symbol, 10_000)
        m.offset += 1
        now_us = self.venue.now_ms * 1000
        return {
            "offset": m.offset,
            "last_updated_at": now_us,
            "timestamp": self.venue.now_ms,
            "order_book": {
                "code": 0,
                "asks": [self._level(m, p, q) for p, q in asks],
                "bids": [self._level(m, p, q) for p, q in bids],
                "offset": m.offset,
                "nonce": m.nonce,
                "last_updated_at": now_us,
                "begin_nonce": 0,
            },
        }

    def _simple_order(
        self,
        oid: int,
        owner: int,
        initial: Decimal,
        remaining: Decimal,
        m: Market,
        price: Decimal,
        expiry: int,
    ) -> dict[str, Any]:
        return {
            "order_index": oid,
            "order_id": str(oid),
            "owner_account_index": owner,
            "initial_base_amount": m.size(initial),
            "remaining_base_amount": m.size(remaining),
            "price": m.price(price),
            "order_expiry": expiry,
            "transaction_time": 0,
        }

    # -- orders ----------------------------------------------------------------------------

    def _order_json(self, o: Order) -> dict[str, Any]:
        m = o.market
        return {
            "order_index": o.order_index,
            "client_order_index": o.coi,
            "order_id": str(o.order_index),
            "client_order_id": str(o.coi),
            "market_index": m.market_id,
            "owner_account_index": o.account.index,
            "initial_base_amount": m.size(o.initial),
            "price": m.price(o.price),
            "nonce": o.nonce,
            "remaining_base_amount": m.size(o.remaining),
            "is_ask": o.is_ask,
            "base_size": w.scaled(o.initial, m.size_dp),
            "base_price": w.scaled(o.price, m.price_dp),
            "filled_base_amount": m.size(o.filled),
            "filled_quote_amount": w.fmt(o.filled_quote, 6),
            "side": "sell" if o.is_ask else "buy",
            "type": o.type,
            "time_in_force": o.tif,
            "reduce_only": o.reduce_only,
            "trigger_price": m.price(ZERO),
            "order_expiry": o.order_expiry,
            "status": o.status,
            "trigger_status": "na",
            "trigger_time": 0,
            "parent_order_index": 0,
            "parent_order_id": "0",
            "to_trigger_order_id_0": "0",
            "to_trigger_order_id_1": "0",
            "to_cancel_order_id_0": "0",
            "integrator_fee_collector_index": "0",
            "integrator_taker_fee": "0",
            "integrator_maker_fee": "0",
            "block_height": self._block,
            "timestamp": o.updated_ms,
            "created_at": o.created_ms,
            "updated_at": o.updated_ms,
            "transaction_time": o.updated_ms * 1000,
            # in the SDK 1.1.8 model, not in the recorded (older) schema
            "order_flags": 0,
            "order_version": o.version,
            "market_symbol": m.wire,
            "market_kind": "perps",
        }

    # -- accounts and positions --------------------------------------------------------------

    def _money(self, acct: Account) -> tuple[Decimal, Decimal, Decimal]:
        """(collateral, total asset value, available balance)."""
        bal = self.venue.balances(acct.sim)[0]
        margin = ZERO
        for p in self.venue.positions(acct.sim):
            m = self._by_sim.get(p.symbol)
            if m is None or p.size == 0:
                continue
            margin += abs(p.size) * (self._mid(m) or p.entry_price) * IMF
        return bal.available, bal.total, max(ZERO, bal.total - margin)

    def _position_markets(self, acct: Account) -> list[Market]:
        seen = {
            self._by_sim[p.symbol].market_id
            for p in self.venue.positions(acct.sim)
            if p.symbol in self._by_sim
        }
        return [self._by_id[i] for i in sorted(seen)]

    def _position_json(self, acct: Account, market_id: int) -> dict[str, Any]:
        m = self._by_id[market_id]
        p = acct.positions.get(market_id)
        if p is None:
            found = [q for q in self.venue.positions(acct.sim) if q.symbol == m.inst.symbol]
            p = found[0] if found else None
        size = p.size if p is not None else ZERO
        entry = p.entry_price if p is not None else ZERO
        mark = self._mid(m) or entry
        unrealized = (mark - entry) * size if size else ZERO
        live = sum(1 for o in acct.live.values() if o.market is m)
        return {
            "market_id": market_id,
            "symbol": m.wire,
            "initial_margin_fraction": "5.00",
            "open_order_count": live,
            "pending_order_count": 0,
            "position_tied_order_count": 0,
            "sign": -1 if size < 0 else 1,  # recorded: a flat position says 1
            "position": m.size(abs(size)),
            "avg_entry_price": m.price(entry),
            "position_value": w.fmt(abs(size) * mark, 6),
            "unrealized_pnl": w.fmt(unrealized, 6),
            "realized_pnl": w.fmt(p.realized_pnl if p is not None else ZERO, 6),
            "liquidation_price": self._liquidation(acct, m),
            "total_funding_paid_out": w.fmt(
                -self.venue.accounts.funding(acct.sim, m.inst.symbol), 8
            ),
            "margin_mode": 0,
            "allocated_margin": "0.000000",
            "total_discount": "0",
        }

    def _liquidation(self, acct: Account, m: Market) -> str:
        """The sim account's liquidation price on the market ("0": none, as recorded)."""
        for market in self.venue.account(acct.sim, [m.inst.symbol]).markets:
            if market.symbol == m.inst.symbol and market.liquidation_price is not None:
                return m.price(market.liquidation_price)
        return "0"

    def _funding_rates(self, request: Any) -> dict[str, Any]:
        """``GET /api/v1/funding-rates`` as ccxt's comment records it: a JSON float
        ``rate`` per market and exchange (here only the venue's own)."""
        rate = float(self.venue.funding.rate)
        return {
            "code": w.CODE_OK,
            "funding_rates": [
                {"market_id": m.market_id, "exchange": "lighter", "symbol": m.wire, "rate": rate}
                for m in sorted(self._by_id.values(), key=lambda m: m.market_id)
            ],
        }

    def _base_account(self, acct: Account) -> dict[str, Any]:
        collateral, _, available = self._money(acct)
        return {
            "code": 0,
            "account_type": 0,
            "index": acct.index,
            "l1_address": acct.l1_address,
            "cancel_all_time": acct.schedule[0] if acct.schedule else 0,
            "total_order_count": len(acct.live),
            "total_isolated_order_count": 0,
            "pending_order_count": 0,
            "available_balance": w.fmt(available, 6),
            "status": 1,
            "collateral": w.fmt(collateral, 6),
            "transaction_time": self.venue.now_ms * 1000,
            "account_trading_mode": 0,
        }

    def _detailed_account(self, acct: Account) -> dict[str, Any]:
        collateral, total, _ = self._money(acct)
        return self._base_account(acct) | {
            "account_index": acct.index,
            "name": acct.sim,
            "description": "",
            "can_invite": False,
            "referral_points_percentage": "",
            "can_rfq": False,
            "can_rfq_market_ids": None,
            "created_at": 0,
            "metadata": {"color": ""},
            "positions": [
                self._position_json(acct, m.market_id) for m in self._position_markets(acct)
            ],
            "assets": [
                {
                    "symbol": self.venue.collateral_asset,
                    "asset_id": 3,
                    "balance": w.fmt(collateral, 6),
                    "locked_balance": "0.000000",
                    "margin_mode": "enabled",
                    "margin_balance": w.fmt(collateral, 6),
                }
            ],
            "total_asset_value": w.fmt(total, 6),
            "cross_asset_value": w.fmt(total, 6),
            "cross_initial_margin_requirement": w.fmt(
                self.venue.account(acct.sim, []).margin_used or ZERO, 6
            ),
            "cross_maintenance_margin_requirement": "0.000000",
            "shares": [],
            "pending_unlocks": [],
            "approved_integrators": [],
        }

    def _user_stats(self, acct: Account) -> dict[str, Any]:
        collateral, total, available = self._money(acct)
        notional = ZERO
        for p in self.venue.positions(acct.sim):
            m = self._by_sim.get(p.symbol)
            if m is not None and p.size:
                notional += abs(p.size) * (self._mid(m) or p.entry_price)
        leverage = notional / total if total > 0 else ZERO
        usage = (total - available) / total * 100 if total > 0 else ZERO
        stats = {
            "available_balance": w.fmt(available, 6),
            "buying_power": w.fmt(available / IMF, 6),
            "collateral": w.fmt(collateral, 6),
            "leverage": w.fmt(leverage, 2),
            "margin_usage": w.fmt(usage, 2),
            "portfolio_value": w.fmt(total, 6),
        }
        return (
            {"account_trading_mode": 0}
            | stats
            | {"cross_stats": dict(stats), "total_stats": dict(stats)}
        )

    # -- trades ----------------------------------------------------------------------------

    def _trade_json(self, m: Market, trade: Trade, stash: list[Stash]) -> dict[str, Any]:
        """A match of the sim, with our accounts' sides filled in from the stash."""
        taker_buys = trade.side is Side.BUY
        by_side: dict[Side, Stash] = {s.side: s for s in stash}
        maker_side = Side.SELL if taker_buys else Side.BUY
        ids: dict[Side, tuple[int, int, int]] = {}
        for side in (Side.BUY, Side.SELL):
            s = by_side.get(side)
            if s is not None:
                ids[side] = (s.order.order_index, s.order.coi, s.account.index)
            else:
                crowd = side is maker_side
                oid = CROWD_IDS + (2 * self._trade_seq if crowd else 2 * self._trade_seq + 1)
                ids[side] = (oid, 0, CROWD_ACCOUNT if crowd else TAKER_ACCOUNT)
        taker = by_side.get(trade.side)
        tx_hash = self._last_tx_hash.get(taker.order.order_index, "") if taker else ""
        out = self._trade_common(
            m, "trade", trade.price, trade.size, ids[Side.BUY], ids[Side.SELL], taker_buys, tx_hash
        )
        for role, s in (("taker", taker), ("maker", by_side.get(maker_side))):
            out |= self._before(m, role, s)
        return out | {"timestamp": trade.ts_ms, "transaction_time": trade.ts_ms * 1000}

    def _before(self, m: Market, role: str, s: Stash | None) -> dict[str, Any]:
        """The side's position before the trade (recorded in ``recentTrades``): signed
        size, its entry value, the margin fraction in 1e-4 (500 = 5 %)."""
        size, quote = ZERO, ZERO
        if s is not None:
            size = s.size_before
            p = s.account.positions.get(m.market_id)
            quote = abs(size) * (p.entry_price if p is not None else ZERO)
        return {
            f"{role}_position_size_before": m.size(size),
            f"{role}_entry_quote_before": w.fmt(quote, 6),
            f"{role}_initial_margin_fraction_before": 500,
        }

    def _liquidation_json(
        self, m: Market, acct: Account, side: Side, price: Decimal, size: Decimal, ts_ms: int
    ) -> dict[str, Any]:
        """A fill of the account that belongs to no order of its own: the venue's
        liquidation order (no client index) against the insurance fund, taker."""
        ours = (CROWD_IDS - 1 - self._trade_seq, 0, acct.index)
        fund = (CROWD_IDS + 2 * self._trade_seq, 0, INSURANCE_FUND)
        buy, sell = (ours, fund) if side is Side.BUY else (fund, ours)
        maker_is_ask = side is Side.BUY  # we take: the fund's order rested
        out = self._trade_common(m, "liquidation", price, size, buy, sell, maker_is_ask, "")
        before = acct.pos_size.get(m.market_id, ZERO)
        ours_before = Stash(acct, None, side, Liquidity.TAKER, before)  # type: ignore[arg-type]
        out |= self._before(m, "taker", ours_before) | self._before(m, "maker", None)
        return out | {"timestamp": ts_ms, "transaction_time": ts_ms * 1000}

    def _trade_common(
        self,
        m: Market,
        kind: str,
        price: Decimal,
        size: Decimal,
        buy: tuple[int, int, int],
        sell: tuple[int, int, int],
        maker_is_ask: bool,
        tx_hash: str,
    ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "trade_id": self._trade_seq,
            "trade_id_str": str(self._trade_seq),
            "tx_hash": tx_hash
            or hashlib.blake2b(f"trade-{self._trade_seq}".encode(), digest_size=40).hexdigest(),
            "type": kind,
            "market_id": m.market_id,
            "size": m.size(size),
            "price": m.price(price),
            "usd_amount": w.fmt(size * price, 6),
            "ask_id": sell[0],
            "ask_id_str": str(sell[0]),
            "bid_id": buy[0],
            "bid_id_str": str(buy[0]),
            "ask_client_id": sell[1],
            "ask_client_id_str": str(sell[1]),
            "bid_client_id": buy[1],
            "bid_client_id_str": str(buy[1]),
            "ask_account_id": sell[2],
            "bid_account_id": buy[2],
            "is_maker_ask": maker_is_ask,
            "block_height": self._block,
        }
        # fee rates in millionths; a zero one is left out (recorded recentTrades: no taker_fee)
        taker = w.fee_rate_units(m.inst.taker_fee)
        maker = w.fee_rate_units(m.inst.maker_fee)
        if kind == "trade" and taker:
            out["taker_fee"] = taker
        if kind == "trade" and maker:
            out["maker_fee"] = maker
        return out
