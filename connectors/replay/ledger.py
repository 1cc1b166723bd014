"""A replay venue's fills booked: the order record, the account's position and fee, the
``Fill`` the account is told (the sim's accounts and order records underneath)."""

from __future__ import annotations

from connectors.base import Fill, Instrument, Liquidity, Side
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
        self._trades += 1
        return self.accounts.book_fill(
            inst,
            record,
            order_id,
            side,
            price_ticks,
            lots,
            liquidity,
            f"{self.venue}-r{self._trades}",
            ts_ms,
        )


__all__ = ["Ledger"]
