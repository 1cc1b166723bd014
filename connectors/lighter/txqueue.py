"""The Lighter transaction queue: what goes out in one request, in which order, with
which nonces, and what each answer means for every transaction in it.

Transactions issued in the same loop turn (a requote: its cancels and its new orders)
leave as one ``sendTxBatch`` (up to ``MAX_BATCH``, *docs/ws*: "up to 50 transactions in a
single message"); one alone leaves as ``sendTx``. Inside a batch the cancels go first
(``plan``): a cancel moves ahead of the creates and modifies issued before it, but never
ahead of a cancel-all (scheduled, aborted or immediate: they keep their place) nor of a
create or modify of the order it cancels.

One worker sends, under the API key's lock, one request at a time: nonces are taken in
batch order and one key's transactions reach the venue in nonce order (*SDK*
``process_api_key_and_nonce``). A caller that gives up (its task cancelled) before its
transaction was taken leaves the queue without spending a nonce; once taken, the
transaction goes out all the same and its nonce stays counted.

The answer, for every transaction of the request (*docs/trading*, *SDK*):

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
import contextlib
import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp

from connectors.common.errors import ErrorCode, RateLimited, VenueError
from connectors.common.http import retry_after_s
from connectors.lighter import codes
from connectors.lighter.pacing import Priority, RequestPacer
from connectors.lighter.signing import BatchSigner, Signed

if TYPE_CHECKING:
    from connectors.lighter.tx import LighterTx

log = logging.getLogger("connectors.lighter.tx")

MAX_BATCH = 50
NONCE_ATTEMPTS = 4
NONCE_WAIT_S = 0.35
"""Between invalid-nonce retries: "wait at least 350 ms before using the same api key"
(*SDK* ``ApiNonceManager``)."""


@dataclass(frozen=True, slots=True)
class TxResult:
    tx_hash: str
    nonce: int
    confirmed: bool
    """False when the answer was lost and the venue's nonce showed it was sequenced."""
    volume_quota_remaining: int | None = None


class TxKind(enum.Enum):
    CREATE = "create"
    CANCEL = "cancel"
    MODIFY = "modify"
    CANCEL_ALL = "cancel_all"
    """Immediate, scheduled or aborted: keeps its place in a batch."""


QUOTA_KINDS = frozenset({TxKind.CREATE, TxKind.MODIFY})
"""What spends Premium volume quota (*docs/volume-quota*: create, modify; not cancels)."""


class Withdrawn(Exception):
    """A create taken back before it left (``TxQueue.withdraw``): nothing was signed nor
    sent for it, no nonce spent -- the order is provably not at the venue."""


@dataclass(eq=False)
class TxRequest:
    what: str
    kind: TxKind
    sign: Callable[[int, int], Signed]
    target: int | None = None
    """The order it concerns: a create's client index, a cancel's or modify's index."""
    on_nonce: Callable[[int], None] | None = None
    future: asyncio.Future[TxResult] | None = field(default=None, repr=False)
    nonce: int | None = None
    """The nonce it was last signed with."""
    terms: Any = None
    """A create's terms (``tx.CreateTerms``): what ``restate`` changes before it leaves."""

    @property
    def priority(self) -> int:
        cancels = self.kind in (TxKind.CANCEL, TxKind.CANCEL_ALL)
        return Priority.CANCEL if cancels else Priority.PLACE

    @property
    def done(self) -> bool:
        return self.future is not None and self.future.done()


def request_priority(reqs: list[TxRequest]) -> int:
    """A request that only cancels ranks as a cancel (and may use the budget's reserve);
    one that also creates or modifies ranks as an order (its cancels still go first in
    it)."""
    return max(r.priority for r in reqs)


