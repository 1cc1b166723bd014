"""Sends order requests to one venue: rate limits, retries, and supervised tasks.

Every request runs as a task the gateway owns; a failure is logged with the
order it concerns and turned into an order state, never lost. Cancels take
priority over new orders in the rate limiter.

A place is resent (same client id) only when the venue certainly did not take
it: a 429, or a connection that was never made. When its answer was lost — a
timeout or 5xx after sending, a connection dropped mid-answer (``VenueError.
outcome_unknown``) — it is never resent, whatever the venue does with repeated
client ids: the order stays pending with an unknown outcome and the core looks
it up by client id (``mmtui.core.inflight``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from connectors.base import (
    DUPLICATE_CLIENT_ID,
    Connector,
    OrderAck,
    OrderRequest,
    OrderStatus,
    RateLimited,
    VenueError,
)
from mmtui.core.orders import Order
from mmtui.core.ratelimit import Priority, RateLimiter

log = logging.getLogger("mmtui.gateway")

AckHandler = Callable[[Order, OrderAck], None]
CancelHandler = Callable[[Order, bool, str], None]
UnknownHandler = Callable[[Order, str], None]
SentHook = Callable[[str, str], None]

ROUND_TRIPS_KEPT = 1000


class VenueGateway:
    def __init__(
        self,
        connector: Connector,
        limiter: RateLimiter | None,
        *,
        on_ack: AckHandler,
        on_cancel_result: CancelHandler,
        on_unknown: UnknownHandler | None = None,
        max_retries: int = 5,
        retry_delay_s: float = 0.5,
        now_ms: Callable[[], int] | None = None,
        sent: SentHook | None = None,
    ) -> None:
        self.connector = connector
        self.limiter = limiter
        self._on_ack = on_ack
        self._on_cancel_result = on_cancel_result
        self._on_unknown = on_unknown
        self.max_retries = max_retries
        self.retry_delay_s = retry_delay_s
        self._tasks: set[asyncio.Task[Any]] = set()
        self.errors = 0
        self.retries = 0
        self._now_ms = now_ms
        self.sent = sent
        """Told (venue, symbol) as a place or a modify leaves (``mmtui.core.latency``)."""
        self.round_trips: deque[int] = deque(maxlen=ROUND_TRIPS_KEPT)
        """Milliseconds from sending a place to its answer, the latest first forgotten
        last (no answer, no sample)."""

    @property
    def name(self) -> str:
        return self.connector.name

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def place(self, order: Order) -> None:
        self._spawn(self._place(order), f"place {order.client_id}")

    def cancel(self, order: Order) -> None:
        self._spawn(self._cancel(order), f"cancel {order.client_id}")

    def spawn(self, coro: Coroutine[Any, Any, Any], what: str) -> asyncio.Task[Any]:
        """Run any venue call as a supervised task of this gateway."""
        return self._spawn(coro, what)

    async def drain(self, timeout: float) -> bool:
        """Wait for in-flight requests; True if all finished in time."""
        if not self._tasks:
            return True
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        return not pending

    async def call(
        self,
        key: str,
        priority: Priority,
        fn: Callable[[], Coroutine[Any, Any, Any]],
        *,
        resend_unknown: bool = True,
    ) -> Any:
        """One venue call with rate limiting and retry of rate-limit/transient errors.

        With ``resend_unknown=False`` a failure whose outcome is unknown (the venue
        may have done it) is raised at once instead of retried."""
        attempt = 0
        while True:
            if self.limiter is not None:
                await self.limiter.acquire(key, priority)
            try:
                return await fn()
            except RateLimited as exc:
                delay = exc.retry_after if exc.retry_after is not None else self.retry_delay_s
                error: VenueError = exc
            except VenueError as exc:
                if not exc.retryable or (exc.outcome_unknown and not resend_unknown):
                    raise
                error = exc
                delay = self.retry_delay_s * (2**attempt)
            attempt += 1
            self.retries += 1
            if attempt > self.max_retries:
                raise error
            log.warning("%s %s: %s; retry %d in %.2fs", self.name, key, error, attempt, delay)
            if isinstance(error, RateLimited) and self.limiter is not None:
                self.limiter.back_off(delay)  # every caller on this venue waits, not just us
            else:
                await asyncio.sleep(delay)

    # -- internals ------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, Any], what: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=f"{self.name}: {what}")
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.errors += 1
            log.error("%s: %s failed: %r", self.name, task.get_name(), exc, exc_info=exc)

    async def _place(self, order: Order) -> None:
        request = order.request()
        try:
            ack = await self.call(
                "place", Priority.PLACE, lambda: self._timed_place(request), resend_unknown=False
            )
        except VenueError as exc:
            if exc.outcome_unknown:
                self._unknown(order, f"answer lost ({exc.code}): {exc}")
                return
            if exc.code == DUPLICATE_CLIENT_ID:
                # Our ids are unique per run: the venue already holds this very order
                # (an earlier attempt landed and its answer was lost). It is placed.
                log.warning("%s: %s already live on the venue: placed", self.name, order.client_id)
                ack = OrderAck(order.client_id, None, OrderStatus.OPEN, "placed by an earlier try")
            else:
                ack = OrderAck(
                    order.client_id, None, OrderStatus.REJECTED, f"{exc.code or 'venue'}: {exc}"
                )
        except Exception as exc:
            # A connector bug: the request may or may not have gone out. The order
            # is looked up like any lost answer (and ends LOST if the venue has none).
            log.exception("%s: place %s raised", self.name, order.client_id)
            self._unknown(order, f"connector error: {exc!r}")
            return
        self._on_ack(order, ack)

    async def _timed_place(self, request: OrderRequest) -> OrderAck:
        if self.sent is not None:
            self.sent(self.name, request.symbol)
        if self._now_ms is None:
            return await self.connector.place(request)
        sent = self._now_ms()
        ack = await self.connector.place(request)
        self.round_trips.append(self._now_ms() - sent)
        return ack

    def _unknown(self, order: Order, reason: str) -> None:
        log.warning(
            "%s: place %s: outcome unknown (%s); looking it up, not resending",
            self.name,
            order.client_id,
            reason,
        )
        if self._on_unknown is not None:
            self._on_unknown(order, reason)
        else:
            self._on_ack(order, OrderAck(order.client_id, None, OrderStatus.PENDING, reason))

    async def _cancel(self, order: Order) -> None:
        try:
            ok = await self.call(
                "cancel",
                Priority.CANCEL,
                lambda: self.connector.cancel(order.symbol, order.client_id),
            )
            reason = "" if ok else "not on venue"
        except VenueError as exc:
            ok, reason = False, f"{exc.code or 'venue'}: {exc}"
        except Exception as exc:
            log.exception("%s: cancel %s raised", self.name, order.client_id)
            ok, reason = False, f"connector error: {exc!r}"
        self._on_cancel_result(order, ok, reason)
