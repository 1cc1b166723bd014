"""Typed configuration: a YAML file, ``MMTUI_*`` environment overrides, clear errors.

Where the file comes from, first match wins: ``--config``, ``$MMTUI_CONFIG``,
``<user config dir>/mmtui/config.yaml``, the bundled ``config.example.yaml``.

Environment variables override the file: ``MMTUI_RISK__MAX_LOSS=200`` sets
``risk.max_loss``; ``MMTUI_STRATEGIES__0__PARAMS__GAMMA=0.05`` reaches into
lists. Values are read as YAML scalars. A key set to null in the file does not
hide its variable.

Any problem raises ``ConfigError`` whose message is one line naming the file,
the key and what is wrong.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from connectors.sim.funding import FundingSpec
from connectors.sim.market import BasisDynamics
from connectors.sim.venue import FlowParams
from connectors.sim.world import AssetSpec, VenueSpec
from mmtui.commands import COMMANDS
from mmtui.config_env import EnvOverrideError, apply_env
from mmtui.config_modes import Mode, PaperConfig, ReplayConfig, check_modes
from mmtui.config_reader import (
    ConfigReadError,
    first_non_finite,
    read_yaml_file,
)
from mmtui.config_serve import UnattendedConfig
from mmtui.core.inventory import InventoryPolicy
from mmtui.core.ratelimit import RateLimiter
from mmtui.core.risk import RiskLimits
from mmtui.metrics.config import MetricsConfig
from strategies.registry import STRATEGY_KINDS

SECRET_WORDS = ("secret", "private_key", "api_key", "password", "passphrase")
NOT_SECRET_SUFFIXES = ("_file", "_index", "_env")


class ConfigError(Exception):
    """A config problem, already phrased for a person: one line."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AssetConfig(_Model):
    start_price: Decimal = Field(gt=0)
    tick_size: Decimal = Field(gt=0)
    step_size: Decimal = Field(gt=0)
    min_size: Decimal = Field(gt=0)
    volatility: float = Field(default=0.6, ge=0, description="annualised")
    jump_rate_per_hour: float = Field(default=0.0, ge=0)
    jump_sigma: float = Field(default=0.002, ge=0)
    quote: str = "USDC"

    @model_validator(mode="after")
    def _min_on_step(self) -> AssetConfig:
        try:
            off_step = self.min_size % self.step_size != 0
        except ArithmeticError:  # sizes 1e30 and 1e-30: no step fits
            off_step = True
        if off_step:
            raise ValueError(
                f"min_size {self.min_size} is not a multiple of step_size {self.step_size}"
            )
        return self


class SimConfig(_Model):
    seed: int = 1
    speed: float | None = Field(
        default=1.0, gt=0, description="x real time; null = as fast as possible"
    )
    step_ms: int = Field(default=100, ge=1, le=10_000)
    assets: dict[str, AssetConfig] = Field(
        default_factory=lambda: {
            "BTC": AssetConfig(
                start_price=Decimal(100_000),
                tick_size=Decimal("0.1"),
                step_size=Decimal("0.001"),
                min_size=Decimal("0.001"),
            )
        }
    )


class FlowConfig(_Model):
    half_spread_bps: float = Field(default=1.5, ge=0)
    level_gap_bps: float = Field(default=1.0, gt=0)
    levels: int = Field(default=10, ge=1, le=200)
    level_notional: float = Field(default=20_000.0, gt=0)
    refill_prob: float = Field(default=0.5, ge=0, le=1)
    taker_rate: float = Field(default=2.0, ge=0, description="takers per second per side")
    taker_k: float = Field(default=0.35, gt=0, description="reach decay per bps")
    taker_notional: float = Field(default=5_000.0, gt=0)


class BasisConfig(_Model):
    sigma: float = Field(default=0.0002, ge=0)
    half_life_s: float = Field(default=30.0, gt=0)


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def is_loopback(url: str) -> bool:
    from urllib.parse import urlsplit

    return (urlsplit(url).hostname or "") in LOOPBACK_HOSTS