def plan(pending: list[TxRequest], limit: int, allowance: int | None = None) -> list[TxRequest]:
    """The next request's transactions, in send order: at most ``limit``, cancels ahead of
    the creates and modifies before them (not past a cancel-all, nor past a create or
    modify of their own order), at most ``allowance`` quota-spending ones. A transaction
    held back holds back every later one of the same order, and any later cancel-all."""
    out: list[TxRequest] = []
    barrier = 0
    held: set[int | None] = set()
    blocked = False
    for req in pending:
        if req.done:
            continue
        if blocked or len(out) >= limit:
            break
        if req.kind is TxKind.CANCEL_ALL and held:
            blocked = True  # it must not overtake what it was meant to cancel
            continue
        if req.target is not None and req.target in held:
            continue
        if req.kind in QUOTA_KINDS and allowance is not None:
            if allowance <= 0:
                held.add(req.target)
                continue
            allowance -= 1
        if req.kind is TxKind.CANCEL_ALL:
            out.append(req)
            barrier = len(out)
        elif req.kind is TxKind.CANCEL:
            pos = barrier
            for i in range(barrier, len(out)):
                if req.target is not None and out[i].target == req.target:
                    pos = i + 1  # never ahead of its own order's create or modify
            while pos < len(out) and out[pos].kind is TxKind.CANCEL:
                pos += 1  # behind the cancels already moved up (they commute)
            out.insert(pos, req)
        else:
            out.append(req)
    return out


