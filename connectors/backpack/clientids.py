"""The core's string client ids <-> Backpack's uint32 ``clientId``.

The core names orders ``<run prefix>-<n>`` (``mm`` + 5 chars, then a counter).
A uint32 cannot hold that, so the id is packed as

    clientId = tag << 20 | n        tag = 12-bit hash of the run prefix, in 1..4095

Limits (by design, documented for the operator):

* ``n`` must be below 2**20 (1,048,575 orders per run and venue);
* ``tag`` 0 is never produced, so a ``clientId`` below 2**20 (one set by another
  tool) never decodes as ours: it comes back as its plain decimal string;
* the tag of a prefix this process has not seen cannot be turned back into the
  prefix: such an order decodes as ``mm~<tag hex>-<n>``, which still starts with
  the ``mm`` mark (so the core treats it as an earlier run's order and cancels
  it) and which ``to_venue`` accepts again (so the cancel works). Register
  earlier runs' prefixes (e.g. from the journal) with ``register`` to decode
  them exactly;
* two prefixes with the same tag (probability 1/4095 per pair) cannot coexist:
  ``register`` raises ``ClientIdCollision`` instead of sending ambiguous ids.
"""

from __future__ import annotations

import hashlib
import re

COUNTER_BITS = 20
TAG_BITS = 12
MAX_COUNTER = (1 << COUNTER_BITS) - 1
_TAGS = (1 << TAG_BITS) - 1  # 4095 usable tags: 1..4095

_OURS = re.compile(r"^(mm[a-z0-9]+)-(\d+)$")
_UNKNOWN = re.compile(r"^mm~([0-9a-f]{3})-(\d+)$")


class ClientIdError(ValueError):
    """A client id that cannot be expressed as a Backpack uint32 clientId."""


class ClientIdCollision(ClientIdError):
    """Two run prefixes map to the same 12-bit tag."""


def prefix_tag(prefix: str) -> int:
    digest = hashlib.blake2b(prefix.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") % _TAGS + 1


class ClientIdMap:
    def __init__(self, prefixes: tuple[str, ...] = ()) -> None:
        self._by_tag: dict[int, str] = {}
        for prefix in prefixes:
            self.register(prefix)

    def register(self, prefix: str) -> int:
        """Remember a run prefix so its ids decode exactly; returns its tag."""
        tag = prefix_tag(prefix)
        known = self._by_tag.get(tag)
        if known is not None and known != prefix:
            raise ClientIdCollision(
                f"run prefixes {known!r} and {prefix!r} share clientId tag {tag:#05x}"
            )
        self._by_tag[tag] = prefix
        return tag

    def to_venue(self, client_id: str) -> int:
        m = _OURS.match(client_id)
        if m is not None:
            prefix, counter = m.group(1), int(m.group(2))
            tag = self.register(prefix)
        else:
            u = _UNKNOWN.match(client_id)
            if u is None:
                if client_id.isdigit() and int(client_id) <= MAX_COUNTER:
                    return int(client_id)  # a foreign id we decoded as plain digits
                raise ClientIdError(f"client id {client_id!r} is not <prefix>-<n>")
            tag, counter = int(u.group(1), 16), int(u.group(2))
            if not 1 <= tag <= _TAGS:
                raise ClientIdError(f"client id {client_id!r}: bad tag")
        if counter > MAX_COUNTER:
            raise ClientIdError(
                f"client id {client_id!r}: counter above {MAX_COUNTER} "
                "(Backpack clientId is a uint32)"
            )
        return tag << COUNTER_BITS | counter

    def from_venue(self, value: object) -> str | None:
        if value is None or isinstance(value, bool):
            return None
        try:
            n = int(value)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            return None
        if n < 0:
            return None
        tag, counter = n >> COUNTER_BITS, n & MAX_COUNTER
        if tag == 0 or tag > _TAGS:
            return str(n)
        prefix = self._by_tag.get(tag)
        if prefix is None:
            return f"mm~{tag:03x}-{counter}"
        return f"{prefix}-{counter}"