class RateLimitConfig(_Model):
    capacity: float = Field(gt=0, description="request weight allowed per window")
    per_seconds: float = Field(default=60.0, gt=0)
    weights: dict[str, float] = Field(default_factory=dict, description="place, cancel, ...")

    @model_validator(mode="after")
    def _servable(self) -> RateLimitConfig:
        RateLimiter(self.capacity, self.per_seconds, weights=self.weights)  # its ValueError
        return self


class SimVenueConfig(_Model):
    type: Literal["sim"] = "sim"
    maker_fee: Decimal = Field(default=Decimal("0.0001"), ge=-1, le=1)
    taker_fee: Decimal = Field(default=Decimal("0.0004"), ge=-1, le=1)
    latency_ms: int = Field(default=0, ge=0, le=10_000)
    rate_limit: RateLimitConfig | None = None
    symbols: list[str] | None = None
    flow: FlowConfig = Field(default_factory=FlowConfig)
    basis: BasisConfig = Field(default_factory=BasisConfig)
    funding_interval_s: int = Field(
        default=3600, ge=1, le=86_400, description="seconds between funding settlements"
    )
    funding_rate: Decimal = Field(
        default=Decimal("0.0000125"),
        ge=Decimal("-0.01"),
        le=Decimal("0.01"),
        description="funding rate per interval (positive: longs pay shorts)",
    )


class BackpackVenueConfig(_Model):
    type: Literal["backpack"] = "backpack"
    rest_url: str = "https://api.backpack.exchange"
    ws_url: str = "wss://ws.backpack.exchange"
    key_file: Path | None = Field(
        default=None,
        description="YAML with api_key/api_secret (mode 0600); else BACKPACK_API_* env vars",
    )
    window_ms: int = Field(default=5000, ge=1, le=60_000)
    rate_limit: RateLimitConfig | None = Field(
        # Backpack publishes no table; 20 requests/s is the spacing ccxt uses (spec §1.5).
        default_factory=lambda: RateLimitConfig(capacity=1200, per_seconds=60)
    )

    def endpoints(self) -> list[str]:
        return [self.rest_url, self.ws_url]


LIGHTER_MIN_DEAD_MAN_S = 300  # the venue schedules cancel-alls 5 min .. 15 days ahead


class LighterVenueConfig(_Model):
    type: Literal["lighter"] = "lighter"
    url: str = "https://mainnet.zklighter.elliot.ai"
    ws_url: str = "wss://mainnet.zklighter.elliot.ai/stream"
    key_file: Path | None = Field(
        default=None,
        description="YAML with account_index/api_key_index/api_private_key (mode 0600); "
        "else LIGHTER_* env vars",
    )
    chain_id: int | None = Field(
        default=None, description="signature chain id; default: 304 (mainnet), 300 (testnet)"
    )
    dead_man_switch_s: float | None = Field(
        default=None,
        gt=0,
        le=15 * 86400,
        description="arm the venue's scheduled cancel-all this far ahead and keep pushing it",
    )
    market_slippage: Decimal = Field(
        default=Decimal("0.05"),
        gt=0,
        lt=1,
        description="worst price of a market order without a price: touch +/- this fraction",
    )
    tier: Literal["standard", "premium"] = Field(
        default="standard",
        description="the account tier: its published request limits pace every request "
        "(standard: 60 a minute; premium: 24,000 weighted, 4,000 txs, volume quota)",
    )
    batch_txs: bool = Field(
        default=True,
        description="send the transactions of one requote as one sendTxBatch (cancels first)",
    )
    rate_limit: RateLimitConfig | None = Field(
        # None: the connector paces every request it sends (batches, nonce reads, lookups,
        # the dead-man's switch) by the tier's published limits (connectors/lighter/
        # pacing.py); a rate_limit here adds the core's per-call gate on top.
        default=None
    )

    def endpoints(self) -> list[str]:
        return [self.url, self.ws_url]

    @model_validator(mode="after")
    def _dead_man_floor(self) -> LighterVenueConfig:
        s = self.dead_man_switch_s
        loopback = all(is_loopback(u) for u in self.endpoints())
        if s is not None and s < LIGHTER_MIN_DEAD_MAN_S and not loopback:
            raise ValueError(
                f"dead_man_switch_s: Lighter schedules cancel-alls at least "
                f"{LIGHTER_MIN_DEAD_MAN_S} s ahead (got {s})"
            )
        return self


