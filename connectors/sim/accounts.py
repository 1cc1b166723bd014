"""A sim venue's accounts: each one's positions and collateral, the events it is told
(its listeners: order updates, fills, positions) and its fills, the last ``history_size``
of them (oldest forgotten first), for fill history."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from decimal import Decimal

from connectors.base import (
    ZERO,
    AccountState,
    Balance,
    Event,
    Fill,
    FundingPayment,
    Instrument,
    Liquidity,
    MarketAccount,
    OrderStatus,
    Position,
    Side,
)
from connectors.position_math import PositionState
from connectors.sim.funding import funding_amount
from connectors.sim.orders import OrderRecord

AccountListener = Callable[[Event], None]


class SimAccounts:
    def __init__(
        self,
        venue: str,
        *,
        starting_collateral: Decimal,
        collateral_asset: str,
        history_size: int,
        mark: Callable[[str], Decimal | None],
        now_ms: Callable[[], int],
    ) -> None:
        self.venue = venue
        self.starting_collateral = starting_collateral
        self.collateral_asset = collateral_asset
        self.history_size = history_size
        self._mark = mark
        """Symbol -> the mid of its book (None without both sides): unrealized PnL."""
        self._now_ms = now_ms
        self._listeners: dict[str, list[AccountListener]] = {}
        self._positions: dict[tuple[str, str], PositionState] = {}
        self._fills: dict[str, deque[Fill]] = {}
        self._funding: dict[tuple[str, str], Decimal] = {}
        """(account, symbol) -> funding the account got there (negative: paid)."""

    def on_event(self, account: str, listener: AccountListener) -> None:
        self._listeners.setdefault(account, []).append(listener)

    def remove_listener(self, account: str, listener: AccountListener) -> None:
        listeners = self._listeners.get(account, [])
        if listener in listeners:
            listeners.remove(listener)

    def emit(self, account: str, event: Event) -> None:
        """Tell the account's listeners (a fill is remembered first)."""
        if isinstance(event, Fill):
            history = self._fills.get(account)
            if history is None:
                history = self._fills[account] = deque(maxlen=self.history_size)
            history.append(event)
        for listener in list(self._listeners.get(account, ())):
            listener(event)

    def fills_since(self, account: str, since_ms: int, symbol: str | None = None) -> list[Fill]:
        """The account's fills at or after ``since_ms``, oldest first. The history is
        in time order: read back from the newest until ``since_ms`` (cost: the answer)."""
        recent: list[Fill] = []
        for f in reversed(self._fills.get(account, ())):
            if f.ts_ms < since_ms:
                break
            if symbol is None or f.symbol == symbol:
                recent.append(f)
        recent.reverse()
        return recent

    def book_fill(
        self,
        inst: Instrument,
        record: OrderRecord,
        order_id: int,
        side: Side,
        price_ticks: int,
        lots: int,
        liquidity: Liquidity,
        trade_id: str,
        ts_ms: int,
    ) -> Fill:
        """``lots`` of an account's order filled at ``price_ticks``: the order record, the
        position and its fee (the instrument's maker or taker rate on the notional;
        negative: a rebate), and the ``Fill`` the account is told."""
        price, size = inst.ticks_to_price(price_ticks), inst.lots_to_size(lots)
        rate = inst.maker_fee if liquidity is Liquidity.MAKER else inst.taker_fee
        fee = price * size * rate
        record.filled_lots += lots
        if record.filled_lots < record.size_lots:
            record.status = OrderStatus.PARTIALLY_FILLED
        self.position(record.account, inst.symbol).apply_fill(side, price, size, fee)
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
            trade_id=trade_id,
            ts_ms=ts_ms,
        )
        self.emit(record.account, fill)
        return fill

    def position(self, account: str, symbol: str) -> PositionState:
        key = (account, symbol)
        state = self._positions.get(key)
        if state is None:
            state = self._positions[key] = PositionState()
        return state

    def position_event(self, account: str, symbol: str, state: PositionState) -> Position:
        return Position(
            venue=self.venue,
            symbol=symbol,
            size=state.size,
            entry_price=state.entry_price,
            unrealized_pnl=state.unrealized_pnl(self._mark(symbol)),
            realized_pnl=state.realized_pnl,
            ts_ms=self._now_ms(),
        )

    def positions(self, account: str) -> list[Position]:
        out = []
        for (acct, symbol), state in self._positions.items():
            if acct == account:
                out.append(self.position_event(account, symbol, state))
        return out

    def balances(self, account: str) -> list[Balance]:
        total = self.starting_collateral
        unrealized = ZERO
        for (acct, symbol), state in self._positions.items():
            if acct != account:
                continue
            total += state.realized_pnl - state.fees
            unrealized += state.unrealized_pnl(self._mark(symbol))
        total += sum((v for (acct, _), v in self._funding.items() if acct == account), ZERO)
        return [Balance(self.venue, self.collateral_asset, total + unrealized, total)]

    # -- funding and margin ------------------------------------------------------

    def funding(self, account: str, symbol: str) -> Decimal:
        """Funding the account got on ``symbol`` so far (negative: it paid)."""
        return self._funding.get((account, symbol), ZERO)

    def settle_funding(self, symbol: str, rate: Decimal) -> None:
        """Every account with a position on ``symbol`` gets (or pays) one interval's
        funding at the mark; each is told (a ``FundingPayment``, then its balance)."""
        mark = self._mark(symbol)
        if mark is None:
            return
        for (account, sym), state in list(self._positions.items()):
            if sym != symbol or state.size == 0:
                continue
            amount = funding_amount(state.size, mark, rate)
            key = (account, symbol)
            self._funding[key] = self._funding.get(key, ZERO) + amount
            self.emit(
                account,
                FundingPayment(self.venue, symbol, amount, rate, state.size, self._now_ms()),
            )
            for balance in self.balances(account):
                self.emit(account, balance)

    def account(
        self,
        account: str,
        instruments: dict[str, Instrument],
        symbols: list[str],
        funding_rate: Decimal,
        next_funding_ms: int | None,
    ) -> AccountState:
        """Cross margin on the collateral: initial margin 1/max leverage, maintenance
        half of it; a market's liquidation price is where the account's equity would
        meet its maintenance margin if only that market's price moved."""
        [balance] = self.balances(account)
        equity = balance.total
        notional = margin = ZERO
        markets: list[MarketAccount] = []
        held = {s for (a, s), st in self._positions.items() if a == account and st.size != 0}
        for symbol in sorted(set(symbols) | held):
            inst = instruments.get(symbol)
            state = self._positions.get((account, symbol), PositionState())
            mark = self._mark(symbol)
            imr = 1 / inst.max_leverage if inst is not None and inst.max_leverage else Decimal(1)
            value = abs(state.size) * mark if mark is not None else ZERO
            notional += value
            margin += value * imr
            markets.append(
                MarketAccount(
                    symbol=symbol,
                    position_size=state.size,
                    leverage=value / equity if equity > 0 and state.size != 0 else None,
                    liquidation_price=_liquidation(state.size, mark, equity, imr / 2),
                    funding_rate=funding_rate,
                    next_funding_ms=next_funding_ms,
                    funding=self.funding(account, symbol),
                )
            )
        return AccountState(
            venue=self.venue,
            balances=(balance,),
            equity=equity,
            margin_used=margin,
            available=max(ZERO, equity - margin),
            leverage=notional / equity if equity > 0 else None,
            markets=tuple(markets),
            ts_ms=self._now_ms(),
        )


def _liquidation(
    size: Decimal, mark: Decimal | None, equity: Decimal, mmr: Decimal
) -> Decimal | None:
    """The price P where equity + size * (P - mark) = mmr * |size| * P (None: flat, or
    no positive price gets there)."""
    if size == 0 or mark is None:
        return None
    denominator = size - mmr * abs(size)
    if denominator == 0:
        return None
    price = (size * mark - equity) / denominator
    return price.quantize(Decimal("0.01")) if price > 0 else None


__all__ = ["AccountListener", "SimAccounts"]
