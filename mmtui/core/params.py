"""A running strategy's parameters: every one to read, the safe ones (its Params'
``LIVE``) to change while it runs. A change is validated by the strategy's own
model (its cross-checks too), an order size is held to the risk limits at the
current mark, and the change is journaled as an event; a refused change names the
parameter and why, and leaves the strategy as it was."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from pydantic import ValidationError

from mmtui.core.markets import EngineError, Markets
from mmtui.core.risk import RiskEngine

if TYPE_CHECKING:
    from mmtui.core.runner import StrategyRunner

log = logging.getLogger("mmtui.params")


class ParamError(EngineError):
    """A parameter change refused: the message names the parameter and why."""


@dataclass(frozen=True, slots=True)
class ParamRow:
    name: str
    value: str
    live: bool
    """May be changed while the strategy runs."""
    description: str


class ParamEditor:
    def __init__(
        self,
        *,
        strategies: Mapping[str, StrategyRunner],
        markets: Markets,
        risk: RiskEngine,
        note_event: Callable[[str, str], None],
    ) -> None:
        self._strategies = strategies
        self._markets = markets
        self._risk = risk
        self._note_event = note_event

    def rows(self, strategy: str) -> tuple[ParamRow, ...]:
        runner = self._runner(strategy)
        params = runner.strategy.params
        live = type(params).LIVE
        return tuple(
            ParamRow(
                name,
                _text(getattr(params, name)),
                name in live,
                field.description or "",
            )
            for name, field in type(params).model_fields.items()
        )

    def edit(self, strategy: str, name: str, text: str) -> str:
        """Set ``name`` to ``text`` (``none`` for an optional one); returns what changed."""
        runner = self._runner(strategy)
        old = runner.strategy.params
        model = type(old)
        if name not in model.model_fields:
            raise ParamError(f"{strategy}: no parameter {name!r}")
        if name not in model.LIVE:
            raise ParamError(f"{strategy}: {name} cannot change while running (restart it)")
        raw = text.strip()
        value: object = None if raw.lower() in ("", "none") else raw
        try:
            new = model.model_validate({**old.model_dump(), name: value})
        except ValidationError as exc:
            problem = "; ".join(e["msg"] for e in exc.errors())
            raise ParamError(f"{strategy}: {name}={raw!r} refused: {problem}") from None
        if name in model.SIZES:
            self._check_size(runner, name, getattr(new, name))
        before, after = _text(getattr(old, name)), _text(getattr(new, name))
        if before == after:
            return f"{strategy}: {name} unchanged ({after})"
        runner.strategy.apply_params(new)
        runner.params = new
        change = f"{strategy}: {name} {before} -> {after}"
        self._note_event("params", change)
        return change

    def _check_size(self, runner: StrategyRunner, name: str, size: object) -> None:
        if size is None:
            return
        if not isinstance(size, Decimal):
            raise ParamError(f"{runner.name}: {name} must be a number")
        limits = self._risk.limits
        per_symbol = limits.symbols.get(runner.symbol)
        cap = per_symbol.max_order_size if per_symbol is not None else None
        if cap is not None and size > cap:
            raise ParamError(
                f"{runner.name}: {name}={size} refused: above the risk limit "
                f"max_order_size {cap} for {runner.symbol}"
            )
        mark = self._markets.mark(runner.venue, runner.symbol)
        if limits.max_order_notional is not None:
            if mark is None:
                raise ParamError(
                    f"{runner.name}: {name} refused: no mark on {runner.venue} {runner.symbol} "
                    "to check it against max_order_notional"
                )
            if size * mark > limits.max_order_notional:
                raise ParamError(
                    f"{runner.name}: {name}={size} refused: {size * mark:.2f} at the mark is "
                    f"above the risk limit max_order_notional {limits.max_order_notional}"
                )

    def _runner(self, strategy: str) -> StrategyRunner:
        runner = self._strategies.get(strategy)
        if runner is None:
            raise ParamError(f"no strategy named {strategy!r}")
        return runner


def _text(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, Decimal):
        try:
            return format(value.normalize(), "f")
        except InvalidOperation:
            return str(value)
    return str(value)


__all__ = ["ParamEditor", "ParamError", "ParamRow"]
