"""Signatures, as the venue checks them (issue 16: "the Lighter emulator doesn't verify
signatures (a wrong key trades)").

* ``connectors.lighter.schnorr`` against lighter-sdk 1.1.8's Go signer: the same tx hashes,
  its signatures verify, any changed field or another key does not, and the public key of
  a private key is the SDK's.
* The emulator refuses a tx signed by a key other than the one registered for its account
  and API key index, and a tx changed after signing, with 21120 "invalid signature"
  (nothing spent); a token signed by another key is refused.
* The connector (and the real CLI) with a wrong key fails at start, in one line naming the
  venue and the key setting, never the key.
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from connectors.common.errors import ErrorCode, VenueError
from connectors.emulation.harness import EmulatorHarness
from connectors.lighter import schnorr
from connectors.lighter.emulator import LighterKey, lighter_emulator
from connectors.lighter.keycheck import registered_key
from connectors.sim.venue import FlowParams
from mmtui.config import load_config
from mmtui.emulate import (
    ACCOUNT,
    LIGHTER_ACCOUNT_INDEX,
    LIGHTER_API_KEY_INDEX,
    new_lighter_key,
    write_lighter_files,
)
from mmtui.session import SessionError, build_session

CHAIN = 304
OURS_PRIV, OURS_PUB = new_lighter_key()
OTHER_PRIV, OTHER_PUB = new_lighter_key()


def signer(url: str, private_key: str) -> Any:
    from lighter.signer_client import SignerClient

    return SignerClient(
        url=url,
        account_index=LIGHTER_ACCOUNT_INDEX,
        api_private_keys={LIGHTER_API_KEY_INDEX: private_key},
        chain_id=CHAIN,
    )


def create(s: Any, nonce: int, coi: int = 7, price: int = 90_000_0) -> tuple[int, dict, str]:
    tx_type, info, tx_hash, err = s.sign_create_order(
        1, coi, 10, price, 0, 0, 2, nonce=nonce, api_key_index=LIGHTER_API_KEY_INDEX
    )
    assert err is None, err
    return tx_type, json.loads(info), tx_hash


def sig(info: dict[str, Any]) -> bytes:
    return base64.b64decode(info["Sig"])


async def test_the_verifier_accepts_what_the_sdk_signs_and_nothing_else() -> None:
    s = signer("http://127.0.0.1:1", OURS_PRIV)
    try:
        ours = schnorr.PublicKey(bytes.fromhex(OURS_PUB[2:]))
        other = schnorr.PublicKey(bytes.fromhex(OTHER_PUB[2:]))
        assert schnorr.public_key_of(OURS_PRIV) == OURS_PUB[2:]
        k = LIGHTER_API_KEY_INDEX
        signed = [
            create(s, 10),
            s.sign_cancel_order(1, 2**48 + 5, nonce=11, api_key_index=k)[:3],
            s.sign_cancel_all_orders(0, 0, 1, nonce=12, api_key_index=k)[:3],  # market attr
            s.sign_cancel_all_orders(1, 1_900_000_000_000, nonce=13, api_key_index=k)[:3],
            s.sign_modify_order(1, 2**48 + 5, 20, 91_000_0, 0, nonce=14, api_key_index=k)[:3],
        ]
        for tx_type, info, tx_hash in signed:
            info = json.loads(info) if isinstance(info, str) else info
            attrs = info["L2TxAttributes"]
            message = schnorr.tx_message(CHAIN, tx_type, info, attrs)
            assert schnorr.f5_to_bytes(message).hex() == tx_hash, tx_type
            assert ours.verify(message, sig(info)), tx_type
            assert not other.verify(message, sig(info)), tx_type
            for field in (*schnorr.TX_FIELDS[tx_type], "Nonce", "ExpiredAt"):
                changed = {**info, field: info[field] + 1}
                tampered = schnorr.tx_message(CHAIN, tx_type, changed, attrs)
                assert not ours.verify(tampered, sig(info)), (tx_type, field)
        token, err = s.create_auth_token_with_expiry(600, api_key_index=k)
        assert err is None
        text, _, sig_hex = token.rpartition(":")
        assert ours.verify(schnorr.auth_message(text), bytes.fromhex(sig_hex))
        assert not other.verify(schnorr.auth_message(text), bytes.fromhex(sig_hex))
    finally:
        await s.close()


@pytest.mark.parametrize(
    ("listed", "found"),
    [
        ([{"api_key_index": 3, "public_key": "0xAB"}], "ab"),
        ([{"api_key_index": 4, "public_key": "ab"}], None),  # another index only
        ([{"api_key_index": 3}], None),
        ([], None),
    ],
)
def test_the_registered_key_is_read_by_its_index(listed: list, found: str | None) -> None:
    assert registered_key({"code": 200, "api_keys": listed}, 3) == found


def test_an_answer_without_a_key_list_is_a_bad_answer() -> None:
    with pytest.raises(VenueError) as info:
        registered_key({"code": 200}, 3)
    assert info.value.code == ErrorCode.BAD_ANSWER


@pytest.fixture
async def emu() -> AsyncIterator[EmulatorHarness]:
    key = LighterKey(LIGHTER_ACCOUNT_INDEX, LIGHTER_API_KEY_INDEX, OURS_PUB[2:], ACCOUNT)
    harness = await asyncio.to_thread(
        lambda: lighter_emulator([key], flow=FlowParams(taker_rate=0.0)).start()
    )
    try:
        yield harness
    finally:
        await asyncio.to_thread(harness.stop)


async def test_the_emulator_refuses_another_keys_tx_and_a_tampered_one(
    emu: EmulatorHarness,
) -> None:
    # lighter-sdk's Go library keeps one signer per (account, API key index): the
    # intruder signs first, then our client replaces it
    intruder = signer(emu.base_url, OTHER_PRIV)
    intruders = [create(intruder, 1)[:2], create(intruder, 2, coi=9)[:2]]
    intruder_token, _ = intruder.create_auth_token_with_expiry(600)
    await intruder.close()
    ours = signer(emu.base_url, OURS_PRIV)
    try:
        async with aiohttp.ClientSession() as http:

            async def send(tx_type: int, info: dict[str, Any]) -> tuple[int, dict[str, Any]]:
                data = {"tx_type": str(tx_type), "tx_info": json.dumps(info)}
                async with http.post(f"{emu.base_url}/api/v1/sendTx", data=data) as resp:
                    return resp.status, await resp.json()

            async def send_batch(txs: list[tuple[int, dict]]) -> tuple[int, dict[str, Any]]:
                data = {
                    "tx_types": json.dumps([t for t, _ in txs]),
                    "tx_infos": json.dumps([json.dumps(i) for _, i in txs]),
                }
                async with http.post(f"{emu.base_url}/api/v1/sendTxBatch", data=data) as resp:
                    return resp.status, await resp.json()

            refused = (400, {"code": 21120, "message": "invalid signature"})
            assert await send(*intruders[0]) == refused  # a wrong key trades no more
            tx_type, info, _ = create(ours, 1)
            assert await send(tx_type, {**info, "Price": info["Price"] + 10}) == refused
            good = create(ours, 1, coi=8)[:2]
            assert await send_batch([good, intruders[1]]) == refused
            assert emu.call(lambda: emu.dialect.signatures.refused) == 3
            # nothing above spent the nonce or booked an order
            status, body = await send(*good)
            assert (status, body["code"]) == (200, 200)
            # an auth token signed by another key opens nothing
            url = f"{emu.base_url}/api/v1/accountActiveOrders"
            query = {"account_index": LIGHTER_ACCOUNT_INDEX, "market_id": 1}
            headers = {"Authorization": intruder_token}
            async with http.get(url, params=query, headers=headers) as resp:
                assert resp.status == 401
            token, _ = ours.create_auth_token_with_expiry(600)
            async with http.get(url, params=query, headers={"Authorization": token}) as resp:
                assert resp.status == 200
    finally:
        await ours.close()
    assert len(emu.call(lambda: emu.venue.open_orders(ACCOUNT))) == 1


def wrong_key_config(emu: EmulatorHarness, folder: Path) -> Path:
    return write_lighter_files(folder, emu.base_url, emu.ws_url, OTHER_PRIV)


def one_line_naming_the_key_setting(message: str) -> None:
    assert "\n" not in message.strip(), message
    assert "lighter" in message and "LIGHTER_API_PRIVATE_KEY" in message, message
    assert "key_file" in message, message
    assert OTHER_PRIV[2:] not in message and "Traceback" not in message


async def test_a_wrong_key_fails_the_start_in_one_line(
    emu: EmulatorHarness, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config, _ = load_config(wrong_key_config(emu, tmp_path), env={})
    session = build_session(config)
    with pytest.raises(SessionError) as info:
        await asyncio.wait_for(session.start(), 30)
    await session.stop()
    one_line_naming_the_key_setting(str(info.value))
    assert OTHER_PRIV[2:] not in caplog.text
    assert "Traceback" not in caplog.text  # the refusal's line, in the log too
    stats = emu.call(lambda: emu.dialect.stats)
    assert stats.txs_accepted == 0 and stats.txs_rejected == 0  # it never tried to trade


async def test_the_cli_refuses_a_wrong_key_in_one_line(
    emu: EmulatorHarness, tmp_path: Path
) -> None:
    config = wrong_key_config(emu, tmp_path / "files")
    run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run
    done = await asyncio.to_thread(
        run,
        [sys.executable, "-m", "mmtui.cli", "--headless", "--config", str(config), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "MMTUI_LOG_DIR": str(tmp_path)},
    )
    assert done.returncode == 1, done
    assert done.stdout == ""
    one_line_naming_the_key_setting(done.stderr)
    assert done.stderr.startswith("error: could not start: lighter:"), done.stderr
    logged = "".join(p.read_text() for p in tmp_path.glob("*.log*"))
    assert "could not start" in logged or "engine start failed" in logged, logged[-2000:]
    assert "Traceback" not in logged and OTHER_PRIV[2:] not in logged
