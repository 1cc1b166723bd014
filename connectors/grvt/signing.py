"""EIP-712 order signing (spec §3.3), through grvt-pysdk's own signer.

The connector builds a ``pysdk.grvt_raw_types.Order`` and signs it with
``pysdk.grvt_raw_signing.sign_order`` (eth-account underneath; with ``coincurve``
installed eth-keys uses libsecp256k1 and one order signs in well under a
millisecond: ``benchmarks/bench_grvt_signing.py``). The emulator uses the same
type table and domain to rebuild the message from the received JSON and recover
the signer.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak
from pysdk import grvt_raw_types as t
from pysdk.grvt_raw_base import GrvtApiConfig
from pysdk.grvt_raw_env import GrvtEnv
from pysdk.grvt_raw_signing import (
    CHAIN_IDS,
    EIP712_ORDER_MESSAGE_TYPE,
    PRICE_MULTIPLIER,
    TIME_IN_FORCE_TO_SIGN_TIME_IN_FORCE,
    build_EIP712_order_message_data,
    sign_order,
)

ORDER_TYPES = EIP712_ORDER_MESSAGE_TYPE
ENVIRONMENTS = {"prod": GrvtEnv.PROD, "testnet": GrvtEnv.TESTNET, "dev": GrvtEnv.DEV}
MAX_EXPIRATION_NS = 30 * 24 * 3600 * 10**9
"""The venue refuses signatures that expire more than 30 days ahead."""

SIGN_TIF = {tif.value: s.value for tif, s in TIME_IN_FORCE_TO_SIGN_TIME_IN_FORCE.items()}
"""Wire time-in-force name -> the uint8 in the signed message."""

_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def chain_id(env: GrvtEnv) -> int:
    return CHAIN_IDS[env]


def domain(chain: int) -> dict[str, Any]:
    return {"name": "GRVT Exchange", "version": "0", "chainId": chain}


def new_nonce() -> int:
    """A random uint32 (the venue de-duplicates on nonce + payload)."""
    return secrets.randbits(32)


def sign(
    order: t.Order, config: GrvtApiConfig, account: Any, instruments: Mapping[str, Any]
) -> t.Order:
    """Fill ``order.signature`` (r, s, v, signer) with the SDK's EIP-712 signer;
    ``instruments`` maps each leg's instrument to what the message needs of it
    (``instrument_hash``, ``base_decimals``: an SDK ``Instrument`` or a
    ``parse.SigningAsset``)."""
    return sign_order(order, config, account, instruments)


class OrderSigner:
    """The same EIP-712 signature as ``sign_order``, faster: the SDK builds the
    message (``build_EIP712_order_message_data``) from the SDK's type table, the
    domain separator and type hashes are computed once, and the digest is signed
    with libsecp256k1 (coincurve) directly, else with eth-account.

    Tests check it against ``sign_order`` on the spec's test vector and on random
    orders; the connector uses it, the benchmark compares both.
    """

    def __init__(self, private_key: str, chain: int) -> None:
        self.account = Account.from_key(private_key)
        self.address = str(self.account.address)
        self.chain = chain
        self._domain_separator = _hash_struct("EIP712Domain", domain(chain), _DOMAIN_TYPES)
        self._key: Any = None
        try:
            import coincurve

            self._key = coincurve.PrivateKey(bytes(self.account.key))
        except ImportError:
            self._key = None

    def digest(self, message: dict[str, Any]) -> bytes:
        struct = _hash_struct("Order", message, ORDER_TYPES)
        return keccak(b"\x19\x01" + self._domain_separator + struct)

    def sign(self, order: t.Order, instruments: Mapping[str, Any]) -> t.Order:
        digest = self.digest(build_EIP712_order_message_data(order, instruments))
        if self._key is not None:
            raw = self._key.sign_recoverable(digest, hasher=None)
            r, s, v = (
                int.from_bytes(raw[:32], "big"),
                int.from_bytes(raw[32:64], "big"),
                raw[64] + 27,
            )
        else:
            signed = self.account.unsafe_sign_hash(digest)
            r, s, v = signed.r, signed.s, signed.v
        order.signature.r = "0x" + r.to_bytes(32, "big").hex()
        order.signature.s = "0x" + s.to_bytes(32, "big").hex()
        order.signature.v = v
        order.signature.signer = self.address
        return order


_DOMAIN_TYPES = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
    ]
}


def _type_string(name: str, types: dict[str, list[dict[str, str]]]) -> str:
    deps: list[str] = []

    def walk(n: str) -> None:
        for f in types[n]:
            base = f["type"].removesuffix("[]")
            if base in types and base != name and base not in deps:
                deps.append(base)
                walk(base)

    walk(name)
    return "".join(
        f"{n}({','.join(f['type'] + ' ' + f['name'] for f in types[n])})"
        for n in [name, *sorted(deps)]
    )


_TYPE_HASH_CACHE: dict[tuple[str, int], bytes] = {}


def _type_hash(name: str, types: dict[str, list[dict[str, str]]]) -> bytes:
    key = (name, id(types))
    h = _TYPE_HASH_CACHE.get(key)
    if h is None:
        h = _TYPE_HASH_CACHE[key] = keccak(_type_string(name, types).encode())
    return h


def _encode_value(kind: str, value: Any, types: dict[str, list[dict[str, str]]]) -> bytes:
    if kind.endswith("[]"):
        inner = kind[:-2]
        return keccak(b"".join(_encode_value(inner, v, types) for v in value))
    if kind in types:
        return _hash_struct(kind, value, types)
    if kind == "bool":
        return (1 if value else 0).to_bytes(32, "big")
    if kind == "string":
        return keccak(str(value).encode())
    if kind.startswith("uint"):
        n = int(value, 16) if isinstance(value, str) and value.startswith("0x") else int(value)
        if n < 0 or n.bit_length() > int(kind[4:]):
            raise ValueError(f"{value} does not fit {kind}")
        return n.to_bytes(32, "big")
    if kind.startswith("int"):
        n = int(value)
        bits = int(kind[3:])
        if not -(2 ** (bits - 1)) <= n < 2 ** (bits - 1):
            raise ValueError(f"{value} does not fit {kind}")
        return n.to_bytes(32, "big", signed=True)
    raise ValueError(f"EIP-712 type {kind} not supported here")


def _hash_struct(name: str, value: dict[str, Any], types: dict[str, list[dict[str, str]]]) -> bytes:
    enc = [_type_hash(name, types)]
    enc.extend(_encode_value(f["type"], value[f["name"]], types) for f in types[name])
    return keccak(b"".join(enc))


# -- verification (the emulator) -------------------------------------------------


class SignatureCheckError(ValueError):
    """The signed order cannot be rebuilt (bad numbers or shapes)."""


def scaled(text: Any, scale: int, what: str) -> int:
    """A decimal string times 10^scale, exactly (``"0E-9"`` is zero)."""
    try:
        d = Decimal(str(text))
    except InvalidOperation:
        raise SignatureCheckError(f"{what} is not a decimal: {text!r}") from None
    if not d.is_finite() or d < 0:
        raise SignatureCheckError(f"{what} must be a non-negative decimal: {text!r}")
    q = d * (Decimal(10) ** scale)
    if q != q.to_integral_value():
        raise SignatureCheckError(f"{what} {text} has more than {scale} decimals")
    return int(q)


def order_message(order: dict[str, Any], leg_assets: list[tuple[str, int]]) -> dict[str, Any]:
    """The typed ``Order`` message of a received order JSON; ``leg_assets`` gives each
    leg's (instrument_hash, base_decimals)."""
    sig = order["signature"]
    legs = []
    for leg, (asset, base_decimals) in zip(order["legs"], leg_assets, strict=True):
        legs.append(
            {
                "assetID": int(str(asset), 16),
                "contractSize": scaled(leg["size"], base_decimals, "size"),
                "limitPrice": scaled(leg.get("limit_price") or "0", 9, "limit_price"),
                "isBuyingContract": bool(leg["is_buying_asset"]),
            }
        )
    tif = SIGN_TIF.get(str(order.get("time_in_force")))
    if tif is None:
        raise SignatureCheckError(f"unknown time_in_force {order.get('time_in_force')!r}")
    return {
        "subAccountID": int(str(order["sub_account_id"])),
        "isMarket": bool(order.get("is_market")),
        "timeInForce": tif,
        "postOnly": bool(order.get("post_only")),
        "reduceOnly": bool(order.get("reduce_only")),
        "legs": legs,
        "nonce": int(sig["nonce"]),
        "expiration": int(str(sig["expiration"])),
    }


def recover_signer(message: dict[str, Any], chain: int, v: int, r: int, s: int) -> str:
    """The checksummed address that signed ``message`` under ``chain``'s domain."""
    signable = encode_typed_data(domain(chain), ORDER_TYPES, message)
    return str(Account.recover_message(signable, vrs=(v, r, s)))


def high_s(s: int) -> bool:
    return s > _SECP256K1_N // 2


__all__ = [
    "ENVIRONMENTS",
    "MAX_EXPIRATION_NS",
    "ORDER_TYPES",
    "PRICE_MULTIPLIER",
    "OrderSigner",
    "SignatureCheckError",
    "chain_id",
    "domain",
    "new_nonce",
    "order_message",
    "recover_signer",
    "sign",
]
