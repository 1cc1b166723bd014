"""Positions and PnL from our fills.

The engine keeps one ``PositionState`` per (venue, symbol) and one per
(strategy, venue, symbol), so both the account and each strategy have a signed
size, an average entry, realized PnL, fees and volume.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator

from connectors.position_math import PositionState

__all__ = ["PositionBook", "PositionState"]


class PositionBook:
    """Position states keyed by any hashable key, created on first use."""

    def __init__(self) -> None:
        self._states: dict[Hashable, PositionState] = {}

    def get(self, key: Hashable) -> PositionState:
        state = self._states.get(key)
        if state is None:
            state = self._states[key] = PositionState()
        return state

    def peek(self, key: Hashable) -> PositionState | None:
        return self._states.get(key)

    def items(self) -> Iterator[tuple[Hashable, PositionState]]:
        return iter(list(self._states.items()))

    def __len__(self) -> int:
        return len(self._states)
