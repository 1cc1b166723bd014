"""What a replay venue is made of: its latencies, its instruments' grids and fees, its
queue model, the recorded exchange it plays."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from connectors.replay.queue import QueueSpec


@dataclass(frozen=True, slots=True)
class LatencySpec:
    """Latencies of a replay venue, in ms of the replay clock.

    ``entry_ms``: an order reaches the book this long after ``submit`` (the ack says
    PENDING meanwhile; the book it meets is the one at arrival). ``cancel_ms``: a
    cancel takes effect this long after it was asked; until then the order can
    still fill. ``feed_ms``: what the venue's listeners see (book, trades,
    heartbeats) lags the venue by this much. Account events (order updates, fills)
    are not delayed here; a connector's own request latency adds to all of them.
    """

    entry_ms: int = 0
    cancel_ms: int = 0
    feed_ms: int = 0

    def __post_init__(self) -> None:
        for name in ("entry_ms", "cancel_ms", "feed_ms"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 60_000:
                raise ValueError(f"latency {name} {value!r}: an integer of ms in 0..60000")


@dataclass(frozen=True, slots=True)
class InstrumentSpec:
    """One replayed market's grid and fees. ``None``: inferred (tick and step from the
    finest decimals in the data, min size = step, base from the symbol) or the venue's
    default (fees)."""

    tick_size: Decimal | None = None
    step_size: Decimal | None = None
    min_size: Decimal | None = None
    base: str | None = None
    quote: str = "USDC"
    maker_fee: Decimal | None = None
    taker_fee: Decimal | None = None
    max_leverage: Decimal | None = Decimal(20)


@dataclass(frozen=True, slots=True)
class ReplayVenueSpec:
    """A venue of a replay: ``name`` (as the core knows it) plays the recorded
    ``exchange`` (the files' exchange column; default: ``name``), on ``symbols`` (the
    files' symbols; None: every symbol of that exchange in the data)."""

    name: str
    exchange: str | None = None
    symbols: tuple[str, ...] | None = None
    instruments: dict[str, InstrumentSpec] = field(default_factory=dict)
    maker_fee: Decimal = Decimal("0.0001")
    taker_fee: Decimal = Decimal("0.0004")
    queue: QueueSpec = field(default_factory=QueueSpec)
    latency: LatencySpec = field(default_factory=LatencySpec)
    starting_collateral: Decimal = Decimal(100_000)
    collateral_asset: str = "USDC"

    @property
    def recorded_exchange(self) -> str:
        return self.exchange or self.name


__all__ = ["InstrumentSpec", "LatencySpec", "QueueSpec", "ReplayVenueSpec"]
