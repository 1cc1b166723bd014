"""Backpack API keys: from the environment or a private YAML key file.

The secret never appears in ``repr``/``str``; ``secret_values()`` hands the
caller the strings to register with its log redaction filter (connectors may
not import ``mmtui``). Loading reads a small local file: call it at start-up,
or through ``asyncio.to_thread`` from a running loop.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from pathlib import Path

from nacl.signing import SigningKey

from connectors.common.keyfile import KeyFileError, read_key_file

ENV_KEY = "BACKPACK_API_KEY"
ENV_SECRET = "BACKPACK_API_SECRET"


class BackpackKeyError(Exception):
    """Keys missing, malformed, inconsistent, or stored unsafely (message has no secret)."""


class BackpackKeys:
    """An ED25519 key pair as Backpack uses it: base64 public key + base64 seed."""

    __slots__ = ("_secret", "_signing_key", "api_key")

    def __init__(self, api_secret: str, api_key: str | None = None) -> None:
        try:
            raw = base64.b64decode(api_secret.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise BackpackKeyError("Backpack api_secret is not valid base64") from None
        if len(raw) == 64:
            raw = raw[:32]  # seed + public key form: the seed comes first
        if len(raw) != 32:
            raise BackpackKeyError(
                f"Backpack api_secret must decode to 32 (or 64) bytes, got {len(raw)}"
            )
        self._signing_key = SigningKey(raw)
        self._secret = api_secret.strip()
        derived = base64.b64encode(bytes(self._signing_key.verify_key)).decode("ascii")
        if api_key is not None and api_key.strip() and api_key.strip() != derived:
            raise BackpackKeyError(
                "Backpack api_key does not match the public key derived from api_secret"
            )
        self.api_key = derived

    def sign_bytes(self, message: bytes) -> bytes:
        return self._signing_key.sign(message).signature

    def secret_values(self) -> tuple[str, ...]:
        """Strings a log redaction filter must hide (the secret; the key is public)."""
        return (self._secret,)

    def __repr__(self) -> str:
        return f"BackpackKeys(api_key={self.api_key[:6]}…, api_secret=<redacted>)"

    __str__ = __repr__


def keys_from_env(env: Mapping[str, str] | None = None) -> BackpackKeys | None:
    """Keys from ``BACKPACK_API_SECRET`` (+ optional ``BACKPACK_API_KEY``); None if unset."""
    env = os.environ if env is None else env
    secret = env.get(ENV_SECRET, "").strip()
    if not secret:
        if env.get(ENV_KEY, "").strip():
            raise BackpackKeyError(f"{ENV_KEY} is set but {ENV_SECRET} is not")
        return None
    return BackpackKeys(secret, env.get(ENV_KEY) or None)


def keys_from_file(path: str | Path) -> BackpackKeys:
    """Keys from a YAML file with ``api_secret`` (and optionally ``api_key``).

    Refuses a file that group or others can read or write.
    """
    path = Path(path).expanduser()
    try:
        data = read_key_file(path, "Backpack")
    except KeyFileError as exc:
        raise BackpackKeyError(str(exc)) from None
    if not isinstance(data, dict) or not isinstance(data.get("api_secret"), str):
        raise BackpackKeyError(f"Backpack key file {path} needs a string field api_secret")
    api_key = data.get("api_key")
    if api_key is not None and not isinstance(api_key, str):
        raise BackpackKeyError(f"Backpack key file {path}: api_key must be a string")
    try:
        return BackpackKeys(data["api_secret"], api_key)
    except BackpackKeyError as exc:
        raise BackpackKeyError(f"{exc} (key file {path})") from None


def load_keys(
    key_file: str | Path | None = None, env: Mapping[str, str] | None = None
) -> BackpackKeys | None:
    """The key file when given, else the environment; None when neither has keys."""
    if key_file is not None:
        return keys_from_file(key_file)
    return keys_from_env(env)
