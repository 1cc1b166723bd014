"""Who signed a request: ED25519 over the venue's signing string, checked with the
same string builder the connector signs with (``connectors.backpack.signing``),
for REST (query or JSON body, batches) and the private WebSocket subscribe."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from connectors.backpack.emulator.wire import (
    DEFAULT_WINDOW_MS,
    FUTURE_TOLERANCE_MS,
    MAX_WINDOW_MS,
    BackpackError,
    bad,
)
from connectors.backpack.signing import batch_signing_string, signing_string

log = logging.getLogger("connectors.backpack.emulator")


class Auth:
    def __init__(self, accounts: Mapping[str, str]) -> None:
        self.accounts = dict(accounts)
        self._keys: dict[str, VerifyKey] = {}
        for key in self.accounts:
            try:
                self._keys[key] = VerifyKey(base64.b64decode(key, validate=True))
            except (binascii.Error, ValueError) as exc:
                raise ValueError(
                    f"backpack emulator: API key {key!r} is not base64 ED25519"
                ) from exc

    def request(
        self, request: web.Request, instruction: str, raw: str, batch: bool
    ) -> tuple[str, Any]:
        """(account, parameters) of a signed request, or a ``BackpackError``."""
        h = request.headers
        key, sig = h.get("X-API-Key"), h.get("X-Signature")
        ts_text, window_text = h.get("X-Timestamp"), h.get("X-Window")
        if not key or not sig or not ts_text:
            raise bad("Missing authentication headers", "UNAUTHORIZED")
        verify_key = self._keys.get(key)
        if verify_key is None:
            raise bad("Unknown API key", "UNAUTHORIZED")
        try:
            timestamp = int(ts_text)
            window = int(window_text) if window_text else DEFAULT_WINDOW_MS
        except ValueError:
            raise bad("Invalid timestamp or window") from None
        if not 0 < window <= MAX_WINDOW_MS:
            raise bad(f"Window must be between 1 and {MAX_WINDOW_MS} ms")
        params: Any
        if raw.strip():
            try:
                params = json.loads(raw, parse_float=str)
            except ValueError:
                raise bad("Body is not JSON") from None
        else:
            params = [] if batch else dict(request.query)
        try:
            if batch:
                if not isinstance(params, list) or not params:
                    raise bad("Batch body must be a non-empty JSON array of orders")
                if not all(isinstance(o, dict) for o in params):
                    raise bad("Batch body must be a non-empty JSON array of orders")
                message = batch_signing_string(instruction, params, timestamp, window)
            else:
                if not isinstance(params, dict):
                    raise bad("Body must be a JSON object")
                message = signing_string(instruction, params, timestamp, window)
        except TypeError:
            raise bad("Unsupported parameter value") from None
        if not _verify(verify_key, message, sig):
            log.info("backpack emulator: bad signature for %s (%s)", instruction, message)
            raise bad("Invalid signature", "INVALID_SIGNATURE")
        check_time(timestamp, window)
        return self.accounts[key], params

    def subscribe(self, signature: Any) -> tuple[str | None, str | None]:
        """(account, None) of a private subscribe's ``signature`` array, or (None, why)."""
        if not isinstance(signature, list) or len(signature) != 4:
            return None, "Missing signature"
        key, sig, ts, window = (str(x) for x in signature)
        verify_key = self._keys.get(key)
        if verify_key is None:
            return None, "Unknown API key"
        try:
            timestamp, window_ms = int(ts), int(window)
            message = signing_string("subscribe", None, timestamp, window_ms)
        except ValueError:
            return None, "Invalid timestamp or window"
        if not _verify(verify_key, message, sig):
            return None, "Invalid signature"
        try:
            check_time(timestamp, window_ms)
        except BackpackError as err:
            return None, err.message
        return self.accounts[key], None


def check_time(timestamp: int, window: int) -> None:
    if not 0 < window <= MAX_WINDOW_MS:
        raise bad(f"Window must be between 1 and {MAX_WINDOW_MS} ms")
    now = int(time.time() * 1000)
    if timestamp < now - window:
        raise bad("Request has expired")
    if timestamp > now + FUTURE_TOLERANCE_MS:
        raise bad("Request timestamp is in the future")


def _verify(key: VerifyKey, message: str, signature: str) -> bool:
    try:
        key.verify(message.encode(), base64.b64decode(signature, validate=True))
    except (BadSignatureError, binascii.Error, ValueError):
        return False
    return True


__all__ = ["Auth", "check_time"]
