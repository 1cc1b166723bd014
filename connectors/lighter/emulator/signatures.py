"""The emulator's signature check: a transaction's ``Sig`` and an auth token's signature
must verify against the public key registered for its (account, API key index), over
exactly the fields it carries (``schnorr``: Lighter's Schnorr/ECgFp5/Poseidon2 verify).

A tx signed by another key, or one whose fields changed after signing, is refused with
21120 "invalid signature" (*docs/errors*: ``AppErrInvalidSignature``); a token that does
not verify is refused like any bad token. A verification costs ~5 ms of pure Python: the
REST routes verify a request's txs in a worker thread before the (synchronous) checks
take them in order; the WebSocket route verifies inline.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any

from connectors.lighter import schnorr
from connectors.lighter.emulator import wire as w

MAINNET_CHAIN_ID = 304
"""The chain id lighter-sdk 1.1.8 signs with for any URL but the testnet's (``SignerClient``:
304 unless the URL names testnet or the RH hosts): what a client of the emulator signs."""
MAX_PREPARED = 1_000
MAX_TOKENS = 10_000


def _content(tx_type: int, info: dict[str, Any]) -> str:
    return f"{tx_type}:{json.dumps(info, sort_keys=True)}"


class Signatures:
    def __init__(self, chain_id: int = MAINNET_CHAIN_ID, *, enabled: bool = True) -> None:
        self.chain_id = chain_id
        self.enabled = enabled
        """False: nothing is checked (a test that measures request throughput, where ~5 ms
        of pure Python a tx would measure this check instead)."""
        self._keys: dict[tuple[int, int], schnorr.PublicKey] = {}
        self._prepared: dict[str, bool] = {}
        self._tokens: dict[str, bool] = {}
        self.refused = 0

    def register(self, account: int, key: int, public_hex: str) -> None:
        """Decode a registered key (its table waits for its first signature); ValueError
        if it encodes no point."""
        if not self.enabled:
            return
        public = schnorr.PublicKey(bytes.fromhex(public_hex))
        if not public.valid:
            raise ValueError(
                f"lighter emulator: public key of {account}:{key} is not an ECgFp5 point"
            )
        self._keys[(account, key)] = public

    def _verify_tx(self, tx_type: int, info: dict[str, Any]) -> bool:
        public = self._keys.get((info["AccountIndex"], info["ApiKeyIndex"]))
        if public is None:
            return False
        try:
            sig = base64.b64decode(info["Sig"], validate=True)
            message = schnorr.tx_message(self.chain_id, tx_type, info, info["L2TxAttributes"])
        except (binascii.Error, KeyError, ValueError, TypeError, AttributeError):
            return False
        return public.verify(message, sig)

    async def prepare(self, txs: Sequence[tuple[Any, Any]]) -> None:
        """Verify a request's (tx_type, tx_info) pairs in a worker thread, ahead of the
        checks (which then find the answers here). Pairs that do not parse are left to
        the checks, which refuse them with the venue's answer."""
        if not self.enabled:
            return
        parsed: list[tuple[int, dict[str, Any]]] = []
        for raw_type, raw_info in txs:
            try:
                tx_type = int(str(raw_type))
                parsed.append((tx_type, w.parse_tx_info(tx_type, raw_info)))
            except (ValueError, w.LighterError):
                continue
        if not parsed:
            return
        results = await asyncio.to_thread(lambda: [self._verify_tx(t, i) for t, i in parsed])
        if len(self._prepared) > MAX_PREPARED:
            self._prepared.clear()
        for (tx_type, info), ok in zip(parsed, results, strict=True):
            self._prepared[_content(tx_type, info)] = ok

    def check_tx(self, tx_type: int, info: dict[str, Any]) -> None:
        """Refuse (21120) a tx whose ``Sig`` is not its registered key's over its fields."""
        if not self.enabled:
            return
        ok = self._prepared.pop(_content(tx_type, info), None)
        if ok is None:
            ok = self._verify_tx(tx_type, info)
        if not ok:
            self.refused += 1
            raise w.bad(w.CODE_INVALID_SIGNATURE, "invalid signature")

    def token_ok(self, token: w.AuthToken) -> bool:
        """Whether an auth token's signature is its key's over ``<expiry>:<account>:<key>``
        (cached by the token's text: a token is checked on every private request)."""
        if not self.enabled:
            return True
        ok = self._tokens.get(token.text)
        if ok is None:
            public = self._keys.get((token.account_index, token.api_key_index))
            message, _, sig_hex = token.text.rpartition(":")
            ok = public is not None and public.verify(
                schnorr.auth_message(message), bytes.fromhex(sig_hex)
            )
            if len(self._tokens) > MAX_TOKENS:
                self._tokens.clear()
            self._tokens[token.text] = ok
        return ok


__all__ = ["MAINNET_CHAIN_ID", "Signatures"]
