"""A sim venue's accounts: each one's positions and collateral, the events it is told
(its listeners: order updates, fills, positions) and its fills, the last ``history_size``
of them (oldest forgotten first), for fill history."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from decimal import Decimal

from connectors.base import ZERO, Balance, Event, Fill, Position
from connectors.position_math import PositionState

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
        return [Balance(self.venue, self.collateral_asset, total + unrealized, total)]


__all__ = ["AccountListener", "SimAccounts"]