class GrvtVenueConfig(_Model):
    type: Literal["grvt"] = "grvt"
    env: Literal["prod", "testnet"] = "prod"
    base_url: str | None = Field(
        default=None,
        description="one URL for the edge, trade-data and market-data hosts (an emulator)",
    )
    ws_url: str | None = Field(default=None, description="WebSocket URL for both feeds")
    key_file: Path | None = Field(
        default=None,
        description="YAML with api_key/trading_account_id/private_key (mode 0600); "
        "else GRVT_API_KEY, GRVT_TRADING_ACCOUNT_ID, GRVT_PRIVATE_KEY",
    )
    # GRVT turns a countdown of 1000 ms or less off (api-spec cancel_on_disconnect)
    dead_man_switch_s: float | None = Field(
        default=None, gt=1, le=300, description="cancel-on-disconnect countdown"
    )
    rate_limit: RateLimitConfig | None = Field(
        # ccxt's GRVT budget (spec §3.6): create/cancel 5 units of 10 ms (20/s), open
        # orders and positions 20, cancel-all 50: weights relative to a create.
        default_factory=lambda: RateLimitConfig(
            capacity=1200,
            per_seconds=60,
            weights={"cancel_all": 10, "open_orders": 4, "positions": 4},
        )
    )

    @model_validator(mode="after")
    def _urls_together(self) -> GrvtVenueConfig:
        if (self.base_url is None) != (self.ws_url is None):
            raise ValueError("base_url and ws_url go together (both or neither)")
        return self

    def endpoints(self) -> list[str]:
        if self.base_url is not None and self.ws_url is not None:
            return [self.base_url, self.ws_url]
        host = "grvt.io" if self.env == "prod" else "testnet.grvt.io"
        return [
            f"https://edge.{host}",
            f"https://trades.{host}",
            f"https://market-data.{host}",
            f"wss://trades.{host}/ws",
            f"wss://market-data.{host}/ws",
        ]


RemoteVenueConfig = BackpackVenueConfig | LighterVenueConfig | GrvtVenueConfig
"""A venue reached over the network (even a loopback emulator)."""

VenueConfig = Annotated[SimVenueConfig | RemoteVenueConfig, Field(discriminator="type")]


class StrategyConfig(_Model):
    name: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")
    kind: str
    venue: str
    symbol: str
    autostart: bool = True
    params: dict[str, Any] = Field(default_factory=dict)


class JournalConfig(_Model):
    enabled: bool = True
    path: Path | None = None


class LoggingConfig(_Model):
    level: str = "INFO"
    dir: Path | None = None


class RecordConfig(_Model):
    dir: Path | None = Field(
        default=None,
        description="where the console's record toggle writes (default: recordings/ "
        "under the state dir); docs/recording.md",
    )


class UiConfig(_Model):
    theme: Literal["mmtui-dark", "mmtui-light", "mmtui-contrast"] = "mmtui-dark"
    refresh_hz: float = Field(default=10.0, ge=1, le=30)
    bell: bool = Field(
        default=True,
        description="ring the terminal bell on an alert (halt, disconnect, mismatch, flatten)",
    )
    keys: dict[str, str] = Field(
        default_factory=dict, description="binding id -> key, e.g. {pause: P}"
    )
    core: Literal["inprocess", "process"] = Field(
        default="process",
        description="plain `mmtui`: the core in a child process behind a socket (`mmtui "
        "serve` + the console attached as its owner: the screen cannot stall it), or in "
        "the console's own process",
    )

    @model_validator(mode="after")
    def _known_ids(self) -> UiConfig:
        known = {c.id for c in COMMANDS}
        unknown = sorted(set(self.keys) - known)
        if unknown:
            raise ValueError(f"keys: unknown binding ids {unknown} (known: {sorted(known)})")
        return self


class OrderChecksConfig(_Model):
    """How the core settles orders a venue has not (``mmtui.core.inflight``)."""

    lookup_after_s: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="a pending order with no word from the venue is looked up after this",
    )
    lost_after_lookups: int = Field(
        default=2,
        ge=1,
        le=20,
        description="lookups in a row that find nothing before an order ends LOST",
    )
    reconcile_interval_s: float = Field(
        default=30.0,
        ge=1,
        le=3600,
        description="our orders and fills checked against the venue's lists this often",
    )


