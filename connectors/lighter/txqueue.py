"""The Lighter transaction queue: what goes out in one request and when. Which
transactions a request holds, in which order, is ``txplan``; how one request is signed,
sent and answered (the nonce protocol) is ``txsend``.

Transactions issued in the same loop turn (a requote: its cancels and its new orders)
leave as one ``sendTxBatch`` (up to ``MAX_BATCH``, *docs/ws*: "up to 50 transactions in a
single message"); one alone leaves as ``sendTx``. Inside a batch the cancels go first
(``plan``).

One worker sends, under the API key's lock, one request at a time: nonces are taken in
batch order and one key's transactions reach the venue in nonce order (*SDK*
``process_api_key_and_nonce``). A caller that gives up (its task cancelled) before its
transaction was taken leaves the queue without spending a nonce; once taken, the
transaction goes out all the same and its nonce stays counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from connectors.common.errors import ErrorCode, VenueError
from connectors.lighter.pacing import RequestPacer
from connectors.lighter.signing import BatchSigner, Signed
from connectors.lighter.txplan import (
    MAX_BATCH,
    QUOTA_KINDS,
    TxKind,
    TxRequest,
    TxResult,
    Withdrawn,
    plan,
    request_priority,
)
from connectors.lighter.txsend import NONCE_ATTEMPTS, NONCE_WAIT_S, TxSender, retry_after

if TYPE_CHECKING:
    from connectors.lighter.tx import LighterTx

log = logging.getLogger("connectors.lighter.tx")


class TxQueue(TxSender):
    """The queue and its worker; each request is sent by ``TxSender`` (``txsend``)."""

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


__all__ = [
    "MAX_BATCH",
    "NONCE_ATTEMPTS",
    "NONCE_WAIT_S",
    "QUOTA_KINDS",
    "Signed",
    "TxKind",
    "TxQueue",
    "TxRequest",
    "TxResult",
    "Withdrawn",
    "plan",
    "request_priority",
    "retry_after",
]
