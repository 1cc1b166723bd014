"""Lighter API keys: account index, API key index and API private key.

From the environment (``LIGHTER_ACCOUNT_INDEX``, ``LIGHTER_API_KEY_INDEX``,
``LIGHTER_API_PRIVATE_KEY``) or a YAML key file (``account_index``,
``api_key_index``, ``api_private_key``) that only its owner can read. The private
key never appears in ``repr``/``str``; ``secret_values()`` hands the caller the
string to register with its log redaction filter.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from connectors.common.keyfile import KeyFileError, read_key_file

ENV_ACCOUNT = "LIGHTER_ACCOUNT_INDEX"
ENV_KEY_INDEX = "LIGHTER_API_KEY_INDEX"
ENV_PRIVATE_KEY = "LIGHTER_API_PRIVATE_KEY"

_PRIVATE_KEY = re.compile(r"^(0x)?[0-9a-fA-F]{80}$")
MIN_KEY_INDEX = 2  # 0 and 1 belong to Lighter's web and mobile apps
MAX_KEY_INDEX = 254  # 255 means "unspecified"


class LighterKeyError(Exception):
    """Keys missing, malformed or stored unsafely (the message carries no secret)."""


class LighterKeys:
    __slots__ = ("_private_key", "account_index", "api_key_index")

    def __init__(self, account_index: int, api_key_index: int, private_key: str) -> None:
        if isinstance(account_index, bool) or not isinstance(account_index, int):
            raise LighterKeyError("Lighter account_index must be an integer")
        if isinstance(api_key_index, bool) or not isinstance(api_key_index, int):
            raise LighterKeyError("Lighter api_key_index must be an integer")
        if account_index < 0:
            raise LighterKeyError(f"Lighter account_index {account_index} must be >= 0")
        if not MIN_KEY_INDEX <= api_key_index <= MAX_KEY_INDEX:
            raise LighterKeyError(
                f"Lighter api_key_index {api_key_index} must be in "
                f"{MIN_KEY_INDEX}..{MAX_KEY_INDEX} (0 and 1 belong to Lighter's apps)"
            )
        key = private_key.strip()
        if not _PRIVATE_KEY.match(key):
            raise LighterKeyError(
                "Lighter api_private_key must be 40 bytes of hex (0x + 80 hex digits)"
            )
        self.account_index = account_index
        self.api_key_index = api_key_index
        self._private_key = key if key.startswith("0x") else "0x" + key

    @property
    def private_key(self) -> str:
        return self._private_key

    def secret_values(self) -> tuple[str, ...]:
        """Strings a log redaction filter must hide."""
        return (self._private_key, self._private_key[2:])

    def __repr__(self) -> str:
        return (
            f"LighterKeys(account_index={self.account_index}, "
            f"api_key_index={self.api_key_index}, api_private_key=<redacted>)"
        )

    __str__ = __repr__


def _int_field(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise LighterKeyError(f"{what} must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise LighterKeyError(f"{what} must be an integer")


def keys_from_env(env: Mapping[str, str] | None = None) -> LighterKeys | None:
    env = os.environ if env is None else env
    names = (ENV_ACCOUNT, ENV_KEY_INDEX, ENV_PRIVATE_KEY)
    present = [n for n in names if env.get(n, "").strip()]
    if not present:
        return None
    missing = [n for n in names if n not in present]
    if missing:
        raise LighterKeyError(f"{', '.join(present)} set but {', '.join(missing)} not")
    return LighterKeys(
        _int_field(env[ENV_ACCOUNT], ENV_ACCOUNT),
        _int_field(env[ENV_KEY_INDEX], ENV_KEY_INDEX),
        env[ENV_PRIVATE_KEY],
    )


def keys_from_file(path: str | Path) -> LighterKeys:
    path = Path(path).expanduser()
    try:
        data = read_key_file(path, "Lighter")
    except KeyFileError as exc:
        raise LighterKeyError(str(exc)) from None
    missing = [
        k for k in ("account_index", "api_key_index", "api_private_key") if data.get(k) is None
    ]
    if missing:
        raise LighterKeyError(f"Lighter key file {path} needs fields {missing}")
    if not isinstance(data["api_private_key"], str):
        raise LighterKeyError(f"Lighter key file {path}: api_private_key must be a string")
    try:
        return LighterKeys(
            _int_field(data["account_index"], "account_index"),
            _int_field(data["api_key_index"], "api_key_index"),
            data["api_private_key"],
        )
    except LighterKeyError as exc:
        raise LighterKeyError(f"{exc} (key file {path})") from None


def load_keys(
    key_file: str | Path | None = None, env: Mapping[str, str] | None = None
) -> LighterKeys | None:
    """The key file when given, else the environment; None when neither has keys."""
    if key_file is not None:
        return keys_from_file(key_file)
    return keys_from_env(env)
