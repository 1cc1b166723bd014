"""The core's string client ids <-> GRVT's uint64 ``client_order_id``.

API clients should use ids in [2^63, 2^64) (the GRVT UI uses the lower half).
The core names orders ``<run prefix>-<n>`` with the prefix ``mm`` + 5 characters
of ``[a-z0-9]``; that fits exactly, so the mapping is reversible and
collision-free by construction (no hashing, no registry)::

    client_order_id = 2^63 | code << 36 | n
        code = 1 + the five characters read as a base-36 number  (1 .. 36^5 < 2^27)
        n    = the counter, below 2^36 (68.7 billion orders per run)

Any id that does not decode this way (below 2^63, code 0 or out of range: set by
another tool) comes back as its plain decimal string, which ``to_venue`` accepts
again, so such orders can still be listed and cancelled.
"""

from __future__ import annotations

import re
import string

TOP = 1 << 63
COUNTER_BITS = 36
MAX_COUNTER = (1 << COUNTER_BITS) - 1
_ALPHABET = string.digits + string.ascii_lowercase  # base 36, digit value = index
_CODES = 36**5
_OURS = re.compile(r"^mm([a-z0-9]{5})-(\d+)$")
_U64 = (1 << 64) - 1


class ClientIdError(ValueError):
    """A client id that cannot be expressed as a GRVT client_order_id."""


def _encode_prefix(chars: str) -> int:
    n = 0
    for c in chars:
        n = n * 36 + _ALPHABET.index(c)
    return n + 1


def _decode_prefix(code: int) -> str:
    n = code - 1
    out = []
    for _ in range(5):
        n, d = divmod(n, 36)
        out.append(_ALPHABET[d])
    return "mm" + "".join(reversed(out))


def to_venue(client_id: str) -> int:
    """The uint64 for one of the core's client ids (or a foreign id's decimal text)."""
    m = _OURS.match(client_id)
    if m is None:
        if client_id.isdigit() and int(client_id) <= _U64:
            return int(client_id)
        raise ClientIdError(f"client id {client_id!r} is not <mm prefix>-<n>")
    counter = int(m.group(2))
    if counter > MAX_COUNTER:
        raise ClientIdError(f"client id {client_id!r}: counter above {MAX_COUNTER}")
    return TOP | _encode_prefix(m.group(1)) << COUNTER_BITS | counter


def from_venue(value: object) -> str | None:
    """The core's client id for a venue ``client_order_id`` (string or int)."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    if not text.isdecimal() or len(text) > 20:  # a uint64 has at most 20 digits
        return None
    n = int(text)
    if not 0 <= n <= _U64:
        return None
    if n < TOP:
        return str(n)
    code, counter = (n - TOP) >> COUNTER_BITS, n & MAX_COUNTER
    if not 1 <= code <= _CODES:
        return str(n)
    return f"{_decode_prefix(code)}-{counter}"
