"""GRVT credentials: API key (session login), trading (sub-)account id and the
signing private key, from the environment or a private YAML key file.

Nothing secret appears in ``repr``/``str``; ``secret_values()`` hands the caller
the strings to register with its log redaction filter (connectors may not
import ``mmtui``). Loading reads a small local file: call it at start-up, or
through ``asyncio.to_thread`` from a running loop.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from eth_account import Account

from connectors.common.keyfile import KeyFileError, read_key_file

ENV_API_KEY = "GRVT_API_KEY"
ENV_ACCOUNT = "GRVT_TRADING_ACCOUNT_ID"
ENV_PRIVATE_KEY = "GRVT_PRIVATE_KEY"

_HEX_KEY = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")


class GrvtKeyError(Exception):
    """Keys missing, malformed, or stored unsafely (the message never holds a secret)."""


class GrvtKeys:
    """API key + sub-account id + secp256k1 signing key (the API key's wallet)."""

    __slots__ = ("_private_key", "address", "api_key", "trading_account_id")

    def __init__(self, api_key: str, trading_account_id: str, private_key: str) -> None:
        api_key = api_key.strip()
        trading_account_id = str(trading_account_id).strip()
        private_key = private_key.strip()
        if not api_key:
            raise GrvtKeyError("GRVT api_key is empty")
        if not trading_account_id.isdigit() or int(trading_account_id) >= 2**64:
            raise GrvtKeyError(
                "GRVT trading_account_id must be the sub-account id (a uint64 in decimal)"
            )
        if not _HEX_KEY.match(private_key):
            raise GrvtKeyError("GRVT private_key must be 32 bytes of hex (0x + 64 hex digits)")
        if not private_key.startswith("0x"):
            private_key = "0x" + private_key
        try:
            self.address: str = Account.from_key(private_key).address
        except ValueError:
            raise GrvtKeyError("GRVT private_key is not a valid secp256k1 key") from None
        self.api_key = api_key
        self.trading_account_id = trading_account_id
        self._private_key = private_key

    @property
    def private_key(self) -> str:
        return self._private_key

    def secret_values(self) -> tuple[str, ...]:
        """Strings a log redaction filter must hide (the API key logs in; the
        private key signs)."""
        return (self.api_key, self._private_key)

    def __repr__(self) -> str:
        return (
            f"GrvtKeys(account={self.trading_account_id}, signer={self.address}, "
            "api_key=<redacted>, private_key=<redacted>)"
        )

    __str__ = __repr__


def keys_from_env(env: Mapping[str, str] | None = None) -> GrvtKeys | None:
    """Keys from ``GRVT_API_KEY``, ``GRVT_TRADING_ACCOUNT_ID``, ``GRVT_PRIVATE_KEY``;
    None when none is set."""
    env = os.environ if env is None else env
    names = (ENV_API_KEY, ENV_ACCOUNT, ENV_PRIVATE_KEY)
    values = {n: env.get(n, "").strip() for n in names}
    if not any(values.values()):
        return None
    missing = [n for n in names if not values[n]]
    if missing:
        raise GrvtKeyError(f"GRVT keys from the environment: {', '.join(missing)} not set")
    return GrvtKeys(values[ENV_API_KEY], values[ENV_ACCOUNT], values[ENV_PRIVATE_KEY])


def keys_from_file(path: str | Path) -> GrvtKeys:
    """Keys from a YAML file with ``api_key``, ``trading_account_id``, ``private_key``.

    Refuses a file that group or others can read or write.
    """
    try:
        data = read_key_file(path, "GRVT")
    except KeyFileError as exc:
        raise GrvtKeyError(str(exc)) from None
    fields = ("api_key", "trading_account_id", "private_key")
    missing = [f for f in fields if data.get(f) in (None, "")]
    if missing:
        raise GrvtKeyError(f"GRVT key file {path} needs {', '.join(missing)}")
    if not all(isinstance(data[f], str | int) and not isinstance(data[f], bool) for f in fields):
        raise GrvtKeyError(f"GRVT key file {path}: {', '.join(fields)} must be strings")
    try:
        return GrvtKeys(
            str(data["api_key"]), str(data["trading_account_id"]), str(data["private_key"])
        )
    except GrvtKeyError as exc:
        raise GrvtKeyError(f"{exc} (key file {path})") from None


def load_keys(
    key_file: str | Path | None = None, env: Mapping[str, str] | None = None
) -> GrvtKeys | None:
    """The key file when given, else the environment; None when neither has keys."""
    if key_file is not None:
        return keys_from_file(key_file)
    return keys_from_env(env)
