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
    keys = venue_keys(name, cfg)
    if isinstance(cfg, BackpackVenueConfig):
        return _backpack(name, cfg, keys, run_prefix)
    if isinstance(cfg, LighterVenueConfig):
        return _lighter(name, cfg, keys, run_prefix)
    return _grvt(name, cfg, keys)


def public_feed(name: str, cfg: RemoteVenueConfig) -> Connector:
    """The venue's public feed (books, trades): built without keys -- no key file is
    read, nothing is signed, no private stream opened; every private call refused
    (``connectors.common.public.PublicFeed``). Recording and paper trading use it."""
    from connectors.common.public import PublicFeed

    if isinstance(cfg, BackpackVenueConfig):
        return PublicFeed(_backpack(name, cfg, None, None))
    if isinstance(cfg, LighterVenueConfig):
        quiet = cfg.model_copy(update={"dead_man_switch_s": None})
        return PublicFeed(_lighter(name, quiet, None, None))
    if isinstance(cfg, GrvtVenueConfig):
        return PublicFeed(_grvt(name, cfg.model_copy(update={"dead_man_switch_s": None}), None))
    raise SessionError(f"venue {name}: type {cfg.type!r} has no connector")


def venue_keys(name: str, cfg: RemoteVenueConfig) -> Any:
    """The venue's keys, from its key file or the environment, registered for log
    redaction; ``SessionError`` (one line naming the venue) if missing or bad.
    ``check-config`` runs this too, so it refuses what a start would."""
    if isinstance(cfg, BackpackVenueConfig):
        from connectors.backpack.keys import BackpackKeyError
        from connectors.backpack.keys import load_keys as backpack_keys

        env = "BACKPACK_API_KEY / BACKPACK_API_SECRET"
        return _keys(name, "Backpack", backpack_keys, BackpackKeyError, cfg, env)
    if isinstance(cfg, LighterVenueConfig):
        from connectors.lighter.keys import LighterKeyError
        from connectors.lighter.keys import load_keys as lighter_keys

        env = "LIGHTER_ACCOUNT_INDEX / LIGHTER_API_KEY_INDEX / LIGHTER_API_PRIVATE_KEY"
        return _keys(name, "Lighter", lighter_keys, LighterKeyError, cfg, env)
    if isinstance(cfg, GrvtVenueConfig):
        from connectors.grvt.keys import GrvtKeyError
        from connectors.grvt.keys import load_keys as grvt_keys

        env = "GRVT_API_KEY / GRVT_TRADING_ACCOUNT_ID / GRVT_PRIVATE_KEY"
        return _keys(name, "GRVT", grvt_keys, GrvtKeyError, cfg, env)
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
    except (ValueError, TypeError, RecursionError) as exc:  # its text may quote a key: not shown
        raise SessionError(
            f"venue {name}: {label} keys could not be read ({type(exc).__name__})"
        ) from None
    if keys is None:
        raise SessionError(f"venue {name}: no {label} keys: set venues.{name}.key_file or {env}")
    for secret in keys.secret_values():
        register_secret(secret)
    return keys


def _backpack(name: str, cfg: BackpackVenueConfig, keys: Any, run_prefix: str | None) -> Connector:
    from connectors.backpack.connector import BackpackConnector

    return BackpackConnector(
        cfg.rest_url,
        cfg.ws_url,
        keys,
        name=name,
        run_prefixes=(run_prefix,) if run_prefix else (),
        window_ms=cfg.window_ms,
    )


def _lighter(name: str, cfg: LighterVenueConfig, keys: Any, run_prefix: str | None) -> Connector:
    from connectors.lighter.connector import LighterConnector

    return LighterConnector(
        cfg.url,
        cfg.ws_url,
        keys,
        name=name,
        run_prefixes=(run_prefix,) if run_prefix else (),
        chain_id=cfg.chain_id,
        dead_man_switch_s=cfg.dead_man_switch_s,
        market_slippage=cfg.market_slippage,
        tier=cfg.tier,
        batch_txs=cfg.batch_txs,
    )


def _grvt(name: str, cfg: GrvtVenueConfig, keys: Any) -> Connector:
    from connectors.grvt.connector import GrvtConnector
    from connectors.grvt.rest import GrvtUrls
    from connectors.grvt.signing import ENVIRONMENTS

    env = ENVIRONMENTS[cfg.env]
    if cfg.base_url is not None and cfg.ws_url is not None:
        urls = GrvtUrls.single(cfg.base_url, cfg.ws_url)
    else:
        urls = GrvtUrls.for_env(env)
    return GrvtConnector(urls, keys, name=name, env=env, dead_man_switch_s=cfg.dead_man_switch_s)
