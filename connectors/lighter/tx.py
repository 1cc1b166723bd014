"""Signed Lighter transactions through the real lighter-sdk ``SignerClient``.

The SDK signs (``sign_*``: its Go library, in-process, no network when the
nonce is given; ~4 ms, so in a worker thread) and posts ``send_tx``. We drive its
*async* nonce manager ourselves so that we always know which nonce a
transaction carried:

* under the key's lock: ``async_next_nonce`` -> sign -> ``send_tx``;
* HTTP 200 with ``code == 200``: sequenced (the order appears later on WS);
* HTTP 200 with another code, a local signing error or an HTTP 400: not
  sequenced -> the nonce is given back (``acknowledge_failure``); an
  ``invalid nonce`` answer re-reads ``nextNonce`` and the same transaction is
  signed again once (same client order index: no duplicate order);
* 429: not sequenced -> nonce given back, ``RateLimited``;
* 5xx, timeouts, lost connections: ambiguous. We re-read ``nextNonce``: if the
  venue is past our nonce the transaction was sequenced (treated as sent),
  otherwise it was not (``VenueError(retryable=True)``; the gateway retries with
  the same client id).

The blocking helpers (``check_client``, the nonce manager's sync methods,
``sign_*`` with ``nonce=-1``) are never called. ``import lighter`` itself takes
about two seconds, so ``start()`` imports it in a worker thread.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from connectors.base import DUPLICATE_CLIENT_ID, RateLimited, VenueError
from connectors.lighter.keys import LighterKeys
from connectors.lighter.wire import error_code

log = logging.getLogger("connectors.lighter.tx")

ORDER_TYPE_LIMIT = 0
ORDER_TYPE_MARKET = 1
TIF_IOC = 0
TIF_GOOD_TILL_TIME = 1
TIF_POST_ONLY = 2
CANCEL_ALL_IMMEDIATE = 0
CANCEL_ALL_SCHEDULED = 1
CANCEL_ALL_ABORT = 2
NIL_MARKET = 255
ORDER_EXPIRY_28_DAYS = -1  # the signer turns -1 into now + 28 days
ORDER_EXPIRY_NONE = 0  # IOC and market orders

INVALID_NONCE = 21104
CLIENT_INDEX_EXISTS = 21728


Signed = tuple[Any, Any, Any, Any]
"""What ``SignerClient.sign_*`` returns: (tx_type, tx_info, tx_hash, error)."""


@dataclass(frozen=True, slots=True)
class TxResult:
    tx_hash: str
    nonce: int
    confirmed: bool
    """False when the answer was lost and the venue's nonce showed it was sequenced."""
    volume_quota_remaining: int | None = None


def load_sdk() -> Any:
    """Import lighter-sdk (slow: run it in a worker thread) and load its signer library."""
    lighter = importlib.import_module("lighter")
    signer_client = importlib.import_module("lighter.signer_client")
    signer_client.get_signer()
    return lighter


