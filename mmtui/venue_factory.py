"""Build the connector for a real venue's config entry (keys loaded, secrets registered).

One function per venue type; venue packages are imported only when a config
uses them, so a sim-only session never loads an exchange SDK.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connectors.base import Connector
from mmtui.config import (
    BackpackVenueConfig,
    GrvtVenueConfig,
    LighterVenueConfig,
    RemoteVenueConfig,
)
from mmtui.logsetup import register_secret


class SessionError(Exception):
    """The session cannot be built (missing keys, ...): one line for a person."""


def venue_connector(name: str, cfg: RemoteVenueConfig, run_prefix: str) -> Connector:
    if isinstance(cfg, BackpackVenueConfig):
        return _backpack(name, cfg, run_prefix)
    if isinstance(cfg, LighterVenueConfig):
        return _lighter(name, cfg, run_prefix)
    if isinstance(cfg, GrvtVenueConfig):
        return _grvt(name, cfg)
    raise SessionError(f"venue {name}: type {cfg.type!r} has no connector")


def _keys(
    name: str, label: str, load: Callable[[Any], Any], error: type[Exception], cfg: Any, env: str
) -> Any:
    """The venue's keys from its key file or env vars, registered for log redaction;
    a missing or bad key is one line naming the venue and where keys come from."""
    try:
        keys = load(cfg.key_file)
    except error as exc:
        raise SessionError(f"venue {name}: {exc}") from None
    if keys is None:
        raise SessionError(f"venue {name}: no {label} keys: set venues.{name}.key_file or {env}")
    for secret in keys.secret_values():
        register_secret(secret)
    return keys


def _backpack(name: str, cfg: BackpackVenueConfig, run_prefix: str) -> Connector:
    from connectors.backpack.connector import BackpackConnector
    from connectors.backpack.keys import BackpackKeyError, load_keys

    keys = _keys(
        name, "Backpack", load_keys, BackpackKeyError, cfg, "BACKPACK_API_KEY / BACKPACK_API_SECRET"
    )
    return BackpackConnector(
        cfg.rest_url,
        cfg.ws_url,
        keys,
        name=name,
        run_prefixes=(run_prefix,),
        window_ms=cfg.window_ms,
    )


def _lighter(name: str, cfg: LighterVenueConfig, run_prefix: str) -> Connector:
    from connectors.lighter.connector import LighterConnector
    from connectors.lighter.keys import LighterKeyError, load_keys

    env = "LIGHTER_ACCOUNT_INDEX / LIGHTER_API_KEY_INDEX / LIGHTER_API_PRIVATE_KEY"
    keys = _keys(name, "Lighter", load_keys, LighterKeyError, cfg, env)
    return LighterConnector(
        cfg.url,
        cfg.ws_url,
        keys,
        name=name,
        run_prefixes=(run_prefix,),
        chain_id=cfg.chain_id,
        dead_man_switch_s=cfg.dead_man_switch_s,
        market_slippage=cfg.market_slippage,
        tier=cfg.tier,
        batch_txs=cfg.batch_txs,
    )


def _grvt(name: str, cfg: GrvtVenueConfig) -> Connector:
    from connectors.grvt.connector import GrvtConnector
    from connectors.grvt.keys import GrvtKeyError, load_keys
    from connectors.grvt.rest import GrvtUrls
    from connectors.grvt.signing import ENVIRONMENTS

    env_vars = "GRVT_API_KEY / GRVT_TRADING_ACCOUNT_ID / GRVT_PRIVATE_KEY"
    keys = _keys(name, "GRVT", load_keys, GrvtKeyError, cfg, env_vars)
    env = ENVIRONMENTS[cfg.env]
    if cfg.base_url is not None and cfg.ws_url is not None:
        urls = GrvtUrls.single(cfg.base_url, cfg.ws_url)
    else:
        urls = GrvtUrls.for_env(env)
    return GrvtConnector(urls, keys, name=name, env=env, dead_man_switch_s=cfg.dead_man_switch_s)
