"""Signed Lighter transactions through the real lighter-sdk ``SignerClient``.

The SDK signs (``sign_*``: its Go library, in-process, no network when the nonce is given;
~4 ms, so in a worker thread) and posts (``send_tx`` / ``send_tx_batch``). We drive its
*async* nonce manager ourselves so that we always know which nonce a transaction carried.
Every transaction goes through the ``TxQueue`` (``txqueue``): those issued in the same loop
turn leave as one ``sendTxBatch``, cancels first; the module says what each answer means for
each transaction (accepted, refused -> nonce given back, invalid nonce -> re-read, 429,
lost -> settled by ``nextNonce``).

The blocking helpers (``check_client``, the nonce manager's sync methods, ``sign_*`` with
``nonce=-1``) are never called. ``import lighter`` itself takes about two seconds, so
``start()`` imports it in a worker thread.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import aiohttp

from connectors.common.errors import ErrorCode, RateLimited, VenueError
from connectors.lighter import codes
from connectors.lighter.keys import LighterKeys
from connectors.lighter.pacing import Priority, RequestPacer
from connectors.lighter.txqueue import (
    Signed,
    TxKind,
    TxQueue,
    TxRequest,
    TxResult,
    retry_after,
)

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


def load_sdk() -> Any:
    """Import lighter-sdk (slow: run it in a worker thread) and load its signer library."""
    lighter = importlib.import_module("lighter")
    signer_client = importlib.import_module("lighter.signer_client")
    signer_client.get_signer()
    return lighter


@dataclass(frozen=True, slots=True)
class CreateTerms:
    """What a CreateOrder is signed with (kept until it leaves: ``restate_create``)."""

    market: int
    client_index: int
    base_amount: int
    price: int
    is_ask: bool
    order_type: int
    time_in_force: int
    reduce_only: bool
    order_expiry: int


def _now_ms() -> int:
    return int(time.time() * 1000)


class LighterTx:
    def __init__(
        self,
        url: str,
        keys: LighterKeys | None,
        *,
        chain_id: int | None = None,
        timeout_s: float = 10.0,
        venue: str = "lighter",
        pacer: RequestPacer | None = None,
        batch: bool = True,
    ) -> None:
        self.url = url.rstrip("/")
        self.keys = keys
        self.chain_id = chain_id
        self.timeout_s = timeout_s
        self.venue = venue
        self.pacer = pacer
        self.client: Any = None
        self.sent = 0
        self.nonce_resyncs = 0
        self.unknown_outcomes = 0
        self.volume_quota_remaining: int | None = None
        self.queue = TxQueue(self, batch=batch, pacer=pacer)
        self.scheduled_at_ms: int | None = None
        """The deadline the last scheduled cancel-all was signed with (it may be later
        than asked: ``_schedule_request``)."""

    async def start(self) -> None:
        if self.client is not None:
            return
        if self.keys is None:
            raise VenueError(f"{self.venue}: signing needs Lighter keys", code=ErrorCode.NO_KEYS)
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
        await self.queue.close()
        if self.client is not None:
            try:
                await self.client.close()
            except (aiohttp.ClientError, OSError) as exc:
                log.warning("%s: closing the signer's HTTP session failed: %r", self.venue, exc)
            self.client = None

    def not_connected(self) -> VenueError:
        return VenueError(
            f"{self.venue}: not connected", code=ErrorCode.NOT_CONNECTED, retryable=True
        )

    async def auth_token(self, ttl_s: int) -> tuple[str, int]:
        """A fresh auth token valid for ``ttl_s`` seconds and its expiry (unix s)."""
        if self.client is None:
            raise self.not_connected()
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
        """``on_nonce`` hears the nonce the order is signed with before it is sent. Raises
        ``Withdrawn`` when the create was taken back before it left (``queue.withdraw``)."""
        terms = CreateTerms(
            market,
            client_index,
            base_amount,
            price,
            is_ask,
            order_type,
            time_in_force,
            reduce_only,
            order_expiry,
        )
        what = f"create order {client_index} on market {market}"
        req = TxRequest(what, TxKind.CREATE, self._create_signer(terms), client_index, on_nonce)
        req.terms = terms
        return await self._submit(req)

    def _create_signer(self, t: CreateTerms) -> Callable[[int, int], Signed]:
        def sign(nonce: int, key: int) -> Signed:
            return self.client.sign_create_order(
                t.market,
                t.client_index,
                t.base_amount,
                t.price,
                int(t.is_ask),
                t.order_type,
                t.time_in_force,
                int(t.reduce_only),
                0,  # trigger price: none
                t.order_expiry,
                nonce=nonce,
                api_key_index=key,
            )

        return sign

    def restate_create(self, client_index: int, base_amount: int, price: int) -> bool:
        """Our create of ``client_index`` has not left yet: it will be signed with this
        size and price instead (one transaction, not a create and a modify). False when it
        has left or is not queued."""
        req = self.queue.unsent(TxKind.CREATE, client_index)
        if req is None or not isinstance(req.terms, CreateTerms):
            return False
        req.terms = replace(req.terms, base_amount=base_amount, price=price)
        req.sign = self._create_signer(req.terms)
        self.queue.restated += 1
        return True

    async def cancel_order(self, *, market: int, index: int) -> TxResult:
        def sign(nonce: int, key: int) -> Signed:
            return self.client.sign_cancel_order(market, index, nonce=nonce, api_key_index=key)

        return await self._run(f"cancel {index} on market {market}", TxKind.CANCEL, sign, index)

    async def cancel_all(self, market: int | None = None) -> TxResult:
        def sign(nonce: int, key: int) -> Signed:
            return self.client.sign_cancel_all_orders(
                CANCEL_ALL_IMMEDIATE,
                0,
                NIL_MARKET if market is None else market,
                nonce=nonce,
                api_key_index=key,
            )

        what = f"cancel all ({'all' if market is None else market})"
        return await self._run(what, TxKind.CANCEL_ALL, sign)

    def _schedule_request(self, at_ms: int) -> TxRequest:
        issued_ms = _now_ms()

        def sign(nonce: int, key: int) -> Signed:
            # as far ahead as when it was issued: the time it waited for the budget is
            # added (the venue refuses a schedule under 5 min ahead, 21714)
            at = at_ms + max(0, _now_ms() - issued_ms)
            self.scheduled_at_ms = at
            return self.client.sign_cancel_all_orders(
                CANCEL_ALL_SCHEDULED, at, NIL_MARKET, nonce=nonce, api_key_index=key
            )

        return TxRequest(f"schedule cancel all at {at_ms}", TxKind.CANCEL_ALL, sign)

    def _abort_request(self) -> TxRequest:
        def sign(nonce: int, key: int) -> Signed:
            return self.client.sign_cancel_all_orders(
                CANCEL_ALL_ABORT, 0, NIL_MARKET, nonce=nonce, api_key_index=key
            )

        return TxRequest("abort scheduled cancel all", TxKind.CANCEL_ALL, sign)

    async def schedule_cancel_all(self, at_ms: int) -> TxResult:
        """Arm the venue's scheduled cancel-all (refused with 21712 while one is queued)."""
        return await self._submit(self._schedule_request(at_ms))

    async def abort_scheduled_cancel_all(self) -> TxResult:
        return await self._submit(self._abort_request())

    async def reschedule_cancel_all(
        self, at_ms: int
    ) -> tuple[TxResult | BaseException, TxResult | BaseException]:
        """Abort the queued scheduled cancel-all and schedule a new one, issued together
        (one batch, abort first: they execute back to back). Each result or error."""
        if self.client is None:
            raise self.not_connected()
        abort, schedule = self._abort_request(), self._schedule_request(at_ms)
        futures = [self.queue.submit(abort), self.queue.submit(schedule)]
        done = await asyncio.gather(*futures, return_exceptions=True)
        return done[0], done[1]

    async def modify_order(
        self, *, market: int, index: int, base_amount: int, price: int
    ) -> TxResult:
        def sign(nonce: int, key: int) -> Signed:
            return self.client.sign_modify_order(
                market, index, base_amount, price, 0, nonce=nonce, api_key_index=key
            )

        return await self._run(f"modify {index} on market {market}", TxKind.MODIFY, sign, index)

    async def _run(
        self,
        what: str,
        kind: TxKind,
        sign: Callable[[int, int], Signed],
        target: int | None = None,
        on_nonce: Callable[[int], None] | None = None,
    ) -> TxResult:
        return await self._submit(TxRequest(what, kind, sign, target, on_nonce))

    async def _submit(self, req: TxRequest) -> TxResult:
        if self.client is None:
            raise self.not_connected()
        return await self.queue.run(req)

    # -- the nonce protocol ----------------------------------------------------------

    async def next_nonce(self, key: int) -> int:
        """The next nonce of ``key`` (read from the venue the first time)."""
        nm = self.client.nonce_manager
        if key not in nm.nonce and self.pacer is not None:
            await self.pacer.request("nextNonce", Priority.PLACE)
        try:
            _, nonce = await asyncio.wait_for(nm.async_next_nonce(key), self.timeout_s)
        except Exception as exc:  # ApiException subclasses, aiohttp errors, timeouts
            raise self._read_error("nextNonce", exc) from None
        return int(nonce)

    async def resync_nonce(self) -> None:
        """Re-read ``nextNonce``: the next transaction takes it."""
        if self.client is None:
            raise self.not_connected()
        if self.pacer is not None:
            await self.pacer.request("nextNonce", Priority.PLACE)
        key = self.keys.api_key_index
        try:
            await asyncio.wait_for(
                self.client.nonce_manager.async_hard_refresh_nonce(key), self.timeout_s
            )
        except Exception as exc:  # ApiException subclasses, aiohttp errors, timeouts
            raise self._read_error("nextNonce", exc) from None

    async def executed(self, nonce: int) -> bool:
        """Whether the venue has executed our key's tx ``nonce`` (``nextNonce`` is past it)."""
        if self.client is None:
            raise self.not_connected()
        if self.pacer is not None:
            await self.pacer.request("nextNonce", Priority.QUERY)
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

    def unknown(self, what: str, detail: str, code: ErrorCode) -> VenueError:
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
            err = RateLimited(f"{self.venue}: {what}: HTTP 429", retry_after=retry_after(exc))
            if self.pacer is not None:
                self.pacer.back_off(err.retry_after)
            return err
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

    def refused(self, what: str, code: int | None, message: str, status: int = 400) -> VenueError:
        r = codes.refusal(code, message, status=status)
        text = f"{self.venue}: {what} refused: code={code} {message}".strip()[:400]
        log.info("%s", text)
        if r.rate_limited:
            return RateLimited(text, retry_after=None, venue_code=r.venue_code)
        return VenueError(text, code=r.code, retryable=r.retryable, venue_code=r.venue_code)


__all__ = ["LighterTx", "TxResult", "load_sdk"]
