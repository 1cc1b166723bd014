"""At connect: is our API private key the one Lighter has registered for our account and
API key index?

lighter-sdk's ``SignerClient.check_client`` ("verifies that the given API key associated
with (api_key_index, account_index) matches the one on Lighter"; lighter-go
``TxClient.Check``) reads ``GET /api/v1/apikeys?account_index=`` and compares the listed
public key with its private key's, failing with "private key does not match the one on
Lighter". This does the same on our REST client (paced; the venue's refusals mapped by
code) with the public key derived here (``schnorr.public_key_of``, checked against the SDK
in tests/lighter/test_signatures.py): the SDK's own check runs its Go HTTP client on a
blocking call and caches keys process-wide by account index.

Without this, a wrong key started and ran: its txs refused one by one (21120 "invalid
signature"), its private streams refused. Now the start fails with one line naming the
venue and where the key comes from; the key itself is never in the message.
"""

from __future__ import annotations

import asyncio
from typing import Any

from connectors.common.errors import ErrorCode, VenueError
from connectors.lighter import schnorr
from connectors.lighter.keys import ENV_ACCOUNT, ENV_KEY_INDEX, ENV_PRIVATE_KEY, LighterKeys
from connectors.lighter.rest import LighterRest

API_KEYS = "/api/v1/apikeys"
"""``account_index`` (required) and ``api_key_index`` ("Set `api_key_index` to 255 to
retrieve all api keys associated with the account": *SDK* ``AccountApi.apikeys``)."""
ACCOUNT_NOT_FOUND = 21100


def _where(venue: str, env: str) -> str:
    return f"venues.{venue}.key_file or {env}"


def registered_key(payload: dict[str, Any], api_key_index: int) -> str | None:
    """The public key ``/api/v1/apikeys`` lists for the index (hex, no 0x), or None. The
    answer's form: ``{"code": 200, "api_keys": [{"account_index", "api_key_index", "nonce",
    "public_key"}]}`` (lighter-go ``client/http/http_types.go`` ``AccountApiKeys``)."""
    keys = payload.get("api_keys")
    if not isinstance(keys, list):
        raise VenueError(f"{API_KEYS}: no api_keys list in the answer", code=ErrorCode.BAD_ANSWER)
    for item in keys:
        if isinstance(item, dict) and item.get("api_key_index") == api_key_index:
            pub = item.get("public_key")
            if isinstance(pub, str):
                return pub.lower().removeprefix("0x")
    return None


async def check_api_key(rest: LighterRest, keys: LighterKeys, venue: str) -> None:
    """Raise ``VenueError(BAD_KEY)`` (not retryable) when the venue does not list our key
    index or lists another public key for it; the read's own failures pass through as
    they are (a network error stays retryable)."""
    account, index = keys.account_index, keys.api_key_index
    try:
        payload = await rest.get(API_KEYS, {"account_index": account, "api_key_index": index})
    except VenueError as exc:
        if exc.code != ErrorCode.BAD_KEY:
            raise
        env = ENV_ACCOUNT if exc.venue_code == ACCOUNT_NOT_FOUND else ENV_KEY_INDEX
        raise VenueError(
            f"{venue}: Lighter does not know account {account} / API key index {index} "
            f"({exc.venue_code}): check {_where(venue, env)}",
            code=ErrorCode.BAD_KEY,
            venue_code=exc.venue_code,
        ) from None
    listed = registered_key(payload, index)
    if listed is None:
        raise VenueError(
            f"{venue}: API key index {index} is not registered on Lighter account {account}: "
            f"check {_where(venue, ENV_KEY_INDEX)}",
            code=ErrorCode.BAD_KEY,
        )
    ours = await asyncio.to_thread(schnorr.public_key_of, keys.private_key)
    if listed != ours:
        raise VenueError(
            f"{venue}: the API private key is not the one registered on Lighter for account "
            f"{account}, API key index {index}: check {_where(venue, ENV_PRIVATE_KEY)}",
            code=ErrorCode.BAD_KEY,
        )
