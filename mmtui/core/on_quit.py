"""What quitting leaves on the venues: each strategy's ``on_quit``.

``cancel`` (the default): the shutdown cancels every order of the strategy.
``keep_exits``: its resting reduce-only exits (take-profits, a reduce-only
quote at the limit) stay on the venue, so the position it leaves still has its
way out; everything else of it is cancelled. An exit is kept only once the
venue has it resting (open or partly filled, a GTC limit, no cancel asked): a
pending one's fate is unknown, it is cancelled. A reduce-only order can only
make the position smaller, and a restart hands the kept orders back to the
strategy (the journal proves them ours).

A venue's dead-man's switch (Lighter's scheduled cancel-all, GRVT's
cancel-on-disconnect) would cancel them after we are gone. Connectors disarm
theirs at a clean close; the shutdown asks each venue with kept exits whether
it did (``connectors.base.DeadManSwitched``) and the run summary says so --
or warns that the venue will cancel them at the switch's deadline.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from connectors.base import Connector, DeadManSwitched, OrderStatus, OrderType, TimeInForce
from mmtui.core.orders import Order, OrderManager

if TYPE_CHECKING:
    from mmtui.core.runner import StrategyRunner

KEEP_EXITS = "keep_exits"
_RESTING = frozenset({OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED})


def is_resting_exit(order: Order) -> bool:
    """A reduce-only GTC limit the venue has resting, not being cancelled."""
    return (
        order.reduce_only
        and order.type is OrderType.LIMIT
        and order.time_in_force is TimeInForce.GTC
        and order.status in _RESTING
        and not order.cancel_requested
    )


def exits_to_keep(
    strategies: Mapping[str, StrategyRunner], orders: OrderManager
) -> dict[str, frozenset[str]]:
    """Per strategy with ``on_quit: keep_exits``: the client ids of the exits it keeps."""
    out: dict[str, frozenset[str]] = {}
    for name, runner in strategies.items():
        if getattr(runner.params, "on_quit", "cancel") != KEEP_EXITS:
            continue
        out[name] = frozenset(o.client_id for o in orders.live(strategy=name) if is_resting_exit(o))
    return out


def dead_man_notes(connectors: Mapping[str, Connector], kept: Iterable[Order]) -> list[str]:
    """After the connections closed: for each venue with kept exits, whether its
    dead-man's switch will cancel them."""
    counts: dict[str, int] = {}
    for order in kept:
        counts[order.venue] = counts.get(order.venue, 0) + 1
    notes = []
    for venue, n in sorted(counts.items()):
        conn = connectors.get(venue)
        armed = conn.dead_man_armed if isinstance(conn, DeadManSwitched) else None
        if armed is None:
            continue  # no switch: nothing will cancel them
        if armed:
            notes.append(
                f"WARNING {venue}: its dead-man's switch could not be disarmed at close: the "
                f"venue will cancel the {n} kept exit(s) at the switch's deadline"
            )
        else:
            notes.append(f"{venue}: dead-man's switch disarmed at close: the {n} kept exit(s) stay")
    return notes


__all__ = ["KEEP_EXITS", "dead_man_notes", "exits_to_keep", "is_resting_exit"]
