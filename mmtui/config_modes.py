"""The config of the modes that trade on recorded or live public data, fills simulated:
``mode: replay`` (recorded Tardis CSV files played on the sim clock: ``mmtui backtest``
and the console) and ``mode: paper`` (a real venue's live public data, no keys, no order
ever sent).

Both fill our orders with the same model (``FillModelConfig``): a queue-position model
(conservative: we fill only after the queue ahead of us at our price has traded away;
probabilistic: hftbacktest's model, a level's decrease split ahead of and behind us),
latencies (order entry, cancel, feed) and fees.

::

    mode: replay
    replay:
      data: ./recorded          # a directory of Tardis CSV files (mmtui backtest --data)
      venues:
        backpack:               # the venue name strategies use
          exchange: backpack    # the files' exchange column (default: the venue name)
          symbols: [BTC_USDC_PERP]      # default: every symbol of that exchange in the data
          instruments: infer    # or {BTC_USDC_PERP: {tick_size: 0.1, step_size: 0.001, ...}}
          queue: {model: conservative}  # or {model: probabilistic, n: 2}
          latency: {entry_ms: 20, cancel_ms: 20, feed_ms: 5}
          maker_fee: 0.0002
          taker_fee: 0.0005
          collateral: 100000

    mode: paper
    venues:
      bp: {type: backpack, rest_url: ..., ws_url: ...}   # no key_file: public data only
    paper:
      venues:
        bp: {queue: {model: conservative}, latency: {entry_ms: 30}}   # optional

The checks that look at the whole config are ``check_modes`` (called by
``Config``'s own checks); the ones that read the data directory are
``replay_data_problem`` (``startup_checks``: ``check-config`` and a start).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:
    from mmtui.config import Config

Mode = Literal["sim", "live", "replay", "paper"]
"""sim: the embedded synthetic market; live: real venues, real orders (never the
default); replay: recorded data, fills simulated; paper: live public data, fills
simulated, no order ever sent."""

MODES_ON_SIMULATED_FILLS = ("replay", "paper")

DEFAULT_MAKER_FEE = Decimal("0.0002")
DEFAULT_TAKER_FEE = Decimal("0.0005")
"""A replay venue's fees when the config names none: a guess at a perp DEX's base tier
(no source; set the fees of the venue and tier you trade)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QueueModelConfig(_Model):
    """Where our order stands in the recorded queue at its price (connectors/replay/queue.py,
    after hftbacktest's models)."""

    model: Literal["conservative", "probabilistic"] = "conservative"
    function: Literal["power", "log"] = Field(
        default="power",
        description="probabilistic: a level's decrease is behind us with probability "
        "f(back) / (f(back) + f(front)); f(x) = x ** n (power) or log(1 + x) (log)",
    )
    n: float = Field(default=2.0, gt=0, le=100, description="the power function's exponent")
    sampled: bool = Field(
        default=False, description="draw each decrease ahead or behind at random (seeded)"
    )
    seed: int = Field(default=1, ge=0, le=2**63 - 1)


class LatencyConfig(_Model):
    entry_ms: int = Field(default=0, ge=0, le=60_000, description="order entry: sent -> booked")
    cancel_ms: int = Field(default=0, ge=0, le=60_000, description="cancel: sent -> removed")
    feed_ms: int = Field(default=0, ge=0, le=60_000, description="market data: venue -> us")


class FillModelConfig(_Model):
    """How a venue whose orders are simulated fills them."""

    queue: QueueModelConfig = Field(default_factory=QueueModelConfig)
    latency: LatencyConfig = Field(default_factory=LatencyConfig)
    maker_fee: Decimal | None = Field(
        default=None,
        ge=-1,
        le=1,
        description="a fraction of notional (negative: a rebate); default DEFAULT_MAKER_FEE "
        "(paper on Lighter: the venue's listed fee)",
    )
    taker_fee: Decimal | None = Field(default=None, ge=-1, le=1)
    collateral: Decimal = Field(
        default=Decimal(100_000), gt=0, le=Decimal("1e15"), description="starting, in quote"
    )


class InstrumentGrid(_Model):
    """One replayed symbol's grid; a value left out is inferred from the data (tick and
    step from the finest decimals in it, min size = step, base from the symbol)."""

    tick_size: Decimal | None = Field(default=None, gt=0)
    step_size: Decimal | None = Field(default=None, gt=0)
    min_size: Decimal | None = Field(default=None, gt=0)
    base: str | None = Field(default=None, min_length=1, max_length=32)
    quote: str = Field(default="USDC", min_length=1, max_length=32)

    @model_validator(mode="after")
    def _min_on_step(self) -> InstrumentGrid:
        if self.min_size is None or self.step_size is None:
            return self
        try:
            off_step = self.min_size % self.step_size != 0
        except ArithmeticError:
            off_step = True
        if off_step:
            raise ValueError(
                f"min_size {self.min_size} is not a multiple of step_size {self.step_size}"
            )
        return self


class ReplayVenueConfig(FillModelConfig):
    exchange: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="the exchange column of the files played (default: the venue name)",
    )
    symbols: list[str] | None = Field(
        default=None, min_length=1, description="default: every symbol of the exchange"
    )
    instruments: dict[str, InstrumentGrid] = Field(
        default_factory=dict,
        description="per symbol, its grid (what is left out is inferred from the data); "
        "infer (or none): all of it",
    )

    @field_validator("instruments", mode="before")
    @classmethod
    def _infer(cls, value: Any) -> Any:
        if value == "infer" or value is None:
            return {}
        if not isinstance(value, dict):
            raise ValueError("infer, or a mapping of symbol -> {tick_size, step_size, ...}")
        return value