class TxQueue:
    def __init__(self, owner: LighterTx, *, batch: bool, pacer: RequestPacer | None) -> None:
        self.owner = owner
        self.batch = batch
        self.pacer = pacer
        self.limit = MAX_BATCH if batch else 1
        self.signer = BatchSigner()
        self._pending: list[TxRequest] = []
        self._worker: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.requests = 0
        """sendTx / sendTxBatch requests sent."""
        self.batches = 0
        self.split = 0
        """Refused batches sent again one by one."""
        self.withdrawn = 0
        """Creates taken back before they left (cancelled, or dropped at a shutdown)."""
        self.restated = 0
        """Creates re-signed with new terms before they left (a modify of an unsent order)."""

    @property
    def venue(self) -> str:
        return self.owner.venue

    # -- callers ---------------------------------------------------------------------

    async def run(self, req: TxRequest) -> TxResult:
        fut = self.submit(req)
        try:
            return await fut
        except asyncio.CancelledError:
            with contextlib.suppress(ValueError):
                self._pending.remove(req)  # not taken yet: never sent, no nonce spent
            raise

    def submit(self, req: TxRequest) -> asyncio.Future[TxResult]:
        """Queue ``req``; it leaves with the others queued in this loop turn."""
        loop = asyncio.get_running_loop()
        req.future = loop.create_future()
        self._pending.append(req)
        self._wake.set()
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._work(), name=f"{self.venue} tx queue")
        return req.future

    def unsent(self, kind: TxKind, target: int) -> TxRequest | None:
        """Our ``kind`` transaction of ``target`` still waiting in the queue (not taken by
        the worker: not signed, no nonce)."""
        for req in self._pending:
            if req.kind is kind and req.target == target and not req.done:
                return req
        return None

    def withdraw(self, target: int, kind: TxKind = TxKind.CREATE) -> bool:
        """Take back the ``kind`` transaction of ``target`` (a create's client index) if it
        has not left: its caller gets ``Withdrawn``. False when it was taken (it goes out)
        or is not queued."""
        req = self.unsent(kind, target)
        if req is None:
            return False
        self._pending.remove(req)
        self._fail([req], Withdrawn(f"{self.venue}: {req.what}: withdrawn before it was sent"))
        self._wake.set()
        self.withdrawn += 1
        return True

    def withdraw_unsent(
        self,
        kinds: frozenset[TxKind] = QUOTA_KINDS,
        keep: Callable[[TxRequest], bool] = lambda r: False,
    ) -> int:
        """Take back every create and modify (``kinds``) that has not left, but those
        ``keep`` says: a shutdown sends nothing new. How many."""
        reqs = [
            r
            for r in self._pending
            if r.kind in kinds and r.target is not None and not r.done and not keep(r)
        ]
        return sum(self.withdraw(r.target, r.kind) for r in reqs if r.target is not None)

    def wake(self) -> None:
        """Something changed for transactions held back (the quota grew)."""
        self._wake.set()

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        self.signer.close()
        err = VenueError(
            f"{self.venue}: connector closed", code=ErrorCode.NOT_CONNECTED, retryable=True
        )
        for req in self._pending:
            self._fail([req], err)
        self._pending.clear()

    # -- the worker ------------------------------------------------------------------

    def _allowance(self) -> int | None:
        quota = self.pacer.quota if self.pacer is not None else None
        return quota.allowance() if quota is not None else None

    async def _work(self) -> None:
        try:
            await self._work_loop()
        except Exception as exc:  # a bug here must not leave callers waiting forever
            log.exception("%s: the tx queue failed", self.venue)
            err = VenueError(
                f"{self.venue}: the tx queue failed: {exc!r}"[:300],
                code=ErrorCode.VENUE,
                retryable=True,
            )
            self._fail(self._pending, err)
            self._pending.clear()

    async def _work_loop(self) -> None:
        while True:
            self._pending = [r for r in self._pending if not r.done]
            if not self._pending:
                return
            batch = plan(self._pending, self.limit, self._allowance())
            if not batch:
                await self._wait_for_quota()
                continue
            endpoint = "sendTx" if len(batch) == 1 else "sendTxBatch"
            if self.pacer is not None:
                if not await self._acquire(endpoint, request_priority(batch)):
                    continue  # the queue changed while waiting (a cancel, a withdrawal)
                batch = plan(self._pending, self.limit, self._allowance())  # more came
                if not batch:
                    self.pacer.refund(endpoint)
                    continue
            for req in batch:
                self._pending.remove(req)
            try:
                await self._dispatch(batch)
            except Exception as exc:
                log.exception("%s: sending %d transaction(s) failed", self.venue, len(batch))
                self._fail(
                    batch,
                    VenueError(
                        f"{self.venue}: sending failed: {exc!r}"[:300],
                        code=ErrorCode.VENUE,
                        retryable=True,
                        outcome_unknown=True,
                    ),
                )

    async def _acquire(self, endpoint: str, priority: int) -> bool:
        """Wait for the budget; False (nothing granted) when the queue changed meanwhile:
        the batch is planned again (a shutdown's cancels and abort do not wait for the
        room orders need, for orders it has taken back)."""
        assert self.pacer is not None
        self._wake.clear()
        loop = asyncio.get_running_loop()
        grant = loop.create_task(self.pacer.request(endpoint, priority))
        woken = loop.create_task(self._wake.wait())
        try:
            await asyncio.wait({grant, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
            if not grant.done():
                grant.cancel()
            await asyncio.wait({grant})
        if grant.cancelled():
            return False
        grant.result()
        return True

    async def _wait_for_quota(self) -> None:
        """Every queued transaction needs volume quota and none is left: wait for the
        free one (or anything new, a cancel say)."""
        quota = self.pacer.quota if self.pacer is not None else None
        delay = quota.next_free_in() if quota is not None else 0.5
        if quota is not None:
            quota.held += 1
            log.warning(
                "%s: volume quota spent; orders held %.1f s for the free transaction",
                self.venue,
                delay,
            )
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), max(delay, 0.05))

    async def _dispatch(self, batch: list[TxRequest]) -> None:
        client = self.owner.client
        if client is None:
            self._fail(batch, self.owner.not_connected())
            return
        key = self.owner.keys.api_key_index
        async with client.nonce_manager.lock(key):
            await self._send(batch, key)

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


__all__ = [
    "MAX_BATCH",
    "QUOTA_KINDS",
    "Signed",
    "TxKind",
    "TxQueue",
    "TxRequest",
    "TxResult",
    "Withdrawn",
    "plan",
    "retry_after",
]
