"""Signed Lighter transactions through the real lighter-sdk ``SignerClient``.

The SDK signs (``sign_*``: its Go library, in-process, no network when the
nonce is given; ~4 ms, so in a worker thread) and posts ``send_tx``. We drive its
*async* nonce manager ourselves so that we always know which nonce a
transaction carried:

* under the key's lock: ``async_next_nonce`` -> sign -> ``send_tx``;
* HTTP 200 with ``code == 200``: accepted by the API server (the sequencer executes it
  later; the order appears on the account streams);
* HTTP 200 with another code, a local signing error or an HTTP 4xx: refused at the API
  level -> the nonce is given back (``acknowledge_failure``) and the refusal mapped by
  ``codes``; an invalid nonce (code 21104, or ``invalid nonce`` in the message as the SDK
  and Lighter's docs have it) re-reads ``nextNonce`` and the same transaction is signed
  again once (same client order index: no duplicate order);
* 429: not taken -> nonce given back, ``RateLimited`` with the venue's ``Retry-After``;
* 5xx, timeouts, lost connections: the answer is lost. Lighter's nonce is the venue's own
  record of what it executed ("if the syntax is correct and the order is only later
  rejected by the Sequencer ... the nonce increases regardless", apidocs.lighter.xyz/docs/
  trading), so we re-read ``nextNonce``: past our nonce -> the tx was executed (treated as
  sent); otherwise it may still sit in the sequencer's queue until its ``ExpiredAt`` ->
  ``VenueError(outcome_unknown=True)``: the core looks the order up, never resends it.

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

from connectors.common.errors import ErrorCode, RateLimited, VenueError
from connectors.common.http import retry_after_s
from connectors.lighter import codes
from connectors.lighter.keys import LighterKeys

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
        self.unknown_outcomes = 0
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
                code=ErrorCode.BAD_KEY,
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
            raise VenueError(
                f"{self.venue}: not connected", code=ErrorCode.NOT_CONNECTED, retryable=True
            )
        now = int(time.time())
        token, err = await asyncio.to_thread(
            self.client.create_auth_token_with_expiry,
            ttl_s,
            timestamp=now,
            api_key_index=self.keys.api_key_index,
        )
        if err or not token:
            raise VenueError(
                f"{self.venue}: could not mint an auth token: {err}", code=ErrorCode.AUTH
            )
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
        on_nonce: Callable[[int], None] | None = None,
    ) -> TxResult:
        """``on_nonce`` hears the nonce the order is signed with before it is sent."""

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

        what = f"create order {client_index} on market {market}"
        return await self._send(what, sign, on_nonce)

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

    async def executed(self, nonce: int) -> bool:
        """Whether the venue has executed our key's tx ``nonce`` (``nextNonce`` is past it)."""
        if self.client is None:
            raise VenueError(
                f"{self.venue}: not connected", code=ErrorCode.NOT_CONNECTED, retryable=True
            )
        try:
            resp = await asyncio.wait_for(
                self.client.tx_api.next_nonce(
                    account_index=self.keys.account_index, api_key_index=self.keys.api_key_index
                ),
                self.timeout_s,
            )
        except Exception as exc:  # ApiException subclasses, aiohttp errors, timeouts
            raise self._read_error("nextNonce", exc) from None
        return int(resp.nonce) > nonce

    async def _send(
        self,
        what: str,
        sign: Callable[[int, int], Signed],
        on_nonce: Callable[[int], None] | None = None,
    ) -> TxResult:
        if self.client is None:
            raise VenueError(
                f"{self.venue}: not connected", code=ErrorCode.NOT_CONNECTED, retryable=True
            )
        key = self.keys.api_key_index
        nm = self.client.nonce_manager
        for attempt in range(2):
            async with nm.lock(key):
                try:
                    _, nonce = await asyncio.wait_for(nm.async_next_nonce(key), self.timeout_s)
                except Exception as exc:  # ApiException subclasses, aiohttp errors, timeouts
                    raise self._read_error("nextNonce", exc) from None
                if on_nonce is not None:
                    on_nonce(nonce)
                # The Go signer takes ~4 ms and releases the GIL: sign off the loop.
                tx_type, tx_info, _hash, err = await asyncio.to_thread(sign, nonce, key)
                if err is not None:
                    nm.acknowledge_failure(key)
                    raise VenueError(
                        f"{self.venue}: {what}: the signer refused it: {err}",
                        code=ErrorCode.INVALID_ORDER,
                    )
                try:
                    resp = await asyncio.wait_for(
                        self.client.send_tx(tx_type=tx_type, tx_info=tx_info), self.timeout_s
                    )
                except Exception as exc:  # ApiException subclasses, aiohttp errors, timeouts
                    status = getattr(exc, "status", None)
                    body = str(getattr(exc, "body", "") or "")
                    if status == 400 and _invalid_nonce(body) and attempt == 0:
                        self.nonce_resyncs += 1
                        log.warning("%s: %s: invalid nonce %d; re-reading", self.venue, what, nonce)
                        await self._resync_nonce(key)
                        continue
                    return await self._after_exception(what, key, nonce, exc)
                code = getattr(resp, "code", None)
                if code != codes.OK:
                    nm.acknowledge_failure(key)
                    raise self._refused(what, code, str(getattr(resp, "message", "") or ""))
                self.sent += 1
                quota = getattr(resp, "volume_quota_remaining", None)
                if isinstance(quota, int):
                    self.volume_quota_remaining = quota
                return TxResult(str(getattr(resp, "tx_hash", "")), nonce, True, quota)
        raise VenueError(
            f"{self.venue}: {what}: invalid nonce twice",
            code=ErrorCode.VENUE,
            retryable=True,
            venue_code=str(codes.INVALID_NONCE),
        )

    async def _resync_nonce(self, key: int) -> None:
        await asyncio.wait_for(
            self.client.nonce_manager.async_hard_refresh_nonce(key), self.timeout_s
        )

    async def _after_exception(self, what: str, key: int, nonce: int, exc: Exception) -> TxResult:
        nm = self.client.nonce_manager
        status = getattr(exc, "status", None)
        if isinstance(status, int) and 400 <= status < 500:
            # the API server answered: refused, nothing was queued
            nm.acknowledge_failure(key)
            body = str(getattr(exc, "body", "") or "")
            if status == 429:
                raise RateLimited(
                    f"{self.venue}: {what}: HTTP 429 {body}"[:300],
                    retry_after=_retry_after(exc),
                    venue_code=str(codes.venue_code(body) or ""),
                ) from None
            raise self._refused(what, codes.venue_code(body), codes.message_of(body), status)
        if isinstance(exc, aiohttp.ClientConnectorError):
            # never reached the venue: nothing was sent
            nm.acknowledge_failure(key)
            raise VenueError(
                f"{self.venue}: {what}: {type(exc).__name__}: {exc}"[:300],
                code=ErrorCode.NETWORK,
                retryable=True,
            ) from None
        # 5xx, timeout or a lost connection: did the sequencer execute our nonce?
        if isinstance(status, int) and status >= 500:
            lost, detail = ErrorCode.SERVER_ERROR, f"HTTP {status}"
        elif isinstance(exc, TimeoutError):
            lost, detail = ErrorCode.TIMEOUT, "timed out"
        else:
            lost, detail = ErrorCode.NETWORK, f"{type(exc).__name__}: {exc}"[:200]
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
            raise self._unknown(what, detail, lost) from None
        if nm.nonce.get(key, -1) >= nonce:
            log.warning(
                "%s: %s: %s but the venue executed nonce %d", self.venue, what, detail, nonce
            )
            self.sent += 1
            return TxResult("", nonce, False)
        # not executed yet: it may still be queued (until its ExpiredAt) or it was never
        # taken; the next transaction uses this nonce again, which settles it either way
        log.warning("%s: %s: %s; nonce %d not executed (yet)", self.venue, what, detail, nonce)
        raise self._unknown(what, detail, lost)

    def _unknown(self, what: str, detail: str, code: ErrorCode) -> VenueError:
        self.unknown_outcomes += 1
        return VenueError(
            f"{self.venue}: {what}: {detail} (outcome unknown)",
            code=code,
            retryable=True,
            outcome_unknown=True,
        )

    def _read_error(self, what: str, exc: Exception) -> VenueError:
        status = getattr(exc, "status", None)
        body = str(getattr(exc, "body", "") or "").strip()
        if status == 429:
            return RateLimited(f"{self.venue}: {what}: HTTP 429", retry_after=_retry_after(exc))
        if isinstance(status, int) and 400 <= status < 500:
            r = codes.refusal(codes.venue_code(body), codes.message_of(body), status=status)
            return VenueError(
                f"{self.venue}: {what} refused: HTTP {status} {body}"[:400],
                code=r.code,
                venue_code=r.venue_code,
            )
        return VenueError(
            f"{self.venue}: {what}: {type(exc).__name__}: {status or exc}",
            code=ErrorCode.SERVER_ERROR if status else ErrorCode.NETWORK,
            retryable=True,
        )

    def _refused(self, what: str, code: int | None, message: str, status: int = 400) -> VenueError:
        r = codes.refusal(code, message, status=status)
        text = f"{self.venue}: {what} refused: code={code} {message}".strip()[:400]
        log.info("%s", text)
        if r.rate_limited:
            return RateLimited(text, retry_after=None, venue_code=r.venue_code)
        return VenueError(text, code=r.code, retryable=r.retryable, venue_code=r.venue_code)


def _invalid_nonce(body: str) -> bool:
    """Lighter reports a bad nonce as code 21104, sometimes as code 400 with the text
    (the SDK's own check is the text)."""
    return codes.venue_code(body) == codes.INVALID_NONCE or "invalid nonce" in body.lower()


def _retry_after(exc: Exception) -> float | None:
    headers = getattr(exc, "headers", None) or {}
    try:
        found = dict(headers)
    except (TypeError, ValueError):
        return None
    for name, value in found.items():
        if str(name).lower() == "retry-after":
            return retry_after_s(str(value))
    return None
