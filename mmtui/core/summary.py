"""Reports the core hands to the CLI and the console: run summary, flatten results."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from connectors.base import ZERO
from connectors.position_math import PositionState

if TYPE_CHECKING:
    from mmtui.core.engine import Engine
    from mmtui.core.orders import Order


@dataclass(slots=True)
class VenuePosition:
    venue: str
    symbol: str
    size: Decimal
    entry_price: Decimal = ZERO
    unrealized_pnl: Decimal = ZERO
    mark: Decimal | None = None
    """The price ``unrealized_pnl`` is valued at (``Markets.mark``); None: no mark."""


@dataclass(slots=True)
class FlattenLine:
    venue: str
    ok: bool
    detail: str
    markets: list[str] = field(default_factory=list)
    """What is flat, per market: the strategy's share, the venue's position and whose
    any remainder is (``mmtui.core.flat_report``)."""

    def __str__(self) -> str:
        head = f"{'PASS' if self.ok else 'FAIL'} {self.venue}: {self.detail}"
        return "; ".join([head, *self.markets])


def describe_kept(order: Order) -> str:
    """One kept exit, as the run summary lists it."""
    return (
        f"{order.venue} {order.symbol} {order.side.value} {order.remaining} @ {order.price} "
        f"reduce-only, {order.client_id} of {order.strategy or '?'}"
        + (f" [{order.tag}]" if order.tag else "")
    )


@dataclass(slots=True)
class FlattenReport:
    """Outcome of a flatten, the kill switch or the shutdown: one line per venue."""

    action: str
    lines: list[FlattenLine] = field(default_factory=list)
    open_orders_left: int = 0
    """Orders of ours that may still rest: listed open by a venue, or unverified."""
    orders_unverified: int = 0
    """Of those, orders whose state no venue confirmed in time (it did not answer)."""
    kept: list[Order] = field(default_factory=list)
    """Reduce-only exits left resting on purpose (``on_quit: keep_exits``), as the
    venue listed them at the end: not counted in ``open_orders_left``."""
    notes: list[str] = field(default_factory=list)
    """What an operator should know about it (a dead-man's switch that may still
    cancel the kept exits, say)."""

    @property
    def ok(self) -> bool:
        return all(line.ok for line in self.lines)

    def headline(self) -> str:
        failed = [line.venue for line in self.lines if not line.ok]
        if not failed:
            return f"{self.action}: PASS on {len(self.lines)} venue(s)"
        return f"{self.action}: FAIL on {', '.join(failed)}"


@dataclass(slots=True)
class RunSummary:
    run_id: str
    mode: str
    duration_s: float
    orders_placed: int
    orders_cancelled: int
    orders_rejected: int
    fills: int
    volume: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    fees: Decimal
    positions: list[VenuePosition]
    open_orders_left: int
    risk_state: str
    risk_rejections: dict[str, int]
    strategies: dict[str, str]
    fills_by_venue: dict[str, int] = field(default_factory=dict)
    volume_by_venue: dict[str, Decimal] = field(default_factory=dict)
    net_exposure: dict[str, Decimal] = field(default_factory=dict)
    """Signed position per base asset summed across venues (the cross-venue delta)."""
    shutdown: list[str] = field(default_factory=list)
    orders_amended: int = 0
    """Resting orders moved in place (one venue request instead of cancel + new)."""
    orders_lost: int = 0
    """Orders the venue never reported and did not know when asked (ended LOST)."""
    notices: list[str] = field(default_factory=list)
    """What the venues did that an operator should know (inventory that disagreed
    with the account at start, other tools' orders, lost orders, fills not ours,
    fills refused as impossible)."""
    orders_unverified: int = 0
    """Orders of ours whose state no venue confirmed at shutdown (it did not answer
    in time): they may rest, and are counted in ``open_orders_left`` too."""
    fills_refused: int = 0
    """Fills a venue reported that the core refused as impossible (journaled in
    ``refused_fills`` with the reason, never applied)."""
    exits_kept: list[str] = field(default_factory=list)
    """Reduce-only exits left resting at quit on purpose (``on_quit: keep_exits``),
    one line each; not counted in ``open_orders_left``."""

    @property
    def net_pnl(self) -> Decimal:
        return self.realized_pnl + self.unrealized_pnl - self.fees

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: Decimals become strings so no digit is lost."""
        data = asdict(self)
        data["net_pnl"] = self.net_pnl
        return _jsonable(data)

    def render(self) -> str:
        lines = [
            f"mmtui run {self.run_id} ({self.mode}), {self.duration_s:.1f}s",
            f"  orders placed {self.orders_placed}, cancelled {self.orders_cancelled}, "
            f"rejected {self.orders_rejected}"
            + (f", amended {self.orders_amended}" if self.orders_amended else "")
            + (f", lost {self.orders_lost}" if self.orders_lost else ""),
            f"  fills {self.fills}, volume {self.volume:.2f}",
            f"  PnL realized {self.realized_pnl:.4f}, unrealized {self.unrealized_pnl:.4f}, "
            f"fees {self.fees:.4f}, net {self.net_pnl:.4f}",
        ]
        for venue, count in sorted(self.fills_by_venue.items()):
            volume = self.volume_by_venue.get(venue, Decimal(0))
            lines.append(f"  {venue}: {count} fills, volume {volume:.2f}")
        for p in self.positions:
            line = f"  position {p.venue} {p.symbol}: {p.size} @ {p.entry_price:.2f}"
            if p.size and p.mark is not None:
                line += f", mark {p.mark:.2f}, unrealized {p.unrealized_pnl:.4f}"
            lines.append(line)
        if len(self.fills_by_venue) > 1:
            exposure = ", ".join(
                f"{base} {size}" for base, size in sorted(self.net_exposure.items())
            )
            lines.append(f"  net exposure across venues: {exposure or 'none'}")
        left = f"open orders left: {self.open_orders_left}"
        if self.orders_unverified:
            left += f" ({self.orders_unverified} unverified: the venue did not answer)"
        lines.append(f"  risk {self.risk_state}; {left}")
        if self.exits_kept:
            lines.append(
                f"  {len(self.exits_kept)} reduce-only exit(s) kept resting on the venue "
                "(on_quit: keep_exits):"
            )
            lines.extend(f"    {line}" for line in self.exits_kept)
        lines.extend(f"  {line}" for line in self.shutdown)
        lines.extend(f"  ! {note}" for note in self.notices)
        return "\n".join(lines)


