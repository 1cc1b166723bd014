"""``sendTx`` / ``sendTxBatch`` and the sequencer behind them (a mixin of the dialect).

Two stages, as Lighter describes them (apidocs.lighter.xyz/docs/trading): the API server
checks a tx's syntax and nonce and answers 200 ("accepted", nothing executed yet); the
sequencer executes it ``apply_delay_ms`` later, in arrival order. A refusal at the API
level consumes no nonce; a tx the sequencer executes consumes its nonce even when the order
ends at once (``canceled-post-only``) or is dropped without a report. ``nextNonce`` shows
the executed nonces (``Account.executed``); the API server expects the next one after the
queued ones (``Account.nonces``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import partial
from typing import Any

from aiohttp import web

from connectors.base import ZERO, OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from connectors.emulation.faults import FaultState
from connectors.lighter.emulator import wire as w
from connectors.lighter.emulator.limits import TierLimits
from connectors.lighter.emulator.schedules import CancelAlls
from connectors.lighter.emulator.signatures import Signatures
from connectors.lighter.emulator.state import (
    EXPIRY_SLACK_MS,
    MAX_BATCH,
    MAX_ORDER_EXPIRY_MS,
    Account,
    LighterEmulatorStats,
    Market,
    Order,
    json_list,
    reject_status,
)
from connectors.sim.venue import DROPPED, SimVenue

log = logging.getLogger("connectors.lighter.emulator")

Apply = Callable[[str], None]
OnAccept = Callable[[], None] | None
Checked = tuple[Apply, Account, int, int, int, OnAccept, bool]
"""(apply at the sequencer, account, api key, client index, nonce, what accepting it
changes at the API server, whether it spends volume quota)."""
TX_ROUTE = "sendTx"
"""The place route's name for ``FaultInjector.lose_next_answer`` (``sendTxBatch`` too)."""


