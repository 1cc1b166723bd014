"""GRVT pieces that need no server: client ids, keys, signing, cookies, payloads, config."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest
from eth_account import Account
from pysdk import grvt_raw_types as t
from pysdk.grvt_raw_base import GrvtApiConfig
from pysdk.grvt_raw_env import GrvtEnv

from connectors.base import (
    Instrument,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    VenueError,
)
from connectors.grvt import clientids, parse
from connectors.grvt.emulator import cookie_expiry
from connectors.grvt.keys import GrvtKeyError, GrvtKeys, keys_from_env, keys_from_file
from connectors.grvt.orders import build_order
from connectors.grvt.rest import parse_cookie
from connectors.grvt.signing import OrderSigner, order_message, recover_signer, sign
from mmtui.config import ConfigError, load_config

KEY = "0x" + "11" * 32
SUB = "1234567890123456"
BTC = Instrument(
    "grvt", "BTC_USDT_Perp", "BTC", "USDT", Decimal("0.1"), Decimal("0.001"), Decimal("0.001")
)
SDK_BTC = t.Instrument(
    instrument="BTC_USDT_Perp",
    instrument_hash="0x030501",
    base="BTC",
    quote="USDT",
    kind=t.Kind.PERPETUAL,
    venues=[t.Venue.ORDERBOOK],
    settlement_period=t.InstrumentSettlementPeriod.PERPETUAL,
    base_decimals=9,
    quote_decimals=6,
    tick_size="0.1",
    min_size="0.001",
    create_time="0",
    max_position_size="100",
)


# -- client ids -----------------------------------------------------------------------


def test_client_ids_round_trip_in_the_api_half_of_uint64() -> None:
    for cid in ("mmabcde-1", "mm00000-0", "mmzzzzz-68719476735", "mm9a8b7-42"):
        n = clientids.to_venue(cid)
        assert 2**63 <= n < 2**64
        assert clientids.from_venue(str(n)) == cid
        assert clientids.from_venue(n) == cid


def test_client_ids_never_collide_across_prefixes() -> None:
    ids = {clientids.to_venue(f"mm{p}-{n}") for p in ("aaaaa", "aaaab", "baaaa") for n in (1, 2)}
    assert len(ids) == 6


def test_foreign_client_ids_come_back_as_digits_and_are_accepted_again() -> None:
    assert clientids.from_venue("4242") == "4242"
    assert clientids.to_venue("4242") == 4242
    assert clientids.from_venue(None) is None
    assert clientids.from_venue("0xnope") is None
    with pytest.raises(clientids.ClientIdError):
        clientids.to_venue("mmabcde-68719476736")  # counter beyond 36 bits
    with pytest.raises(clientids.ClientIdError):
        clientids.to_venue("strategy-7")


# -- keys -----------------------------------------------------------------------------


def test_keys_never_show_secrets() -> None:
    keys = GrvtKeys("my-api-key-123", SUB, KEY)
    assert keys.address == "0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A"
    text = repr(keys) + str(keys)
    assert "my-api-key-123" not in text and "11" * 32 not in text
    assert set(keys.secret_values()) == {"my-api-key-123", KEY}


def test_keys_from_env_need_all_three() -> None:
    assert keys_from_env({}) is None
    with pytest.raises(GrvtKeyError, match="GRVT_PRIVATE_KEY"):
        keys_from_env({"GRVT_API_KEY": "k", "GRVT_TRADING_ACCOUNT_ID": SUB})
    keys = keys_from_env(
        {"GRVT_API_KEY": "k", "GRVT_TRADING_ACCOUNT_ID": SUB, "GRVT_PRIVATE_KEY": "11" * 32}
    )
    assert keys is not None and keys.private_key == KEY


@pytest.mark.parametrize(
    ("account", "key", "match"),
    [("abc", KEY, "trading_account_id"), (SUB, "0x1234", "private_key")],
)
def test_bad_key_values_are_named(account: str, key: str, match: str) -> None:
    with pytest.raises(GrvtKeyError, match=match) as info:
        GrvtKeys("k", account, key)
    assert KEY not in str(info.value)


def test_key_file_must_be_private(tmp_path: Path) -> None:
    path = tmp_path / "grvt.yaml"
    path.write_text(f"api_key: k\ntrading_account_id: '{SUB}'\nprivate_key: '{KEY}'\n")
    os.chmod(path, 0o644)
    with pytest.raises(GrvtKeyError, match="chmod 600"):
        keys_from_file(path)
    os.chmod(path, 0o600)
    assert keys_from_file(path).trading_account_id == SUB
    path.write_text("api_key: k\n")
    with pytest.raises(GrvtKeyError, match="trading_account_id, private_key"):
        keys_from_file(path)
    with pytest.raises(GrvtKeyError, match="does not exist"):
        keys_from_file(tmp_path / "missing.yaml")


# -- signing --------------------------------------------------------------------------


def _order(**kw: object) -> t.Order:
    req = OrderRequest(
        "mmabcde-1",
        "BTC_USDT_Perp",
        Side.BUY,
        Decimal("0.01"),
        price=Decimal("65000.1"),
        post_only=True,
        **kw,  # type: ignore[arg-type]
    )
    return build_order(req, BTC, SUB, 12345, expiration_ns=1730086400000000000, nonce=12345)


def test_the_sdk_signer_reproduces_the_spec_test_vector() -> None:
    config = GrvtApiConfig(GrvtEnv.TESTNET, SUB, KEY, "k", None)
    order = sign(_order(), config, Account.from_key(KEY), {"BTC_USDT_Perp": SDK_BTC})
    sig = order.signature
    assert sig.signer == "0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A"
    assert sig.r == "0x8016254baad132e1bb6f0989d8a255bd21d7251436c8e3907e503ae76cb4856e"
    assert sig.s == "0x56eec7149ec0e948e77b9f111f98f9ff704aa3729247abddbf36a132965622ce"
    assert sig.v == 27


def test_the_fast_signer_gives_the_sdk_signature_for_any_order() -> None:
    import copy
    import random

    rng = random.Random(5)
    config = GrvtApiConfig(GrvtEnv.TESTNET, SUB, KEY, "k", None)
    account = Account.from_key(KEY)
    fast = OrderSigner(KEY, 326)
    insts = {"BTC_USDT_Perp": SDK_BTC}
    assert fast.sign(_order(), insts).signature == sign(_order(), config, account, insts).signature
    for i in range(200):
        req = OrderRequest(
            "c",
            "BTC_USDT_Perp",
            rng.choice([Side.BUY, Side.SELL]),
            rng.randint(1, 10**6) * Decimal("0.001"),
            type=rng.choice([OrderType.LIMIT, OrderType.MARKET]),
            price=rng.randint(1, 10**7) * Decimal("0.1"),
            reduce_only=rng.random() < 0.5,
        )
        a = build_order(req, BTC, SUB, 2**63 + i, expiration_ns=rng.getrandbits(62), nonce=i)
        b = copy.deepcopy(a)
        assert fast.sign(a, insts).signature == sign(b, config, account, insts).signature


def test_the_emulator_check_recovers_the_signer_only_under_the_right_chain() -> None:
    config = GrvtApiConfig(GrvtEnv.TESTNET, SUB, KEY, "k", None)
    order = sign(_order(), config, Account.from_key(KEY), {"BTC_USDT_Perp": SDK_BTC})
    import orjson

    wire = orjson.loads(orjson.dumps(order))  # the JSON the connector sends
    wire["legs"][0]["size"] = "0.010000000"  # other spellings of the same number
    message = order_message(wire, [("0x030501", 9)])
    sig = order.signature
    args = (sig.v, int(sig.r, 16), int(sig.s, 16))
    assert recover_signer(message, 326, *args) == sig.signer
    assert recover_signer(message, 325, *args) != sig.signer


def test_orders_are_built_on_the_grid_with_decimal_strings() -> None:
    order = _order()
    assert order.legs[0].size == "0.010" and order.legs[0].limit_price == "65000.1"
    assert order.time_in_force is t.TimeInForce.GOOD_TILL_TIME and order.post_only
    market = build_order(
        OrderRequest(
            "mmabcde-2",
            "BTC_USDT_Perp",
            Side.SELL,
            Decimal("0.002"),
            type=OrderType.MARKET,
            reduce_only=True,
        ),
        BTC,
        SUB,
        1,
        expiration_ns=1,
        nonce=1,
    )
    assert market.is_market and market.legs[0].limit_price == "0"
    assert market.time_in_force is t.TimeInForce.IMMEDIATE_OR_CANCEL
    with pytest.raises(VenueError, match=r"multiple of 0\.1"):
        build_order(
            OrderRequest("c", "BTC_USDT_Perp", Side.BUY, Decimal("0.01"), price=Decimal("1.05")),
            BTC,
            SUB,
            1,
            expiration_ns=1,
            nonce=1,
        )
    with pytest.raises(VenueError, match="post-only needs GTC"):
        _order(time_in_force=TimeInForce.IOC)
    # below the instrument's minimum notional: refused before it is signed
    with_min = Instrument(
        "grvt",
        "BTC_USDT_Perp",
        "BTC",
        "USDT",
        Decimal("0.1"),
        Decimal("0.001"),
        Decimal("0.001"),
        min_notional=Decimal("100"),
    )
    small = OrderRequest("c", "BTC_USDT_Perp", Side.BUY, Decimal("0.001"), price=Decimal("90000.0"))
    with pytest.raises(VenueError) as info:
        build_order(small, with_min, SUB, 1, expiration_ns=1, nonce=1)
    assert info.value.code == "min_notional"
    tiny = OrderRequest("c", "BTC_USDT_Perp", Side.BUY, Decimal("0.0001"), price=Decimal("1"))
    with pytest.raises(VenueError) as info:
        build_order(tiny, BTC, SUB, 1, expiration_ns=1, nonce=1)
    assert info.value.code == "invalid_size"  # below the minimum size: one code for sizes


def test_order_objects_map_to_core_updates() -> None:
    base = {
        "order_id": "0x01",
        "legs": [{"instrument": "BTC_USDT_Perp", "size": "0.01", "is_buying_asset": True}],
        "metadata": {"client_order_id": str(clientids.to_venue("mmabcde-3"))},
    }
    state = {"book_size": ["0.01"], "traded_size": ["0"], "update_time": "5000000"}

    def update(extra: dict) -> object:
        return parse.order_update("grvt", parse.order(base | {"state": state | extra}))

    assert update({"status": "PENDING"}) is None
    rej = update({"status": "REJECTED", "reject_reason": "FAIL_POST_ONLY"})
    assert rej is not None and rej.status is OrderStatus.REJECTED  # type: ignore[attr-defined]
    assert rej.reason == "FAIL_POST_ONLY" and rej.client_id == "mmabcde-3" and rej.ts_ms == 5  # type: ignore[attr-defined]
    part = update({"status": "OPEN", "traded_size": ["0.004"]})
    assert part is not None and part.status is OrderStatus.PARTIALLY_FILLED  # type: ignore[attr-defined]
    assert part.filled_size == Decimal("0.004")  # type: ignore[attr-defined]
    with pytest.raises(parse.Unreadable, match=r"state\.status"):
        update({"status": "SOMETHING_NEW"})


# -- cookies and config -----------------------------------------------------------------


def test_cookie_expiry_is_read_as_utc() -> None:
    header = f"gravity=tok123; Path=/; Expires={cookie_expiry(1795721702)}; HttpOnly"
    token, expires = parse_cookie(header)  # type: ignore[misc]
    assert token == "tok123" and expires.timestamp() == 1795721702
    assert parse_cookie("other=1") is None
    assert parse_cookie(None) is None


def test_config_refuses_real_grvt_hosts_in_sim_mode(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("venues:\n  g: {type: grvt}\n")
    with pytest.raises(ConfigError, match="point at a real exchange"):
        load_config(path, env={})
    path.write_text("venues:\n  g: {type: grvt, base_url: 'http://127.0.0.1:1'}\n")
    with pytest.raises(ConfigError, match="base_url and ws_url go together"):
        load_config(path, env={})
    path.write_text(
        "venues:\n  g: {type: grvt, base_url: 'http://127.0.0.1:1', ws_url: 'ws://127.0.0.1:1/ws'}\n"
    )
    config, _ = load_config(path, env={})
    assert config.venues["g"].endpoints() == ["http://127.0.0.1:1", "ws://127.0.0.1:1/ws"]
