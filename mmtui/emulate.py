"""`mmtui emulate VENUE`: rehearse a venue without an account.

Starts the venue's loopback emulator (its real REST/WS dialect on the sim
engine), generates a key pair it accepts, writes the key file (0600) and a
ready mmtui config to a folder, prints both, and serves until interrupted.
``mmtui --config <that config>`` then trades against it.
"""

from __future__ import annotations

import argparse
import base64
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml
from nacl.signing import SigningKey

from connectors.emulation.harness import EmulatorHarness

ACCOUNT = "rehearsal"

_STRATEGY = {
    "name": "as_btc",
    "kind": "avellaneda_stoikov",
    "autostart": True,
    "params": {
        "gamma": 0.01,
        "k": 0.1,
        "tau": 6,
        "size": 0.01,
        "max_position": 0.05,
        "tick_interval_ms": 500,
        "requote_ticks": 20,
    },
}


def new_keypair() -> tuple[str, str]:
    """(api key, api secret) as Backpack encodes them: base64 public key and seed."""
    signing = SigningKey.generate()
    return (
        base64.b64encode(bytes(signing.verify_key)).decode(),
        base64.b64encode(bytes(signing)).decode(),
    )


def write_key_file(path: Path, data: dict[str, Any]) -> Path:
    """Write a YAML key file readable by its owner only (0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        yaml.safe_dump(data, f)
    os.chmod(path, 0o600)  # an existing file keeps its old mode through O_CREAT
    return path


def write_config(
    folder: Path,
    venue: str,
    venue_config: dict[str, Any],
    symbol: str,
    strategy_params: dict[str, Any] | None = None,
) -> Path:
    """Write a sim-mode config that runs one AS strategy on ``venue``; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    strategy = {**_STRATEGY, "venue": venue, "symbol": symbol}
    if strategy_params:
        strategy["params"] = {**_STRATEGY["params"], **strategy_params}
    config: dict[str, Any] = {
        "mode": "sim",  # a loopback emulator: no real money
        "venues": {venue: venue_config},
        "risk": {"max_order_notional": 5000, "max_position_notional": 20000, "max_loss": 500},
        "strategies": [strategy],
        "journal": {"path": str((folder / "journal.sqlite").resolve())},
    }
    config_path = folder / f"mmtui-{venue}.yaml"
    header = (
        f"# mmtui config for the local {venue} emulator written by `mmtui emulate {venue}`.\n"
        f"# Run: mmtui --config {config_path.resolve()}\n"
    )
    config_path.write_text(header + yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return config_path


def write_backpack_files(
    folder: Path, rest_url: str, ws_url: str, api_key: str, api_secret: str
) -> Path:
    """Write the key file (0600) and a config that trades the emulator; returns the config."""
    key_file = write_key_file(
        folder / "backpack_key.yaml", {"api_key": api_key, "api_secret": api_secret}
    )
    venue = {
        "type": "backpack",
        "rest_url": rest_url,
        "ws_url": ws_url,
        "key_file": str(key_file.resolve()),
    }
    return write_config(folder, "backpack", venue, "BTC_USDC_PERP")


def start_backpack(folder: Path, port: int = 0) -> tuple[EmulatorHarness, Path]:
    """Start the Backpack emulator and write a matching config; the caller stops it."""
    from connectors.backpack.emulator import backpack_emulator

    api_key, api_secret = new_keypair()
    harness = backpack_emulator({api_key: ACCOUNT}, port=port).start()
    try:
        config_path = write_backpack_files(
            folder, harness.base_url, harness.ws_url, api_key, api_secret
        )
    except OSError:
        harness.stop()
        raise
    return harness, config_path


LIGHTER_ACCOUNT_INDEX = 281
LIGHTER_API_KEY_INDEX = 3


def new_lighter_key() -> tuple[str, str]:
    """(private key, public key) from lighter-sdk's signer, both ``0x`` + 80 hex digits."""
    from connectors.lighter.tx import load_sdk

    load_sdk()
    from lighter.signer_client import create_api_key

    private_key, public_key, err = create_api_key()
    if err:
        raise OSError(f"lighter-sdk could not generate an API key: {err}")
    return private_key, public_key


def write_lighter_files(
    folder: Path,
    url: str,
    ws_url: str,
    private_key: str,
    *,
    dead_man_switch_s: float | None = 300,
    tier: str | None = None,
) -> Path:
    key_file = write_key_file(
        folder / "lighter_key.yaml",
        {
            "account_index": LIGHTER_ACCOUNT_INDEX,
            "api_key_index": LIGHTER_API_KEY_INDEX,
            "api_private_key": private_key,
        },
    )
    venue: dict[str, Any] = {
        "type": "lighter",
        "url": url,
        "ws_url": ws_url,
        "key_file": str(key_file.resolve()),
    }
    if dead_man_switch_s is not None:
        venue["dead_man_switch_s"] = dead_man_switch_s
    if tier is not None:
        venue["tier"] = tier
    # A Standard account sustains about 48 requotes a minute (README, "Lighter"): book-
    # driven requotes at most every 1.25 s keep the quoting inside the venue's minute.
    return write_config(folder, "lighter", venue, "BTC", {"requote_min_interval_ms": 1250})


def start_lighter(folder: Path, port: int = 0) -> tuple[EmulatorHarness, Path]:
    """Start the Lighter emulator with a fresh API key and write a matching config: a
    Standard account (the default tier), its request limits enforced as the venue's."""
    from connectors.lighter.emulator import LighterKey, lighter_emulator

    private_key, public_key = new_lighter_key()
    key = LighterKey(
        LIGHTER_ACCOUNT_INDEX, LIGHTER_API_KEY_INDEX, public_key.removeprefix("0x"), ACCOUNT
    )
    harness = lighter_emulator([key], port=port, tier="standard").start()
    try:
        config_path = write_lighter_files(folder, harness.base_url, harness.ws_url, private_key)
    except OSError:
        harness.stop()
        raise
    return harness, config_path


def write_grvt_files(
    folder: Path,
    base_url: str,
    ws_url: str,
    creds: Any,
    *,
    dead_man_switch_s: float | None = 30,
) -> Path:
    """Write the GRVT key file (0600) for ``creds`` (``connectors.grvt.emulator``'s
    ``Credentials``) and a config that trades ``base_url``; returns the config."""
    key_file = write_key_file(
        folder / "grvt_key.yaml",
        {
            "api_key": creds.api_key,
            "trading_account_id": creds.sub_account_id,
            "private_key": creds.private_key,
        },
    )
    venue: dict[str, Any] = {
        "type": "grvt",
        "env": "testnet",
        "base_url": base_url,
        "ws_url": ws_url,
        "key_file": str(key_file.resolve()),
    }
    if dead_man_switch_s is not None:
        venue["dead_man_switch_s"] = dead_man_switch_s
    return write_config(folder, "grvt", venue, "BTC_USDT_Perp")


def start_grvt(folder: Path, port: int = 0) -> tuple[EmulatorHarness, Path]:
    """Start the GRVT emulator with fresh credentials it accepts, write the key file
    (0600) and a config that trades it; the caller stops it."""
    from connectors.grvt.emulator import grvt_emulator, new_credentials

    creds = new_credentials()
    harness = grvt_emulator(
        {creds.api_key: ACCOUNT},
        signers={creds.api_key: creds.address},
        sub_accounts={creds.api_key: creds.sub_account_id},
        port=port,
    ).start()
    try:
        config_path = write_grvt_files(folder, harness.base_url, harness.ws_url, creds)
    except OSError:
        harness.stop()
        raise
    return harness, config_path


STARTERS: dict[str, Callable[[Path, int], tuple[EmulatorHarness, Path]]] = {
    "backpack": start_backpack,
    "lighter": start_lighter,
    "grvt": start_grvt,
}
"""Venue name -> start its emulator, write keys + config into a folder."""


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="mmtui emulate", description="Run a venue emulator on 127.0.0.1 to rehearse."
    )
    parser.add_argument("venue", choices=sorted(STARTERS))
    parser.add_argument("--port", type=int, default=0, help="port (default: any free one)")
    parser.add_argument("--dir", default="mmtui-emulator", help="where to write keys and config")
    args = parser.parse_args(list(argv))
    try:
        harness, config_path = STARTERS[args.venue](Path(args.dir), args.port)
    except OSError as exc:
        print(f"emulate: cannot start the {args.venue} emulator: {exc}", file=sys.stderr)
        return 2
    print(f"{args.venue} emulator on {harness.base_url} (ws {harness.ws_url})")
    print(f"config: {config_path.resolve()}")
    print(f"try:    mmtui --config {config_path.resolve()}")
    print("Ctrl-C stops it.", flush=True)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    harness.stop()
    return 0
