"""A core ``OrderRequest`` -> GRVT's signed ``Order``.

Decimal -> decimal strings on the tick/step grid, limit orders checked against
``min_notional``, built with grvt-pysdk's types and signed with its EIP-712 message
builder (``signing.OrderSigner``; the SDK's own signer on request), in a worker thread
when eth-keys has no fast backend. An order is signed once per client id: a resend
after a refusal that left nothing behind is the very same signed order, which GRVT
would drop as a duplicate of nonce + payload.
"""

from __future__ import annotations

import asyncio
import logging
import time

import eth_keys.backends
from pysdk import grvt_raw_types as t
from pysdk.grvt_raw_env import GrvtEnv

from connectors.base import (
    ConnectorStats,
    ErrorCode,
    Instrument,
    OrderRequest,
    OrderType,
    Side,
    TimeInForce,
    VenueError,
)
from connectors.common.units import decimal_string
from connectors.grvt.keys import GrvtKeys
from connectors.grvt.parse import SigningAsset
from connectors.grvt.signing import OrderSigner, chain_id, new_nonce, sign

log = logging.getLogger("connectors.grvt")

_TIF = {
    TimeInForce.GTC: t.TimeInForce.GOOD_TILL_TIME,
    TimeInForce.IOC: t.TimeInForce.IMMEDIATE_OR_CANCEL,
    TimeInForce.FOK: t.TimeInForce.FILL_OR_KILL,
}
MAX_SIGNED = 10_000
"""Signed orders kept for a resend; past that, the oldest are forgotten (places the
gateway gave up on)."""


def build_order(
    request: OrderRequest,
    inst: Instrument,
    sub_account_id: str,
    client_order_id: int,
    *,
    expiration_ns: int,
    nonce: int,
) -> t.Order:
    """The unsigned ``Order`` for a request (one leg; checked on the grid and, for a
    limit order, against the instrument's minimum notional)."""
    if request.size <= 0 or request.size < inst.min_size:
        raise VenueError(
            f"size {request.size} below the minimum {inst.min_size}", code=ErrorCode.INVALID_SIZE
        )
    size = decimal_string(request.size, inst.step_size, "size")
    is_market = request.type is OrderType.MARKET
    if is_market:
        price = "0"
        tif = (
            t.TimeInForce.FILL_OR_KILL
            if request.time_in_force is TimeInForce.FOK
            else t.TimeInForce.IMMEDIATE_OR_CANCEL
        )
        if request.post_only:
            raise VenueError("a market order cannot be post-only", code=ErrorCode.INVALID_ORDER)
    else:
        if request.price is None or request.price <= 0:
            raise VenueError("a limit order needs a positive price", code=ErrorCode.INVALID_PRICE)
        price = decimal_string(request.price, inst.tick_size, "price")
        tif = _TIF[request.time_in_force]
        if request.post_only and request.time_in_force is not TimeInForce.GTC:
            raise VenueError("post-only needs GTC (good till time)", code=ErrorCode.INVALID_ORDER)
        if request.price * request.size < inst.min_notional:
            raise VenueError(
                f"notional {request.price * request.size} below the minimum {inst.min_notional}",
                code=ErrorCode.MIN_NOTIONAL,
            )
    return t.Order(
        sub_account_id=sub_account_id,
        time_in_force=tif,
        legs=[
            t.OrderLeg(
                instrument=inst.symbol,
                size=size,
                is_buying_asset=request.side is Side.BUY,
                limit_price=price,
            )
        ],
        signature=t.Signature(
            signer="", r="", s="", v=0, expiration=str(expiration_ns), nonce=nonce
        ),
        metadata=t.OrderMetadata(client_order_id=str(client_order_id)),
        is_market=is_market,
        post_only=request.post_only,
        reduce_only=request.reduce_only,
    )


def fast_signing_backend() -> bool:
    """True when eth-keys signs with libsecp256k1 (coincurve): under a millisecond."""
    return type(eth_keys.backends.get_backend()).__name__ == "CoinCurveECCBackend"


class SignedOrders:
    def __init__(
        self,
        keys: GrvtKeys | None,
        env: GrvtEnv,
        assets: dict[str, SigningAsset],
        stats: ConnectorStats,
        *,
        sign_in_thread: bool,
        sdk_signer: bool,
    ) -> None:
        self.env = env
        self.assets = assets
        """Symbol -> what signing needs of its instrument (filled by the reads)."""
        self.stats = stats
        self.sign_in_thread = sign_in_thread
        self.sdk_signer = sdk_signer
        self._signer = OrderSigner(keys.private_key, chain_id(env)) if keys is not None else None
        self._signed: dict[str, t.Order] = {}
        """client id -> the signed order until the venue took or refused it: sending it
        again is the very same payload and nonce (GRVT ignores such a duplicate)."""
        self.signing_ms: float | None = None
        """The signing time, smoothed (also ``stats.extra["signing_ms"]``)."""

    async def order_for(
        self,
        request: OrderRequest,
        inst: Instrument,
        keys: GrvtKeys,
        client_order_id: int,
        ttl_s: float,
    ) -> t.Order:
        """The signed order of ``request``: the one signed before for its client id,
        or a new one (a fresh nonce, expiring in ``ttl_s``)."""
        order = self._signed.get(request.client_id)
        if order is None:
            order = build_order(
                request,
                inst,
                keys.trading_account_id,
                client_order_id,
                expiration_ns=time.time_ns() + int(ttl_s * 1e9),
                nonce=new_nonce(),
            )
            order = await self._sign(order, keys)
            if len(self._signed) >= MAX_SIGNED:
                del self._signed[next(iter(self._signed))]
            self._signed[request.client_id] = order
        return order

    def forget(self, client_id: str) -> None:
        """The venue took or refused the order: a retry is a new order."""
        self._signed.pop(client_id, None)

    def _sign_now(self, order: t.Order, keys: GrvtKeys) -> t.Order:
        if self.sdk_signer or self._signer is None:
            from eth_account import Account
            from pysdk.grvt_raw_base import GrvtApiConfig

            config = GrvtApiConfig(self.env, keys.trading_account_id, keys.private_key, None, log)
            return sign(order, config, Account.from_key(keys.private_key), self.assets)
        return self._signer.sign(order, self.assets)

    async def _sign(self, order: t.Order, keys: GrvtKeys) -> t.Order:
        started = time.perf_counter()
        if self.sign_in_thread:
            order = await asyncio.to_thread(self._sign_now, order, keys)
        else:
            order = self._sign_now(order, keys)
        ms = (time.perf_counter() - started) * 1000
        self.signing_ms = ms if self.signing_ms is None else 0.9 * self.signing_ms + 0.1 * ms
        self.stats.extra["signing_ms"] = round(self.signing_ms, 3)
        return order


__all__ = ["MAX_SIGNED", "SignedOrders", "build_order", "fast_signing_backend"]