class Config(_Model):
    mode: Mode = "sim"
    sim: SimConfig = Field(default_factory=SimConfig)
    venues: dict[str, VenueConfig] = Field(default_factory=lambda: {"sim": SimVenueConfig()})
    risk: RiskLimits = Field(default_factory=RiskLimits)
    strategies: list[StrategyConfig] = Field(default_factory=list)
    journal: JournalConfig = Field(default_factory=JournalConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    record: RecordConfig = Field(default_factory=RecordConfig)
    ui: UiConfig = Field(default_factory=UiConfig)
    shutdown_timeout_s: float = Field(default=10.0, gt=0, le=120)
    orders: OrderChecksConfig = Field(default_factory=OrderChecksConfig)
    unattended: UnattendedConfig = Field(default_factory=UnattendedConfig)
    replay: ReplayConfig = Field(default_factory=ReplayConfig)  # mode: replay (config_modes)
    paper: PaperConfig = Field(default_factory=PaperConfig)  # mode: paper
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    inventory_at_start: InventoryPolicy = Field(
        default=InventoryPolicy.START_FLAT,
        description=(
            "where a strategy's journaled inventory and the account disagree at start: "
            "start_flat, or adopt_account"
        ),
    )

    @model_validator(mode="after")
    def _cross_checks(self) -> Config:
        if not self.venues:
            raise ValueError("venues: at least one venue is needed")
        if not self.sim.assets and any(v.type == "sim" for v in self.venues.values()):
            raise ValueError("sim.assets: a sim venue needs at least one asset")
        if self.mode == "sim":
            # Real venue dialects are allowed in sim mode only on loopback (an emulator).
            live = [
                n
                for n, v in self.venues.items()
                if not isinstance(v, SimVenueConfig)
                and not all(is_loopback(url) for url in v.endpoints())
            ]
            if live:
                raise ValueError(
                    f"mode is sim but venues {live} point at a real exchange (set mode: live)"
                )
        check_modes(self)
        on_venues = self.mode != "replay"  # the replay's venues: check_modes
        symbols = {f"{a}-PERP" for a in self.sim.assets}
        for name, venue in self.venues.items():
            if venue.type == "sim" and venue.symbols:
                unknown = sorted(set(venue.symbols) - symbols)
                if unknown:
                    raise ValueError(
                        f"venues.{name}.symbols: {unknown} not among sim assets {sorted(symbols)}"
                    )
        seen: set[str] = set()
        for i, s in enumerate(self.strategies):
            where = f"strategies[{i}] ({s.name})"
            if s.name in seen:
                raise ValueError(f"{where}: duplicate strategy name")
            seen.add(s.name)
            if on_venues and s.venue not in self.venues:
                raise ValueError(f"{where}.venue: {s.venue!r} is not a configured venue")
            venue = self.venues.get(s.venue) if on_venues else None
            if venue is not None and venue.type == "sim":
                listed = set(venue.symbols or symbols)
                if s.symbol not in listed:
                    raise ValueError(
                        f"{where}.symbol: {s.symbol!r} not listed on {s.venue} ({sorted(listed)})"
                    )
            for key, value in s.params.items() if on_venues else ():
                if key.endswith("_venue") and value is not None and value not in self.venues:
                    raise ValueError(
                        f"{where}.params.{key}: {value!r} is not a configured venue "
                        f"({sorted(self.venues)})"
                    )
            if s.kind not in STRATEGY_KINDS:
                raise ValueError(
                    f"{where}.kind: unknown {s.kind!r} (known: {sorted(STRATEGY_KINDS)})"
                )
            try:
                STRATEGY_KINDS[s.kind].parse_params(s.params)
            except ValidationError as exc:
                raise ValueError(f"{where}.params: {_first_error(exc)}") from None
        return self

    # -- builders for the sim -------------------------------------------------

    def asset_specs(self) -> list[AssetSpec]:
        return [
            AssetSpec(
                name=name,
                start_price=a.start_price,
                tick_size=a.tick_size,
                step_size=a.step_size,
                min_size=a.min_size,
                volatility=a.volatility,
                jump_rate_per_hour=a.jump_rate_per_hour,
                jump_sigma=a.jump_sigma,
                quote=a.quote,
            )
            for name, a in self.sim.assets.items()
        ]

    def sim_venue_specs(self) -> list[VenueSpec]:
        return [
            VenueSpec(
                name=name,
                maker_fee=v.maker_fee,
                taker_fee=v.taker_fee,
                flow=FlowParams(**v.flow.model_dump()),
                basis=BasisDynamics(**v.basis.model_dump()),
                symbols=tuple(v.symbols) if v.symbols else None,
                funding=FundingSpec(v.funding_interval_s, v.funding_rate),
            )
            for name, v in self.venues.items()
            if v.type == "sim"
        ]


# -- loading -------------------------------------------------------------------


def bundled_example() -> Path:
    return Path(str(resources.files("mmtui").joinpath("config.example.yaml")))


def user_config_path() -> Path:
    return platformdirs.user_config_path("mmtui") / "config.yaml"


def find_config(explicit: str | Path | None, env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if explicit:
        return Path(explicit)
    if env.get("MMTUI_CONFIG"):
        return Path(env["MMTUI_CONFIG"])
    user = user_config_path()
    if user.is_file():
        return user
    return bundled_example()


def load_config(
    path: str | Path | None = None, env: Mapping[str, str] | None = None
) -> tuple[Config, Path]:
    """Find, read, override and validate; raises ``ConfigError`` with one clear line."""
    env = os.environ if env is None else env
    source = find_config(path, env)
    try:
        raw = read_yaml_file(source)
    except ConfigReadError as exc:
        raise ConfigError(f"config error: {source}: {exc}") from None
    if raw is None:
        raise ConfigError(
            f"config error: {source}: the file has no settings (empty); "
            "start from config.example.yaml"
        )
    if not isinstance(raw, dict):
        raise ConfigError(
            f"config error: {source}: the top level must be a mapping, not {type(raw).__name__}"
        )
    _refuse_secrets(raw, source, "")
    try:
        env_keys = apply_env(raw, env)
    except EnvOverrideError as exc:
        raise ConfigError(f"config error: {source}: {exc}") from None
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = _dotted(err["loc"])
        origin = env_keys.get(key)
        where = f"key '{key}'" + (f" (from {origin})" if origin else "") if key else "top level"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"config error: {source}: {where}: {_clean(err['msg'])}{more}") from None
    except ArithmeticError as exc:  # a check's arithmetic on numbers far apart
        raise ConfigError(
            f"config error: {source}: numbers too far apart to check ({type(exc).__name__})"
        ) from None
    roots = [("", config)] + [
        (f"strategies.{i}.params", STRATEGY_KINDS[s.kind].parse_params(s.params))
        for i, s in enumerate(config.strategies)
    ]
    for prefix, root in roots:
        where = first_non_finite(root, prefix)
        if where is None:
            continue
        origin = f" (from {env_keys[where]})" if where in env_keys else ""
        raise ConfigError(f"config error: {source}: key '{where}'{origin}: not a finite number")
    return config, source


def _refuse_secrets(node: Any, source: Path, path: str) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}" if path else str(key)
            lowered = str(key).lower()
            if any(w in lowered for w in SECRET_WORDS) and not lowered.endswith(
                NOT_SECRET_SUFFIXES
            ):
                raise ConfigError(
                    f"config error: {source}: key '{here}': secrets do not belong in the config "
                    "file; use environment variables or a key file"
                )
            _refuse_secrets(value, source, here)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            _refuse_secrets(item, source, f"{path}.{i}")


def _dotted(loc: tuple[Any, ...]) -> str:
    if len(loc) > 2 and loc[0] == "venues" and loc[2] in _VENUE_TYPES:
        loc = loc[:2] + loc[3:]  # pydantic names the union member: venues.sim.sim.x
    return ".".join(str(p) for p in loc)


_VENUE_TYPES = {
    m.model_fields["type"].default
    for m in (SimVenueConfig, BackpackVenueConfig, LighterVenueConfig, GrvtVenueConfig)
}


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    key = _dotted(err["loc"])
    return f"{key + ': ' if key else ''}{_clean(err['msg'])}"


def _clean(msg: str) -> str:
    return msg.removeprefix("Value error, ")


def example_text() -> str:
    return bundled_example().read_text(encoding="utf-8")
