"""A replay venue's fills booked: the order record, the account's position and fee, the
``Fill`` the account is told (the sim's accounts and order records underneath)."""

from __future__ import annotations

from connectors.base import Fill, Instrument, Liquidity, OrderStatus, Side
from connectors.sim.accounts import SimAccounts
from connectors.sim.orders import OrderRecord


class Ledger:
    def __init__(self, venue: str, accounts: SimAccounts) -> None:
        self.venue = venue
        self.accounts = accounts
        self._trades = 0

    def fill(
        self,
        inst: Instrument,
        record: OrderRecord,
        order_id: int,
        side: Side,
        price_ticks: int,
        lots: int,
        liquidity: Liquidity,
        ts_ms: int,
    ) -> Fill:
        """``lots`` of the order filled at ``price_ticks``: the fee is the instrument's
        maker or taker rate on the notional (negative: a rebate)."""
        price, size = inst.ticks_to_price(price_ticks), inst.lots_to_size(lots)
        rate = inst.maker_fee if liquidity is Liquidity.MAKER else inst.taker_fee
        fee = price * size * rate
        record.filled_lots += lots
        if record.filled_lots < record.size_lots:
            record.status = OrderStatus.PARTIALLY_FILLED
        self.accounts.position(record.account, inst.symbol).apply_fill(side, price, size, fee)
        self._trades += 1
        fill = Fill(
            venue=self.venue,
            symbol=inst.symbol,
            client_id=record.client_id,
            venue_order_id=str(order_id),
            side=side,
            price=price,
            size=size,
            fee=fee,
            liquidity=liquidity,
            trade_id=f"{self.venue}-r{self._trades}",
            ts_ms=ts_ms,
        )
        self.accounts.emit(record.account, fill)
        return fill


__all__ = ["Ledger"]
