"""What each strategy holds when a run starts: its journal, checked against the account.

A strategy's inventory is rebuilt from the fills journaled under its name — but
the venue's account is the truth: a fresh sim venue, a manual close, another
tool, a liquidation all change the account without our journal knowing. So per
market, the strategies' journaled inventories (their claims) are compared with
the position the venue reports at start:

* they agree: each strategy starts with its claim (size and entry);
* they disagree: the console shows it, the log says by how much, and the
  ``inventory_at_start`` setting decides:
  - ``start_flat`` (the default): every strategy on that market starts flat; the
    account's position is shown as nobody's;
  - ``adopt_account``: the strategies take what the account holds — one strategy
    on the market takes all of it (at the venue's entry price); several keep
    their claims cut down, in order, to what the account holds on the claims'
    side.

Either way no strategy starts holding what the account does not.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from connectors.base import ZERO, Side
from connectors.position_math import PositionState

Market = tuple[str, str]
"""(venue, symbol)"""
Key = tuple[str, str, str]
"""(strategy, venue, symbol)"""


class InventoryPolicy(enum.StrEnum):
    START_FLAT = "start_flat"
    ADOPT_ACCOUNT = "adopt_account"


@dataclass(frozen=True, slots=True)
class Holding:
    size: Decimal
    entry_price: Decimal


@dataclass(frozen=True, slots=True)
class Mismatch:
    venue: str
    symbol: str
    account: Decimal
    claims: tuple[tuple[str, Decimal], ...]
    """(strategy, journaled size) for each strategy on the market."""
    assigned: tuple[tuple[str, Decimal], ...]
    """(strategy, size it starts with)."""
    policy: InventoryPolicy

    @property
    def claimed(self) -> Decimal:
        return sum((size for _, size in self.claims), ZERO)

    @property
    def unassigned(self) -> Decimal:
        return self.account - sum((size for _, size in self.assigned), ZERO)

    def describe(self) -> str:
        claims = ", ".join(f"{name} {size}" for name, size in self.claims) or "none"
        starts = ", ".join(f"{name} {size}" for name, size in self.assigned) or "none"
        return (
            f"{self.venue} {self.symbol}: the journal says the strategies hold {self.claimed} "
            f"({claims}), the account holds {self.account}: they differ by "
            f"{self.account - self.claimed}; {self.policy.value}: they start with {starts}"
            + (f", {self.unassigned} is nobody's" if self.unassigned else "")
        )


def journal_claims(fills: Iterable[Mapping[str, object]], strategy: str) -> dict[Key, Holding]:
    """A strategy's inventory per market from its journaled fills (any run)."""
    states: dict[Market, PositionState] = {}
    for f in fills:
        market = (str(f["venue"]), str(f["symbol"]))
        state = states.setdefault(market, PositionState())
        state.apply_fill(
            Side(str(f["side"])),
            Decimal(str(f["price"])),
            Decimal(str(f["size"])),
            Decimal(str(f.get("fee") or 0)),
        )
    return {
        (strategy, venue, symbol): Holding(state.size, state.entry_price)
        for (venue, symbol), state in states.items()
    }


def starting_inventory(
    strategies: Mapping[str, Iterable[Market]],
    claims: Mapping[Key, Holding],
    account: Mapping[Market, Holding],
    policy: InventoryPolicy,
) -> tuple[dict[Key, Holding], list[Mismatch]]:
    """Each strategy's starting holding per market it trades, and the disagreements."""
    by_market: dict[Market, list[str]] = {}
    for name, markets in strategies.items():
        for market in markets:
            by_market.setdefault(market, []).append(name)
    start: dict[Key, Holding] = {}
    mismatches: list[Mismatch] = []
    for market, names in by_market.items():
        venue, symbol = market
        held = account.get(market, Holding(ZERO, ZERO))
        mine = {n: claims.get((n, venue, symbol), Holding(ZERO, ZERO)) for n in names}
        claimed = sum((h.size for h in mine.values()), ZERO)
        if claimed == held.size:
            for n, h in mine.items():
                if h.size != 0:
                    start[(n, venue, symbol)] = h
            continue
        assigned = _resolve(names, mine, held, policy)
        for n, h in assigned.items():
            if h.size != 0:
                start[(n, venue, symbol)] = h
        mismatches.append(
            Mismatch(
                venue,
                symbol,
                held.size,
                tuple((n, mine[n].size) for n in names),
                tuple((n, assigned.get(n, Holding(ZERO, ZERO)).size) for n in names),
                policy,
            )
        )
    return start, mismatches


def _resolve(
    names: list[str], mine: Mapping[str, Holding], held: Holding, policy: InventoryPolicy
) -> dict[str, Holding]:
    if policy is InventoryPolicy.START_FLAT or held.size == 0:
        return {}
    if len(names) == 1:
        return {names[0]: held}
    out: dict[str, Holding] = {}
    left = abs(held.size)
    sign = 1 if held.size > 0 else -1
    for n in names:
        claim = mine[n].size
        if claim == 0 or (claim > 0) != (sign > 0) or left == 0:
            continue
        take = min(abs(claim), left)
        left -= take
        out[n] = Holding(sign * take, mine[n].entry_price)
    return out


__all__ = [
    "Holding",
    "InventoryPolicy",
    "Mismatch",
    "journal_claims",
    "starting_inventory",
]