class ReplayConfig(_Model):
    data: Path | None = Field(
        default=None, description="a directory of Tardis CSV files (mmtui backtest --data)"
    )
    step_ms: int = Field(
        default=10,
        ge=1,
        le=10_000,
        description="the replay clock's step: messages and latencies resolve to it",
    )
    venues: dict[str, ReplayVenueConfig] = Field(
        default_factory=dict,
        description="empty: one venue per exchange in the data, named after it",
    )
    sample_ms: int = Field(
        default=1000,
        ge=10,
        le=3_600_000,
        description="how often the report samples PnL, inventory and mid (sim time)",
    )
    report_dir: Path | None = Field(
        default=None,
        description="the console / --headless run writes its report here when it stops "
        "(mmtui backtest writes to --out)",
    )


class PaperConfig(_Model):
    venues: dict[str, FillModelConfig] = Field(
        default_factory=dict,
        description="per venue of `venues:` (any not named: the defaults)",
    )
    sample_ms: int = Field(default=1000, ge=10, le=3_600_000)
    report_dir: Path | None = Field(
        default=None, description="the run writes its report here when it stops"
    )


def check_modes(config: Config) -> None:
    """The mode's settings against the rest of the config; ``ValueError`` (one line)."""
    if config.mode == "replay":
        _check_replay(config)
    elif config.mode == "paper":
        _check_paper(config)


def _check_replay(config: Config) -> None:
    venues = config.replay.venues
    for name, venue in venues.items():
        grids = venue.instruments
        if grids and venue.symbols is not None:
            extra = sorted(set(grids) - set(venue.symbols))
            if extra:
                raise ValueError(
                    f"replay.venues.{name}.instruments: {extra} are not among its symbols "
                    f"({venue.symbols})"
                )
    if not venues:
        return  # the venues come from the data: the session checks the strategies
    for i, s in enumerate(config.strategies):
        where = f"strategies[{i}] ({s.name})"
        if s.venue not in venues:
            raise ValueError(f"{where}.venue: {s.venue!r} is not a replay venue ({sorted(venues)})")
        listed = venues[s.venue].symbols
        if listed is not None and s.symbol not in listed:
            raise ValueError(f"{where}.symbol: {s.symbol!r} not replayed on {s.venue} ({listed})")
        for key, value in s.params.items():
            if key.endswith("_venue") and value is not None and value not in venues:
                raise ValueError(
                    f"{where}.params.{key}: {value!r} is not a replay venue ({sorted(venues)})"
                )


def _check_paper(config: Config) -> None:
    sims = sorted(n for n, v in config.venues.items() if v.type == "sim")
    if sims:
        raise ValueError(
            f"venues: mode paper trades a real venue's public data; {sims} are sim venues "
            "(use mode: sim for those)"
        )
    unknown = sorted(set(config.paper.venues) - set(config.venues))
    if unknown:
        raise ValueError(
            f"paper.venues: {unknown} are not configured venues ({sorted(config.venues)})"
        )


def replay_data_problem(config: Config) -> tuple[str, str] | None:
    """(key, problem) when the replay's data directory cannot serve the config, or None:
    missing, not a directory, unreadable files, or exchanges/symbols it does not hold."""
    from connectors.replay.tardis import TardisError, discover

    data = config.replay.data
    if data is None:
        return "replay.data", "no data directory (set it, or pass --data to mmtui backtest)"
    data = data.expanduser()
    if not data.is_dir():
        return "replay.data", f"{data} is not a directory"
    try:
        sets = discover(data)
    except (TardisError, OSError) as exc:
        return "replay.data", str(exc)
    if not sets:
        return "replay.data", f"{data} holds no Tardis CSV files (incremental_book_L2, trades)"
    held: dict[str, set[str]] = {}
    for ds in sets:
        if ds.book_files:
            held.setdefault(ds.exchange, set()).add(ds.symbol)
    for name, venue in config.replay.venues.items():
        exchange = venue.exchange or name
        if exchange not in held:
            return (
                f"replay.venues.{name}.exchange",
                f"no book data of exchange {exchange!r} in {data} (found: {sorted(held)})",
            )
        missing = sorted(set(venue.symbols or ()) - held[exchange])
        if missing:
            return (
                f"replay.venues.{name}.symbols",
                f"{missing} not in the data of {exchange} (found: {sorted(held[exchange])})",
            )
    if not config.replay.venues:
        for i, s in enumerate(config.strategies):
            if s.venue not in held:
                return (
                    f"strategies.{i}.venue",
                    f"{s.venue!r}: no exchange of that name in {data} (found: {sorted(held)})",
                )
            if s.symbol not in held[s.venue]:
                return (
                    f"strategies.{i}.symbol",
                    f"{s.symbol!r} not in the data of {s.venue} (found: {sorted(held[s.venue])})",
                )
    return None


__all__ = [
    "DEFAULT_MAKER_FEE",
    "DEFAULT_TAKER_FEE",
    "MODES_ON_SIMULATED_FILLS",
    "FillModelConfig",
    "InstrumentGrid",
    "LatencyConfig",
    "Mode",
    "PaperConfig",
    "QueueModelConfig",
    "ReplayConfig",
    "ReplayVenueConfig",
    "check_modes",
    "replay_data_problem",
]
