"""One Lighter transaction request under the API key's lock: the nonce protocol, and what
the answer means for every transaction in it (*docs/trading*, *SDK*). ``TxQueue``
(``txqueue``) plans the requests; this sends each.

Nonces are taken in batch order and one key's transactions reach the venue in nonce
order (*SDK* ``process_api_key_and_nonce``); once taken, a transaction goes out and its
nonce stays counted. The answer:

* ``code == 200``: all accepted; the sequencer executes them later, in nonce order.
* refused (HTTP 4xx, or 200 with another code): nothing was queued -- the nonces are given
  back. A refused batch is sent again one transaction at a time, so each gets its own
  answer (*NT* rolls back every nonce of a failed batch; **guess** that the venue refuses a
  batch whole: if it took the ones before the bad one, the resend of a create is refused
  as a repeated client index (21728, "placed") and a repeated cancel does nothing).
* invalid nonce (21104, or "invalid nonce" in the text): ``nextNonce`` is read again and
  the same transactions signed again (up to ``NONCE_ATTEMPTS``, waiting for queued ones to
  execute: ``nextNonce`` counts executed transactions only).
* 429 / 23000: ``RateLimited`` for all, the pacer backs off.
* lost (5xx, timeout, connection reset after sending): ``nextNonce`` is read; each
  transaction whose nonce the venue executed was sent (``confirmed=False``), each other one
  has an unknown outcome (``VenueError(outcome_unknown=True)``) -- a lost batch is settled
  transaction by transaction, exactly as a lost single one.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import aiohttp

from connectors.common.errors import ErrorCode, RateLimited, VenueError
from connectors.common.http import retry_after_s
from connectors.lighter import codes
from connectors.lighter.pacing import RequestPacer
from connectors.lighter.signing import BatchSigner
from connectors.lighter.txplan import QUOTA_KINDS, TxRequest, TxResult, request_priority

if TYPE_CHECKING:
    from connectors.lighter.tx import LighterTx

log = logging.getLogger("connectors.lighter.tx")

NONCE_ATTEMPTS = 4
NONCE_WAIT_S = 0.35
"""Between invalid-nonce retries: "wait at least 350 ms before using the same api key"
(*SDK* ``ApiNonceManager``)."""


class TxSender:
    """``TxQueue``'s sending half: signs a planned request with the key's next nonces,
    posts it and settles each transaction's future by the answer."""

    owner: LighterTx
    pacer: RequestPacer | None
    signer: BatchSigner
    _pending: list[TxRequest]
    requests: int
    batches: int
    split: int

    @property
    def venue(self) -> str:
        return self.owner.venue

    async def _send(self, batch: list[TxRequest], key: int) -> None:
        nm = self.owner.client.nonce_manager
        for attempt in range(NONCE_ATTEMPTS):
            batch = [r for r in batch if not (r.future is not None and r.future.cancelled())]
            if not batch:
                return
            first = await self._first_nonce(batch, key)
            if first is None:
                return
            # The Go signer releases the GIL and is fastest off the main thread: sign on
            # the signer's own workers, two transactions at once (signing.py).
            try:
                signed = await self.signer.sign(batch, first, key)
            except Exception as exc:  # the SDK's ctypes layer: nothing was sent
                nm.nonce[key] = first - 1
                log.exception("%s: signing %d transaction(s) raised", self.venue, len(batch))
                self._fail(
                    batch,
                    VenueError(
                        f"{self.venue}: the signer raised {exc!r}"[:300],
                        code=ErrorCode.INVALID_ORDER,
                    ),
                )
                return
            ok = [s for s in signed if s[4] is None]
            nm.nonce[key] = first + len(ok) - 1
            for req, _, _, _, err in signed:
                if err is not None:
                    self._fail(
                        [req],
                        VenueError(
                            f"{self.venue}: {req.what}: the signer refused it: {err}",
                            code=ErrorCode.INVALID_ORDER,
                        ),
                    )
            if not ok:
                return
            reqs = [s[0] for s in ok]
            for req, nonce, *_ in ok:
                req.nonce = nonce
                if req.on_nonce is not None:
                    req.on_nonce(nonce)
            if self.pacer is not None:
                endpoint = "sendTx" if len(ok) == 1 else "sendTxBatch"
                if attempt > 0:  # one more request: it waits for the budget too
                    await self.pacer.request(endpoint, request_priority(reqs))
                self.pacer.sent(endpoint)
            self.requests += 1
            try:
                resp = await asyncio.wait_for(self._post(ok), self.owner.timeout_s)
            except Exception as exc:  # ApiException subclasses, aiohttp errors, timeouts
                status = getattr(exc, "status", None)
                body = str(getattr(exc, "body", "") or "")
                if status == 400 and _invalid_nonce(body):
                    if await self._nonce_again(reqs, first, attempt):
                        batch = reqs
                        continue
                    return
                await self._after_exception(reqs, first, key, exc)
                return
            code = getattr(resp, "code", None)
            if code != codes.OK:
                message = str(getattr(resp, "message", "") or "")
                nm.nonce[key] = first - 1  # refused: nothing was queued
                if code == codes.INVALID_NONCE or "invalid nonce" in message.lower():
                    if await self._nonce_again(reqs, first, attempt):
                        batch = reqs
                        continue
                    return
                await self._refused(reqs, key, code, message)
                return
            self._accepted(reqs, resp)
            return

    async def _first_nonce(self, batch: list[TxRequest], key: int) -> int | None:
        """The batch's first nonce; None (the batch failed) when it cannot be read. While
        connecting, a 429 is waited out (``RequestPacer.wait_out``)."""
        while True:
            try:
                return await self.owner.next_nonce(key)
            except RateLimited as exc:
                if self.pacer is None or not await self.pacer.wait_out(
                    f"{self.venue}: nextNonce", exc, log
                ):
                    self._fail(batch, exc)
                    return None
            except VenueError as exc:
                self._fail(batch, exc)
                return None

    async def _rate_limited(self, reqs: list[TxRequest], err: RateLimited) -> None:
        """The venue said 429: nothing was queued. While connecting, the transactions wait
        it out at the head of the queue; else they fail (the core retries a place)."""
        if self.pacer is not None:
            self.pacer.back_off(err.retry_after)
            if await self.pacer.wait_out(f"{self.venue}: {reqs[0].what}", err, log):
                self._pending[:0] = [r for r in reqs if not r.done]
                return
        self._fail(reqs, err)

    async def _post(self, ok: list[tuple[TxRequest, int, Any, Any, None]]) -> Any:
        client = self.owner.client
        if len(ok) == 1:
            _, _, tx_type, tx_info, _ = ok[0]
            return await client.send_tx(tx_type=tx_type, tx_info=tx_info)
        self.batches += 1
        return await client.send_tx_batch(tx_types=[s[2] for s in ok], tx_infos=[s[3] for s in ok])

    async def _nonce_again(self, reqs: list[TxRequest], first: int, attempt: int) -> bool:
        """An invalid nonce: re-read ``nextNonce`` (after a pause from the second time on:
        it counts executed transactions only, and ours may still be queued). False (the
        transactions failed) after ``NONCE_ATTEMPTS``."""
        self.owner.nonce_resyncs += 1
        log.warning(
            "%s: invalid nonce %d (%s); re-reading nextNonce", self.venue, first, reqs[0].what
        )
        if attempt + 1 >= NONCE_ATTEMPTS:
            self._fail(
                reqs,
                VenueError(
                    f"{self.venue}: {reqs[0].what}: invalid nonce {NONCE_ATTEMPTS} times",
                    code=ErrorCode.VENUE,
                    retryable=True,
                    venue_code=str(codes.INVALID_NONCE),
                ),
            )
            return False
        if attempt > 0:
            await asyncio.sleep(NONCE_WAIT_S * attempt)
        try:
            await self.owner.resync_nonce()
        except VenueError as exc:
            self._fail(reqs, exc)
            return False
        return True

    def _accepted(self, reqs: list[TxRequest], resp: Any) -> None:
        self.owner.sent += len(reqs)
        hashes = getattr(resp, "tx_hash", None)
        if not isinstance(hashes, list):
            hashes = [hashes] * len(reqs)
        quota = getattr(resp, "volume_quota_remaining", None)
        quota = quota if isinstance(quota, int) and not isinstance(quota, bool) else None
        vq = self.pacer.quota if self.pacer is not None else None
        if vq is not None:
            vq.spent(sum(1 for r in reqs if r.kind in QUOTA_KINDS))
            if quota is not None:
                vq.seen(quota)
        if quota is not None:
            self.owner.volume_quota_remaining = quota
        for i, req in enumerate(reqs):
            tx_hash = str(hashes[i]) if i < len(hashes) and hashes[i] is not None else ""
            self._resolve(req, TxResult(tx_hash, req.nonce or 0, True, quota))

    async def _refused(
        self, reqs: list[TxRequest], key: int, code: int | None, message: str, status: int = 400
    ) -> None:
        err = self.owner.refused(reqs[0].what, code, message, status)
        if isinstance(err, RateLimited):
            await self._rate_limited(reqs, err)
            return
        if len(reqs) == 1:
            self._fail(reqs, err)
            return
        # which one the venue refused it does not say: each alone gets its own answer
        self.split += 1
        log.info(
            "%s: batch of %d refused (%s); sending them one by one", self.venue, len(reqs), err
        )
        for req in reqs:
            if req.done:
                continue
            if self.pacer is not None:
                await self.pacer.request("sendTx", req.priority)
            await self._send([req], key)

    async def _after_exception(
        self, reqs: list[TxRequest], first: int, key: int, exc: Exception
    ) -> None:
        nm = self.owner.client.nonce_manager
        status = getattr(exc, "status", None)
        if isinstance(status, int) and 400 <= status < 500:
            nm.nonce[key] = first - 1  # the API server answered: nothing was queued
            body = str(getattr(exc, "body", "") or "")
            if status == 429:
                err = RateLimited(
                    f"{self.venue}: {reqs[0].what}: HTTP 429 {body}"[:300],
                    retry_after=retry_after(exc),
                    venue_code=str(codes.venue_code(body) or ""),
                )
                await self._rate_limited(reqs, err)
                return
            await self._refused(reqs, key, codes.venue_code(body), codes.message_of(body), status)
            return
        if isinstance(exc, aiohttp.ClientConnectorError):
            nm.nonce[key] = first - 1  # never reached the venue: nothing was sent
            self._fail(
                reqs,
                VenueError(
                    f"{self.venue}: {reqs[0].what}: {type(exc).__name__}: {exc}"[:300],
                    code=ErrorCode.NETWORK,
                    retryable=True,
                ),
            )
            return
        # 5xx, timeout or a lost connection: which nonces did the sequencer execute?
        if isinstance(status, int) and status >= 500:
            lost, detail = ErrorCode.SERVER_ERROR, f"HTTP {status}"
        elif isinstance(exc, TimeoutError):
            lost, detail = ErrorCode.TIMEOUT, "timed out"
        else:
            lost, detail = ErrorCode.NETWORK, f"{type(exc).__name__}: {exc}"[:200]
        try:
            await self.owner.resync_nonce()
        except VenueError as again:
            log.error(
                "%s: %d transaction(s) failed (%s) and nextNonce is unreadable (%s): "
                "outcome unknown",
                self.venue,
                len(reqs),
                detail,
                again,
            )
            nm.nonce.pop(key, None)  # re-read before the next transaction
            for req in reqs:
                self._fail([req], self.owner.unknown(req.what, detail, lost))
            return
        executed_below = nm.nonce.get(key, -1)
        for req in reqs:
            nonce = req.nonce if req.nonce is not None else first
            if executed_below >= nonce:
                log.warning(
                    "%s: %s: %s but the venue executed nonce %d",
                    self.venue,
                    req.what,
                    detail,
                    nonce,
                )
                self.owner.sent += 1
                self._resolve(req, TxResult("", nonce, False))
            else:
                # not executed yet: it may still be queued (until its ExpiredAt) or it was
                # never taken; the next transaction settles the nonce either way
                log.warning(
                    "%s: %s: %s; nonce %d not executed (yet)", self.venue, req.what, detail, nonce
                )
                self._fail([req], self.owner.unknown(req.what, detail, lost))

    # -- futures -----------------------------------------------------------------------

    @staticmethod
    def _resolve(req: TxRequest, result: TxResult) -> None:
        if req.future is not None and not req.future.done():
            req.future.set_result(result)

    @staticmethod
    def _fail(reqs: list[TxRequest], exc: BaseException) -> None:
        for req in reqs:
            if req.future is not None and not req.future.done():
                req.future.set_exception(exc)


def _invalid_nonce(body: str) -> bool:
    """Lighter reports a bad nonce as code 21104, sometimes as code 400 with the text
    (the SDK's own check is the text)."""
    return codes.venue_code(body) == codes.INVALID_NONCE or "invalid nonce" in body.lower()


def retry_after(exc: Exception) -> float | None:
    headers = getattr(exc, "headers", None) or {}
    try:
        found = dict(headers)
    except (TypeError, ValueError):
        return None
    for name, value in found.items():
        if str(name).lower() == "retry-after":
            return retry_after_s(str(value))
    return None


__all__ = ["NONCE_ATTEMPTS", "NONCE_WAIT_S", "TxSender", "retry_after"]