def position_totals(
    positions: Iterable[tuple[Any, PositionState]],
    base_of: Callable[[str, str], str],
    mark: Callable[[str, str], Decimal | None],
) -> dict[str, Any]:
    """The ``RunSummary`` fields over the account's positions, keyed (venue, symbol):
    PnL at each market's mark, fills and volume per venue, net exposure per base."""
    out: dict[str, Any] = {
        "positions": [],
        "realized_pnl": ZERO,
        "unrealized_pnl": ZERO,
        "fees": ZERO,
        "volume": ZERO,
        "fills": 0,
        "fills_by_venue": {},
        "volume_by_venue": {},
        "net_exposure": {},
    }
    for (venue, symbol), state in positions:
        out["fills_by_venue"][venue] = out["fills_by_venue"].get(venue, 0) + state.fills
        out["volume_by_venue"][venue] = out["volume_by_venue"].get(venue, ZERO) + state.volume
        base = base_of(venue, symbol)
        out["net_exposure"][base] = out["net_exposure"].get(base, ZERO) + state.size
        price = mark(venue, symbol)
        upnl = state.unrealized_pnl(price)
        out["realized_pnl"] += state.realized_pnl
        out["unrealized_pnl"] += upnl
        out["fees"] += state.fees
        out["volume"] += state.volume
        out["fills"] += state.fills
        out["positions"].append(
            VenuePosition(venue, symbol, state.size, state.entry_price, upnl, price)
        )
    return out


_REPORT_EXP = Decimal("1e-8")


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        # Averages (entry prices, PnL on them) can carry 28 digits; 8 decimals is exact
        # enough for any report and keeps the numbers readable.
        if value.as_tuple().exponent < -8:  # type: ignore[operator]
            value = value.quantize(_REPORT_EXP)
        return format(value, "f")
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def run_summary(engine: Engine, *, open_orders_left: int | None = None) -> RunSummary:
    """The run's summary from the engine's state (its totals valued at the marks)."""
    c = engine.orders.counters
    end = engine.stopped_ms or engine.clock.now_ms()
    return RunSummary(
        run_id=engine.run_prefix,
        mode=engine.mode,
        duration_s=(end - engine.started_ms) / 1000 if engine.started_ms else 0.0,
        orders_placed=c.placed,
        orders_cancelled=c.cancelled,
        orders_amended=c.amended,
        orders_lost=c.lost,
        notices=list(engine.attention(detailed=True)),
        orders_rejected=c.rejected,
        **position_totals(
            engine.positions.items(), lambda v, s: engine.instrument(v, s).base, engine.mark
        ),
        open_orders_left=(
            open_orders_left if open_orders_left is not None else engine.orders.live_count()
        ),
        risk_state=engine.risk.state.value,
        risk_rejections=dict(engine.risk.rejections),
        strategies={n: r.state.value for n, r in engine.strategies.items()},
        fills_refused=engine.order_path.refused_fills,
    )


def attention(engine: Engine, *, detailed: bool = False) -> tuple[str, ...]:
    """Notices of what the venues did that an operator should know (short for
    the header; ``detailed`` for the run summary)."""
    out = [
        m.describe()
        if detailed
        else f"inventory {m.venue} {m.symbol}: account {m.account}, journal {m.claimed}"
        for m in engine.reconciler.inventory_mismatches
    ]
    foreign = sum(len(v) for v in engine.reconciler.foreign_orders.values())
    if foreign:
        out.append(f"{foreign} order(s) of other tools on the account")
    if engine.orders.counters.lost:
        out.append(f"{engine.orders.counters.lost} lost order(s)")
    if engine.order_path.foreign_fills:
        out.append(f"{engine.order_path.foreign_fills} fill(s) of no order of ours")
    out.extend(engine.guard.notices())
    if engine.order_path.refused_fills:
        out.append(
            f"{engine.order_path.refused_fills} fill(s) refused as impossible"
            + (" (journal: refused_fills)" if detailed else "")
        )
    return tuple(out)