class Sequencer(CancelAlls):
    venue: SimVenue
    faults: FaultState
    stats: LighterEmulatorStats
    signatures: Signatures
    apply_delay_ms: int
    lost_answer_delay_ms: int
    min_scheduled_cancel_ms: int
    min_order_expiry_ms: int
    _accounts: dict[int, Account]
    _by_id: dict[int, Market]
    _orders_by_sim: dict[tuple[str, str], Order]
    _next_order_index: int
    _block: int
    _tx_seq: int
    _volume_quota: int
    limits: TierLimits | None
    _last_tx_hash: dict[int, str]
    _apply_queue: deque[tuple[float, Callable[[], None]]]
    _apply_handle: asyncio.TimerHandle | None
    _tx_failures: deque[tuple[int, str, int]]

    _mark_order: Callable[[Order], None]

    # -- the routes ------------------------------------------------------------------------

    async def _form(self, request: web.Request) -> Mapping[str, Any]:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise w.bad(w.CODE_INVALID_PARAM, "invalid param: body is not JSON") from None
            if not isinstance(body, dict):
                raise w.bad(w.CODE_INVALID_PARAM, "invalid param: body must be an object")
            return body
        return await request.post()

    async def _send_tx(self, request: web.Request) -> dict[str, Any]:
        form = await self._form(request)
        await self.signatures.prepare([(form.get("tx_type"), form.get("tx_info"))])
        return self._tx(form.get("tx_type"), form.get("tx_info"), route=TX_ROUTE)

    async def _send_tx_batch(self, request: web.Request) -> dict[str, Any]:
        form = await self._form(request)
        try:
            types = json_list(form.get("tx_types"), "tx_types")
            infos = json_list(form.get("tx_infos"), "tx_infos")
        except w.LighterError:
            pass  # refused by the checks, in order
        else:
            await self.signatures.prepare(list(zip(types, infos, strict=False)))
        return self._tx_batch(form.get("tx_types"), form.get("tx_infos"), route="sendTxBatch")

    def fail_next_txs(
        self,
        count: int = 1,
        *,
        code: int = 21500,
        message: str = "internal server error",
        http_status: int = 200,
    ) -> None:
        """Fault hook: answer the next ``count`` sendTx/sendTxBatch calls (REST or WS) with
        ``{"code": code, "message": message}`` and ``http_status`` (default 200: the SDK
        returns such a body as a "success" the caller must check). Nothing is applied and
        no nonce is consumed."""
        for _ in range(max(0, count)):
            self._tx_failures.append((code, message, http_status))

    def _injected_tx_failure(self) -> None:
        if self._tx_failures:
            code, message, status = self._tx_failures.popleft()
            log.info("lighter emulator: injected tx failure %d %d %s", status, code, message)
            raise w.LighterError(status, code, message)

    def _counted(self, check: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        try:
            return check()
        except w.LighterError as err:
            self.stats.txs_rejected += 1
            if err.code == w.CODE_INVALID_NONCE:
                self.stats.invalid_nonce += 1
            log.info("lighter emulator: tx refused: %s", err)
            raise

    def _tx(self, raw_type: Any, raw_info: Any, *, route: str | None = None) -> dict[str, Any]:
        """Check and accept one tx; the RespSendTx body (LighterError when refused)."""

        def check() -> dict[str, Any]:
            self._injected_tx_failure()
            if isinstance(raw_type, bool):
                raise w.bad(w.CODE_INVALID_PARAM, "invalid param: tx_type")
            try:
                tx_type = int(str(raw_type))
            except ValueError:
                raise w.bad(w.CODE_INVALID_PARAM, "invalid param: tx_type") from None
            if raw_info is None:
                raise w.bad(w.CODE_INVALID_PARAM, "invalid param: tx_info is required")
            checked = self._check_tx(tx_type, raw_info, {})
            acct = checked[1]
            free = self._spend_quota(acct, [checked])
            delay = self._answer_delay(route)
            return self._tx_response(self._accept(*checked, delay), acct, free)

        return self._counted(check)

    def _tx_batch(self, raw_types: Any, raw_infos: Any, *, route: str | None = None) -> dict:
        """Check every tx of a batch, then accept them all (or none)."""

        def check() -> dict[str, Any]:
            self._injected_tx_failure()
            types = json_list(raw_types, "tx_types")
            infos = json_list(raw_infos, "tx_infos")
            if not types or len(types) != len(infos) or len(types) > MAX_BATCH:
                raise w.bad(
                    w.CODE_INVALID_PARAM,
                    f"invalid param: tx_types/tx_infos must have 1..{MAX_BATCH} equal entries",
                )
            planned: dict[tuple[int, Any], Any] = {}
            checked: list[Checked] = []
            for tx_type, info in zip(types, infos, strict=True):
                if isinstance(tx_type, bool) or not isinstance(tx_type, int):
                    raise w.bad(w.CODE_INVALID_PARAM, "invalid param: tx_types must be integers")
                tx = self._check_tx(tx_type, info, planned)
                _, acct, key, coi, _, _, _ = tx
                if checked and (acct.index, key) != (checked[0][1].index, checked[0][2]):
                    # lighter-python examples/send_batch_tx_http.py: "in batch TXs, all TXs
                    # must come from the same API key" (the code: a guess)
                    raise w.bad(
                        w.CODE_INVALID_PARAM, "invalid param: a batch's txs need one API key"
                    )
                planned[(acct.index, key)] = planned.get((acct.index, key), 0) + 1
                if coi:
                    planned[(acct.index, -coi)] = 1
                checked.append(tx)
            acct = checked[0][1]
            free = self._spend_quota(acct, checked)
            delay = self._answer_delay(route)
            hashes = [self._accept(*tx, delay) for tx in checked]
            self.stats.batches_accepted += 1
            return self._tx_response(hashes[-1], acct, free) | {"tx_hash": hashes}

        return self._counted(check)

    def _answer_delay(self, route: str | None) -> int:
        """How long the sequencer takes for this tx. A route whose answer is about to be
        lost (``lose_next_answer``) stands for a congested API server: its tx stays queued
        ``lost_answer_delay_ms``, past the client's re-read of ``nextNonce`` (a guess)."""
        lost = self.faults.lost_answers.get(route) if route else None
        if lost is not None and lost.remaining > 0:
            return self.lost_answer_delay_ms
        return self.apply_delay_ms

    def _spend_quota(self, acct: Account, checked: list[Checked]) -> bool:
        """The request's volume quota (create, modify: *docs/volume-quota*); True when the
        free transaction paid for it."""
        n = sum(1 for tx in checked if tx[6])
        if self.limits is not None:
            return self.limits.spend(acct, n)
        self._volume_quota = max(0, self._volume_quota - n)
        return False

    def _tx_response(self, tx_hash: str, acct: Account, free: bool) -> dict[str, Any]:
        quota = self.limits.quota(acct) if self.limits is not None else self._volume_quota
        return {
            "code": w.CODE_OK,
            "message": '{"ratelimit": "didn\'t use volume quota"}' if free else "",
            "tx_hash": tx_hash,
            "predicted_execution_time_ms": int(time.time() * 1000) + self.apply_delay_ms,
            "volume_quota_remaining": quota,
        }

    def _accept(
        self,
        apply: Apply,
        acct: Account,
        key: int,
        coi: int,
        nonce: int,
        on_accept: OnAccept,
        quota: bool,
        delay_ms: int,
    ) -> str:
        self._tx_seq += 1
        acct.nonces[key] += 1
        if coi:
            acct.pending_coi[coi] = acct.pending_coi.get(coi, 0) + 1
        if on_accept is not None:
            on_accept()
        self.stats.txs_accepted += 1
        tx_hash = hashlib.blake2b(
            f"{acct.index}:{key}:{self._tx_seq}:{time.time_ns()}".encode(), digest_size=40
        ).hexdigest()

        def execute() -> None:
            acct.executed[key] = max(acct.executed.get(key, 0), nonce + 1)
            apply(tx_hash)

        self._enqueue(execute, delay_ms)
        return tx_hash

    # -- checks at the API server ----------------------------------------------------------

    def _check_tx(self, tx_type: int, raw: Any, planned: dict[tuple[int, Any], Any]) -> Checked:
        """Check one tx synchronously (``planned``: what the batch's earlier ones did); its
        signature last (**guess**: the venue's order of checks is not published)."""
        info = w.parse_tx_info(tx_type, raw)
        checked = self._check_tx_fields(tx_type, info, planned)
        self.signatures.check_tx(tx_type, info)
        return checked

    def _check_tx_fields(
        self, tx_type: int, info: dict[str, Any], planned: dict[tuple[int, Any], Any]
    ) -> Checked:
        acct = self._accounts.get(info["AccountIndex"])
        if acct is None:
            raise w.bad(w.CODE_ACCOUNT_NOT_FOUND, "account not found")
        key = info["ApiKeyIndex"]
        if key not in acct.keys:
            raise w.bad(w.CODE_API_KEY_NOT_FOUND, "api key not found")
        now_ms = int(time.time() * 1000)
        if info["ExpiredAt"] <= now_ms:
            raise w.bad(w.CODE_TX_EXPIRED, "invalid ExpiredAt: transaction expired")
        nonce = info["Nonce"]
        if nonce != acct.nonces[key] + planned.get((acct.index, key), 0):
            raise w.bad(w.CODE_INVALID_NONCE, "invalid nonce")
        if tx_type == w.TX_CREATE_ORDER:
            coi = self._check_create(acct, info, now_ms, planned)
            return partial(self._apply_create, acct, info), acct, key, coi, nonce, None, True
        if tx_type == w.TX_CANCEL_ORDER:
            m = self._market_of(info)
            index = w.in_range(info, "Index", 0, 2**60, w.CODE_INVALID_TX_INFO)
            return partial(self._apply_cancel, acct, m, index), acct, key, 0, nonce, None, False
        if tx_type == w.TX_MODIFY_ORDER:
            m = self._market_of(info)
            index = w.in_range(info, "Index", 0, 2**60, w.CODE_INVALID_TX_INFO)
            size = self._check_amount(m, info, 1)
            price = self._check_price(m, info)
            if info["TriggerPrice"] != 0:
                raise w.bad(
                    w.CODE_INVALID_ORDER_TYPE,
                    "invalid TriggerPrice: trigger orders are not supported by the emulator",
                )
            apply = partial(self._apply_modify, acct, m, index, size, price)
            return apply, acct, key, 0, nonce, None, True
        apply, on_accept = self._check_cancel_all(acct, info, now_ms, planned)
        return apply, acct, key, 0, nonce, on_accept, False

    def _market_of(self, info: Mapping[str, Any]) -> Market:
        m = self._by_id.get(info["MarketIndex"])
        if m is None:
            raise w.bad(
                w.CODE_INVALID_MARKET, f"invalid market index: MarketIndex {info['MarketIndex']}"
            )
        return m

    def _check_amount(self, m: Market, info: Mapping[str, Any], lowest: int) -> Decimal:
        amount = w.in_range(
            info, "BaseAmount", lowest, w.MAX_BASE_AMOUNT, w.CODE_INVALID_BASE_AMOUNT
        )
        size = w.unscaled(amount, m.size_dp)
        if not m.inst.is_on_step(size):
            raise w.bad(
                w.CODE_INVALID_BASE_AMOUNT,
                f"invalid base amount: BaseAmount not a multiple of {m.inst.step_size}",
            )
        return size

    def _check_price(self, m: Market, info: Mapping[str, Any]) -> Decimal:
        price_i = w.in_range(info, "Price", 1, w.MAX_PRICE, w.CODE_INVALID_PRICE)
        price = w.unscaled(price_i, m.price_dp)
        if not m.inst.is_on_tick(price):
            raise w.bad(
                w.CODE_INVALID_PRICE, f"invalid price: Price not a multiple of {m.inst.tick_size}"
            )
        return price

    def _check_create(
        self,
        acct: Account,
        info: Mapping[str, Any],
        now_ms: int,
        planned: Mapping[tuple[int, Any], Any],
    ) -> int:
        m = self._market_of(info)
        coi = w.in_range(
            info, "ClientOrderIndex", 0, w.MAX_CLIENT_ORDER_INDEX, w.CODE_INVALID_CLIENT_ORDER_INDEX
        )
        w.in_range(info, "IsAsk", 0, 1, w.CODE_INVALID_IS_ASK)
        w.in_range(info, "ReduceOnly", 0, 1, w.CODE_INVALID_TX_INFO)
        reduce_only = info["ReduceOnly"] == 1
        size = self._check_amount(m, info, 0 if reduce_only else 1)
        if not reduce_only and size < m.inst.min_size:
            raise w.bad(
                w.CODE_INVALID_AMOUNTS,
                f"invalid order base or quote amount: below the minimum {m.size(m.inst.min_size)}",
            )
        price = self._check_price(m, info)
        if m.inst.min_notional > 0 and not reduce_only and price * size < m.inst.min_notional:
            raise w.bad(
                w.CODE_INVALID_AMOUNTS,
                f"invalid order base or quote amount: quote below {w.fmt(m.inst.min_notional, 6)}",
            )
        order_type = info["Type"]
        if order_type not in (w.ORDER_TYPE_LIMIT, w.ORDER_TYPE_MARKET):
            raise w.bad(
                w.CODE_INVALID_ORDER_TYPE,
                f"invalid OrderType {order_type}: only limit and market orders are emulated",
            )
        if info["TriggerPrice"] != 0:
            raise w.bad(
                w.CODE_INVALID_ORDER_TYPE,
                "invalid OrderType: TriggerPrice must be 0 for limit and market orders",
            )
        tif = w.in_range(info, "TimeInForce", 0, 2, w.CODE_INVALID_TIME_IN_FORCE)
        if order_type == w.ORDER_TYPE_MARKET and tif != w.TIF_IOC:
            raise w.bad(
                w.CODE_INVALID_TIME_IN_FORCE, "invalid OrderTimeInForce: market orders are IOC"
            )
        expiry = info["OrderExpiry"]
        earliest = now_ms + max(0, self.min_order_expiry_ms - EXPIRY_SLACK_MS)
        if tif != w.TIF_IOC and not (
            earliest <= expiry <= now_ms + MAX_ORDER_EXPIRY_MS + EXPIRY_SLACK_MS
        ):
            raise w.bad(
                w.CODE_INVALID_ORDER_EXPIRY,
                "invalid expiry: OrderExpiry must be 5 minutes to 30 days ahead",
            )
        duplicates_allowed = acct.sim in self.venue.duplicate_client_ids
        if (
            coi
            and not duplicates_allowed
            and (acct.live_coi(coi) or acct.pending_coi.get(coi) or (acct.index, -coi) in planned)
        ):
            raise w.bad(w.CODE_DUPLICATE_CLIENT_ORDER_INDEX, "client order index already exists")
        return coi

    # -- the sequencer (on the loop, in arrival order) -------------------------------------

    def _enqueue(self, fn: Callable[[], None], delay_ms: int) -> None:
        loop = asyncio.get_running_loop()
        # arrival order holds: a held tx holds the ones behind it
        at = loop.time() + delay_ms / 1000
        if self._apply_queue:
            at = max(at, self._apply_queue[-1][0])
        self._apply_queue.append((at, fn))
        if self._apply_handle is None:
            self._apply_handle = loop.call_at(self._apply_queue[0][0], self._drain_applies)

    def _drain_applies(self) -> None:
        loop = asyncio.get_running_loop()
        self._apply_handle = None
        while self._apply_queue and self._apply_queue[0][0] <= loop.time() + 1e-6:
            _, fn = self._apply_queue.popleft()
            try:
                fn()
                self.stats.txs_applied += 1
            except Exception:
                log.exception("lighter emulator: applying a tx failed")
            self._block += 1
        if self._apply_queue:
            self._apply_handle = loop.call_at(self._apply_queue[0][0], self._drain_applies)

    def _apply_create(self, acct: Account, info: Mapping[str, Any], tx_hash: str) -> None:
        m = self._by_id[info["MarketIndex"]]
        coi = info["ClientOrderIndex"]
        if coi:
            left = acct.pending_coi.get(coi, 0) - 1
            if left > 0:
                acct.pending_coi[coi] = left
            else:
                acct.pending_coi.pop(coi, None)
        order_index = self._next_order_index
        self._next_order_index += 1
        tif = {
            w.TIF_IOC: "immediate-or-cancel",
            w.TIF_GTT: "good-till-time",
            w.TIF_POST_ONLY: "post-only",
        }[info["TimeInForce"]]
        size = w.unscaled(info["BaseAmount"], m.size_dp)
        if size == 0:  # reduce-only "close everything"
            size = abs(acct.pos_size.get(m.market_id, ZERO))
        now = self.venue.now_ms
        # the sim holds the order under its client index (the venue's wire form); a second
        # live order with the same index (the duplicate fault) or none get their own
        sim_cid = str(coi) if coi else f"L{order_index}"
        if (acct.sim, sim_cid) in self._orders_by_sim:
            sim_cid = f"{coi}~{order_index}"
        o = Order(
            order_index=order_index,
            coi=coi,
            account=acct,
            market=m,
            is_ask=info["IsAsk"] == 1,
            type="market" if info["Type"] == w.ORDER_TYPE_MARKET else "limit",
            tif=tif,
            reduce_only=info["ReduceOnly"] == 1,
            price=w.unscaled(info["Price"], m.price_dp),
            initial=size,
            nonce=info["Nonce"],
            order_expiry=info["OrderExpiry"],
            created_ms=now,
            updated_ms=now,
            sim_cid=sim_cid,
        )
        acct.orders[order_index] = o
        acct.live[order_index] = o
        if coi:
            acct.by_coi.setdefault(coi, []).append(o)
        self._last_tx_hash[order_index] = tx_hash
        if size == 0:
            self._finish(o, "canceled-reduce-only")
            return
        self._submit(o, post_only=tif == "post-only", ioc=info["TimeInForce"] == w.TIF_IOC)

    def _submit(self, o: Order, *, post_only: bool, ioc: bool) -> None:
        m = o.market
        self._orders_by_sim[(o.account.sim, o.sim_cid)] = o
        request = OrderRequest(
            client_id=o.sim_cid,
            symbol=m.inst.symbol,
            side=Side.SELL if o.is_ask else Side.BUY,
            size=o.initial - o.filled,
            type=OrderType.LIMIT,
            price=o.price,
            time_in_force=TimeInForce.IOC if ioc else TimeInForce.GTC,
            post_only=post_only,
            reduce_only=o.reduce_only,
        )
        ack = self.venue.submit(o.account.sim, request)
        if ack.reason == DROPPED:
            # executed (the nonce is spent), then nothing: no record, no report
            self._orders_by_sim.pop((o.account.sim, o.sim_cid), None)
            o.account.forget(o)
            self.stats.txs_dropped += 1
            log.info("lighter emulator: order %d of %d dropped (fault)", o.order_index, o.coi)
            return
        if ack.status is OrderStatus.REJECTED:
            self._orders_by_sim.pop((o.account.sim, o.sim_cid), None)
            self._finish(o, reject_status(ack.reason))
            log.info(
                "lighter emulator: order %d of %d ended at once: %s",
                o.order_index,
                o.account.index,
                ack.reason,
            )

    def _finish(self, o: Order, status: str) -> None:
        if not o.live:
            return
        o.status = status
        o.updated_ms = self.venue.now_ms
        o.account.live.pop(o.order_index, None)
        self._orders_by_sim.pop((o.account.sim, o.sim_cid), None)
        self._mark_order(o)

    def _find_live(self, acct: Account, m: Market, index: int) -> list[Order]:
        """Index < 2**48 is a client order index (every live order carrying it), else an
        exchange order index."""
        if index <= w.MAX_CLIENT_ORDER_INDEX:
            found = acct.live_coi(index) if index else []
        else:
            o = acct.orders.get(index)
            found = [o] if o is not None and o.live else []
        return [o for o in found if o.market is m]

    def _apply_cancel(self, acct: Account, m: Market, index: int, tx_hash: str) -> None:
        found = self._find_live(acct, m, index)
        if not found:
            log.info("lighter emulator: cancel of unknown order %d (%d): no-op", index, acct.index)
        for o in found:
            self._cancel(o, None)

    def _cancel(self, o: Order, status: str | None) -> None:
        o.cancel_status = status
        if not self.venue.cancel(o.account.sim, o.market.inst.symbol, o.sim_cid):
            self._finish(o, status or "canceled")

    def _apply_modify(
        self, acct: Account, m: Market, index: int, size: Decimal, price: Decimal, tx_hash: str
    ) -> None:
        """``size`` is the order's new *total* (initial) size; what is left to fill is that
        less what already filled (NautilusTrader sends the order's whole quantity and reads
        ``initial_base_amount`` back as it: docs/venues/lighter.md, "Modify"). A new total
        at or below the filled amount leaves nothing to rest: the order ends cancelled
        (**guess**)."""
        found = self._find_live(acct, m, index)
        if not found:
            log.info("lighter emulator: modify of unknown order %d (%d): no-op", index, acct.index)
            return
        o = found[0]
        o.modifying = True
        try:
            gone = self.venue.cancel(acct.sim, m.inst.symbol, o.sim_cid)
        finally:
            o.modifying = False
        if not gone:
            return
        self._orders_by_sim.pop((acct.sim, o.sim_cid), None)
        o.version += 1
        o.price = price
        o.updated_ms = self.venue.now_ms
        self._last_tx_hash[o.order_index] = tx_hash
        if size <= o.filled:
            self._finish(o, "canceled")
            return
        o.initial = size
        self._mark_order(o)
        self._submit(o, post_only=o.tif == "post-only", ioc=False)
