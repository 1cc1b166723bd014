"""Signing a batch of Lighter transactions off the event loop, two at a time.

lighter-sdk's Go signer (a ctypes shared library: the call releases the GIL) is
several times faster on a worker thread than on the interpreter's main thread
(measured with ``benchmarks/bench_lighter_signing.py``: ~2.4 ms a CreateOrder on the
main thread, ~0.45 ms on a worker), and two workers sign two transactions at
once. A requote's transactions have consecutive nonces fixed before signing, so
they can be signed in parallel; the order they are sent in is the nonce order.

A transaction the signer refuses spends no nonce, so the ones after it must be
signed again with the nonces shifted: when any of a parallel batch is refused the
batch is signed again one by one (rare: a refused transaction is a bug of ours).

Thread safety of the signer is a guess from its code (lighter-go's sharedlib keeps
its clients in a map written only by CreateClient, which we call once at start);
tests/lighter/test_signing.py signs batches in parallel and checks every signature
with our own verifier (connectors/lighter/schnorr.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

Signed = tuple[Any, Any, Any, Any]
"""(tx_type, tx_info, tx_hash, error) as the SDK's ``sign_*`` return them."""
SignedTx = tuple[Any, int, Any, Any, Any]
"""(request, nonce, tx_type, tx_info, error)."""


class Signable(Protocol):
    sign: Callable[[int, int], Signed]


def _error(tx_info: Any, err: Any) -> Any:
    if err is None and not (isinstance(tx_info, str) and tx_info.startswith("{")):
        return f"unexpected tx_info {str(tx_info)[:80]!r}"
    return err


def sign_in_order(batch: list[Any], first: int, key: int) -> list[SignedTx]:
    """Sign in order with consecutive nonces from ``first``; a transaction the signer
    refuses spends no nonce."""
    out: list[SignedTx] = []
    nonce = first
    for req in batch:
        tx_type, tx_info, _hash, err = req.sign(nonce, key)
        err = _error(tx_info, err)
        out.append((req, nonce, tx_type, tx_info, err))
        if err is None:
            nonce += 1
    return out


def _sign_one(req: Any, nonce: int, key: int) -> SignedTx:
    tx_type, tx_info, _hash, err = req.sign(nonce, key)
    return (req, nonce, tx_type, tx_info, _error(tx_info, err))


class BatchSigner:
    """Signs batches on its own worker threads (``workers`` at once)."""

    def __init__(self, workers: int = 2) -> None:
        self.workers = max(1, workers)
        self._pool: ThreadPoolExecutor | None = None
        self.parallel_batches = 0
        self.resigned_batches = 0

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="lighter-sign")
        return self._pool

    async def sign(self, batch: list[Any], first: int, key: int) -> list[SignedTx]:
        loop = asyncio.get_running_loop()
        pool = self._executor()
        if len(batch) == 1 or self.workers == 1:
            return await loop.run_in_executor(pool, sign_in_order, batch, first, key)
        self.parallel_batches += 1
        signed = await asyncio.gather(
            *(
                loop.run_in_executor(pool, _sign_one, req, first + i, key)
                for i, req in enumerate(batch)
            )
        )
        if all(s[4] is None for s in signed):
            return list(signed)
        # a refusal spends no nonce: the ones after it need the nonces shifted
        self.resigned_batches += 1
        return await loop.run_in_executor(pool, sign_in_order, batch, first, key)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


__all__ = ["BatchSigner", "Signed", "SignedTx", "sign_in_order"]
