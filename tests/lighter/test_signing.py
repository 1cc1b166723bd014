"""A batch signed on the signer's workers, two at a time (connectors/lighter/signing.py):
every transaction carries the nonce of its place in the batch and a signature our own
verifier accepts; a refusal in the middle signs the batch again in order, the refused
one spending no nonce."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from connectors.lighter import schnorr
from connectors.lighter.signing import BatchSigner
from mmtui.emulate import LIGHTER_ACCOUNT_INDEX, LIGHTER_API_KEY_INDEX, new_lighter_key

CHAIN = 304
PRIV, PUB = new_lighter_key()
KEY = LIGHTER_API_KEY_INDEX


@dataclass(eq=False)
class Req:
    sign: Any


def _create(s: Any, coi: int, refuse: bool = False) -> Req:
    def sign(nonce: int, key: int) -> Any:
        if refuse:
            return None, None, None, "refused by the signer (test)"
        return s.sign_create_order(
            1, coi, 10, 900_000 + coi, 0, 0, 2, nonce=nonce, api_key_index=key
        )

    return Req(sign)


def _checked(signed: list[Any], pub: schnorr.PublicKey) -> list[int]:
    nonces = []
    for _req, nonce, tx_type, info, err in signed:
        assert err is None
        body = json.loads(info)
        assert body["Nonce"] == nonce
        message = schnorr.tx_message(CHAIN, tx_type, body, body["L2TxAttributes"])
        assert pub.verify(message, base64.b64decode(body["Sig"]))
        nonces.append(nonce)
    return nonces


async def test_a_batch_signed_in_parallel_verifies_with_its_nonces_in_order() -> None:
    from lighter.signer_client import SignerClient

    s = SignerClient(
        url="http://127.0.0.1:1",
        account_index=LIGHTER_ACCOUNT_INDEX,
        api_private_keys={KEY: PRIV},
        chain_id=CHAIN,
    )
    signer = BatchSigner(workers=2)
    pub = schnorr.PublicKey(bytes.fromhex(PUB[2:]))
    try:
        for round_ in range(5):
            batch = [_create(s, 100 * round_ + i) for i in range(8)]
            signed = await signer.sign(batch, 40 + 8 * round_, KEY)
            assert [r for r, *_ in signed] == batch
            assert _checked(signed, pub) == list(range(40 + 8 * round_, 48 + 8 * round_))
        assert signer.parallel_batches == 5 and signer.resigned_batches == 0

        batch = [_create(s, 1), _create(s, 2, refuse=True), _create(s, 3)]
        signed = await signer.sign(batch, 7, KEY)
        assert [(n, err is None) for _r, n, _t, _i, err in signed] == [
            (7, True),
            (8, False),
            (8, True),  # the refused one spent no nonce
        ]
        assert signer.resigned_batches == 1
        assert _checked([signed[0], signed[2]], pub) == [7, 8]
    finally:
        signer.close()
        await s.close()