class LighterTx:
    def __init__(
        self,
        url: str,
        keys: LighterKeys,
        *,
        chain_id: int | None = None,
        timeout_s: float = 10.0,
        venue: str = "lighter",
    ) -> None:
        self.url = url.rstrip("/")
        self.keys = keys
        self.chain_id = chain_id
        self.timeout_s = timeout_s
        self.venue = venue
        self.client: Any = None
        self.sent = 0
        self.nonce_resyncs = 0
        self.volume_quota_remaining: int | None = None

    async def start(self) -> None:
        if self.client is not None:
            return
        lighter = await asyncio.to_thread(load_sdk)
        try:
            # cheap once the SDK is imported: key check + Go CreateClient, no network
            self.client = lighter.SignerClient(
                url=self.url,
                account_index=self.keys.account_index,
                api_private_keys={self.keys.api_key_index: self.keys.private_key},
                chain_id=self.chain_id,
            )
        except Exception as exc:  # the SDK raises bare Exception for a bad key
            raise VenueError(
                f"{self.venue}: the Lighter signer refused the API key "
                f"(account {self.keys.account_index}, key {self.keys.api_key_index}): "
                f"{type(exc).__name__}",
                code="bad_key",
            ) from None

    async def close(self) -> None:
        if self.client is not None:
            try:
                await self.client.close()
            except (aiohttp.ClientError, OSError) as exc:
                log.warning("%s: closing the signer's HTTP session failed: %r", self.venue, exc)
            self.client = None

    async def auth_token(self, ttl_s: int) -> tuple[str, int]:
        """A fresh auth token valid for ``ttl_s`` seconds and its expiry (unix s)."""
        if self.client is None:
            raise VenueError(f"{self.venue}: not connected", code="not_connected", retryable=True)
        now = int(time.time())
        token, err = await asyncio.to_thread(
            self.client.create_auth_token_with_expiry,
            ttl_s,
            timestamp=now,
            api_key_index=self.keys.api_key_index,
        )
        if err or not token:
            raise VenueError(f"{self.venue}: could not mint an auth token: {err}", code="auth")
        return token, now + ttl_s

    # -- transactions -----------------------------------------------------------------

    async def create_order(
        self,
        *,
        market: int,
        client_index: int,
        base_amount: int,
        price: int,
        is_ask: bool,
        order_type: int,
        time_in_force: int,
        reduce_only: bool,
        order_expiry: int,
    ) -> TxResult:
        def sign(nonce: int, key: int) -> Signed:
            return self.client.sign_create_order(
                market,
                client_index,
                base_amount,
                price,
                int(is_ask),
                order_type,
                time_in_force,
                int(reduce_only),
                0,  # trigger price: none
                order_expiry,
                nonce=nonce,
                api_key_index=key,
            )

        return await self._send(f"create order {client_index} on market {market}", sign)

    async def cancel_order(self, *, market: int, index: int) -> TxResult:
        def sign(nonce: int, key: int) -> Signed:
            return self.client.sign_cancel_order(market, index, nonce=nonce, api_key_index=key)

        return await self._send(f"cancel {index} on market {market}", sign)

    async def cancel_all(self, market: int | None = None) -> TxResult:
        def sign(nonce: int, key: int) -> Signed:
            return self.client.sign_cancel_all_orders(
                CANCEL_ALL_IMMEDIATE,
                0,
                NIL_MARKET if market is None else market,
                nonce=nonce,
                api_key_index=key,
            )

        return await self._send(f"cancel all ({'all' if market is None else market})", sign)

    async def schedule_cancel_all(self, at_ms: int) -> TxResult:
        """Arm (or move) the venue's scheduled cancel-all: the dead-man's switch."""

        def sign(nonce: int, key: int) -> Signed:
            return self.client.sign_cancel_all_orders(
                CANCEL_ALL_SCHEDULED, at_ms, NIL_MARKET, nonce=nonce, api_key_index=key
            )

        return await self._send("schedule cancel all", sign)

    async def abort_scheduled_cancel_all(self) -> TxResult:
        def sign(nonce: int, key: int) -> Signed:
            return self.client.sign_cancel_all_orders(
                CANCEL_ALL_ABORT, 0, NIL_MARKET, nonce=nonce, api_key_index=key
            )

        return await self._send("abort scheduled cancel all", sign)

    async def modify_order(
        self, *, market: int, index: int, base_amount: int, price: int
    ) -> TxResult:
        def sign(nonce: int, key: int) -> Signed:
            return self.client.sign_modify_order(
                market, index, base_amount, price, 0, nonce=nonce, api_key_index=key
            )

        return await self._send(f"modify {index} on market {market}", sign)

    # -- the nonce protocol ----------------------------------------------------------

    async def _send(self, what: str, sign: Callable[[int, int], Signed]) -> TxResult:
        if self.client is None:
            raise VenueError(f"{self.venue}: not connected", code="not_connected", retryable=True)
        key = self.keys.api_key_index
        nm = self.client.nonce_manager
        for attempt in range(2):
            async with nm.lock(key):
                try:
                    _, nonce = await asyncio.wait_for(nm.async_next_nonce(key), self.timeout_s)
                except Exception as exc:  # ApiException subclasses, aiohttp errors, timeouts
                    raise self._read_error("nextNonce", exc) from None
                # The Go signer takes ~4 ms and releases the GIL: sign off the loop.
                tx_type, tx_info, _hash, err = await asyncio.to_thread(sign, nonce, key)
                if err is not None:
                    nm.acknowledge_failure(key)
                    raise VenueError(
                        f"{self.venue}: {what}: the signer refused it: {err}", code="invalid_tx"
                    )
                try:
                    resp = await asyncio.wait_for(
                        self.client.send_tx(tx_type=tx_type, tx_info=tx_info), self.timeout_s
                    )
                except Exception as exc:  # ApiException subclasses, aiohttp errors, timeouts
                    text = f"{getattr(exc, 'body', '') or exc}"
                    if getattr(exc, "status", None) == 400:
                        if "invalid nonce" in text.lower() and attempt == 0:
                            self.nonce_resyncs += 1
                            log.warning(
                                "%s: %s: invalid nonce %d; re-reading", self.venue, what, nonce
                            )
                            await self._resync_nonce(key)
                            continue
                        nm.acknowledge_failure(key)
                        raise self._refused(what, text) from None
                    return await self._after_exception(what, key, nonce, exc)
                code = getattr(resp, "code", None)
                if code != 200:
                    nm.acknowledge_failure(key)
                    raise self._refused(what, f"code={code} message={getattr(resp, 'message', '')}")
                self.sent += 1
                quota = getattr(resp, "volume_quota_remaining", None)
                if isinstance(quota, int):
                    self.volume_quota_remaining = quota
                return TxResult(str(getattr(resp, "tx_hash", "")), nonce, True, quota)
        raise VenueError(f"{self.venue}: {what}: invalid nonce twice", code=str(INVALID_NONCE))

    async def _resync_nonce(self, key: int) -> None:
        await asyncio.wait_for(
            self.client.nonce_manager.async_hard_refresh_nonce(key), self.timeout_s
        )

    async def _after_exception(self, what: str, key: int, nonce: int, exc: Exception) -> TxResult:
        nm = self.client.nonce_manager
        status = getattr(exc, "status", None)
        if status == 429:
            nm.acknowledge_failure(key)
            raise RateLimited(
                f"{self.venue}: {what}: HTTP 429", retry_after=_retry_after(exc)
            ) from None
        if isinstance(status, int) and 400 <= status < 500:
            nm.acknowledge_failure(key)
            raise VenueError(
                f"{self.venue}: {what}: HTTP {status} {getattr(exc, 'body', '')}"[:300],
                code="auth" if status in (401, 403) else f"http_{status}",
            ) from None
        # 5xx, timeout or a lost connection: did the sequencer take our nonce?
        detail = f"{type(exc).__name__}: {status or exc}"
        try:
            await self._resync_nonce(key)
        except Exception as again:
            log.error(
                "%s: %s failed (%s) and nextNonce is unreadable (%r): outcome unknown",
                self.venue,
                what,
                detail,
                again,
            )
            nm.nonce.pop(key, None)  # re-read before the next transaction
            raise VenueError(
                f"{self.venue}: {what}: {detail}", code="unknown_outcome", retryable=True
            ) from None
        if nm.nonce.get(key, -1) >= nonce:
            log.warning("%s: %s: %s but the venue took nonce %d", self.venue, what, detail, nonce)
            self.sent += 1
            return TxResult("", nonce, False)
        log.warning("%s: %s: %s; not sequenced", self.venue, what, detail)
        raise VenueError(f"{self.venue}: {what}: {detail}", code="transient", retryable=True)

    def _read_error(self, what: str, exc: Exception) -> VenueError:
        status = getattr(exc, "status", None)
        if status == 429:
            return RateLimited(f"{self.venue}: {what}: HTTP 429", retry_after=_retry_after(exc))
        if isinstance(status, int) and 400 <= status < 500:
            body = str(getattr(exc, "body", "") or "").strip()
            return VenueError(
                f"{self.venue}: {what} refused: HTTP {status} {body}"[:400],
                code=str(error_code(body) or f"http_{status}"),
            )
        return VenueError(
            f"{self.venue}: {what}: {type(exc).__name__}: {status or exc}",
            code="transient",
            retryable=True,
        )

    def _refused(self, what: str, text: str) -> VenueError:
        code = error_code(text)
        message = f"{self.venue}: {what} refused: {text.strip()}"[:400]
        log.info("%s", message)
        if code == CLIENT_INDEX_EXISTS or "already exists" in text.lower():
            return VenueError(message, code=DUPLICATE_CLIENT_ID)
        return VenueError(message, code=str(code) if code is not None else "refused")


def _retry_after(exc: Exception) -> float | None:
    headers = getattr(exc, "headers", None) or {}
    try:
        value = dict(headers).get("Retry-After") or dict(headers).get("retry-after")
        return max(0.0, float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None
