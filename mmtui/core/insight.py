"""The parts behind the console's venue and history views, composed once for the
engine: ``VenueWatch`` (accounts, funding, tape, round trips), ``PnlHistory`` and
``ParamEditor``. The engine feeds it events and runs its loops; the read model
reads it."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mmtui.core.clock import Clock
from mmtui.core.gateway import VenueGateway
from mmtui.core.markets import Markets
from mmtui.core.params import ParamEditor
from mmtui.core.pnl_history import PnlHistory
from mmtui.core.positions import PositionBook
from mmtui.core.risk import RiskEngine
from mmtui.core.venue_watch import VenueWatch

if TYPE_CHECKING:
    from mmtui.core.runner import StrategyRunner


class Insight:
    def __init__(
        self,
        *,
        clock: Clock,
        markets: Markets,
        gateways: Mapping[str, VenueGateway],
        risk: RiskEngine,
        strategies: Mapping[str, StrategyRunner],
        strategy_positions: PositionBook,
        session_pnl: Callable[[], Decimal],
        subscribed: Callable[[], set[tuple[str, str]]],
        note_event: Callable[[str, str], None],
    ) -> None:
        self._markets = markets
        self._strategies = strategies
        self._strategy_positions = strategy_positions
        self.subscribed = subscribed
        self.watch = VenueWatch(
            clock=clock,
            markets=markets,
            gateways=gateways,
            note_event=note_event,
            symbols=lambda venue: sorted(s for v, s in subscribed() if v == venue),
        )
        self.pnl = PnlHistory(clock=clock, total=session_pnl, strategies=self._strategy_pnl)
        self.params = ParamEditor(
            strategies=strategies, markets=markets, risk=risk, note_event=note_event
        )

    def _strategy_pnl(self) -> dict[str, Decimal]:
        """Each strategy's net PnL on its main market (as its row in the console)."""
        out = {}
        for name, runner in self._strategies.items():
            state = self._strategy_positions.peek((name, runner.venue, runner.symbol))
            mark = self._markets.mark(runner.venue, runner.symbol)
            out[name] = state.net_pnl(mark) if state is not None else Decimal(0)
        return out

    def loops(self) -> list[tuple[Coroutine[Any, Any, None], str]]:
        return [(self.watch.run(), "venue accounts"), (self.pnl.run(), "pnl history")]


__all__ = ["Insight"]
