"""The core's string client ids <-> a venue's integer client order id.

The core names orders ``<run prefix>-<n>`` (``mm`` + 5 chars, then a counter).
Venues want an integer (Backpack a uint32, Lighter 1..2**48-1), so the id is packed as

    venue id = tag << counter_bits | n        tag = hash of the run prefix, never 0

Limits (by design, documented for the operator):

* ``n`` must be below ``2**counter_bits``;
* ``tag`` 0 is never produced, so an id below ``2**counter_bits`` (one set by
  another tool) never decodes as ours: it comes back as its plain decimal string;
* the tag of a prefix this process has not seen cannot be turned back into the
  prefix: such an order decodes as ``mm~<tag hex>-<n>``, which still starts with
  the ``mm`` mark (so the core treats it as an earlier run's order and cancels
  it) and which ``to_venue`` accepts again (so the cancel works). Register
  earlier runs' prefixes (e.g. from the journal) with ``register`` to decode
  them exactly;
* two prefixes with the same tag cannot coexist: ``register`` raises
  ``ClientIdCollision`` instead of sending ambiguous ids.

Backpack (``BACKPACK``): 12-bit tag, 20-bit counter (1,048,575 orders per run).
Lighter (``LIGHTER``): 20-bit tag, 28-bit counter (268 M orders per run).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_OURS = re.compile(r"^(mm[a-z0-9]+)-(\d+)$")
_UNKNOWN = re.compile(r"^mm~([0-9a-f]+)-(\d+)$")


@dataclass(frozen=True, slots=True)
class IdLayout:
    venue: str
    tag_bits: int
    counter_bits: int

    @property
    def max_counter(self) -> int:
        return (1 << self.counter_bits) - 1

    @property
    def tags(self) -> int:
        """Usable tags: 1..tags."""
        return (1 << self.tag_bits) - 1

    @property
    def tag_hex_width(self) -> int:
        return (self.tag_bits + 3) // 4


BACKPACK = IdLayout("Backpack clientId (uint32)", 12, 20)
LIGHTER = IdLayout("Lighter client_order_index (48 bits)", 20, 28)


class ClientIdError(ValueError):
    """A client id that cannot be expressed as the venue's integer client id."""


class ClientIdCollision(ClientIdError):
    """Two run prefixes map to the same 12-bit tag."""


def prefix_tag(prefix: str, layout: IdLayout = BACKPACK) -> int:
    digest = hashlib.blake2b(prefix.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") % layout.tags + 1


class ClientIdMap:
    def __init__(self, prefixes: tuple[str, ...] = (), layout: IdLayout = BACKPACK) -> None:
        self.layout = layout
        self._by_tag: dict[int, str] = {}
        for prefix in prefixes:
            self.register(prefix)

    def register(self, prefix: str) -> int:
        """Remember a run prefix so its ids decode exactly; returns its tag."""
        tag = prefix_tag(prefix, self.layout)
        known = self._by_tag.get(tag)
        if known is not None and known != prefix:
            raise ClientIdCollision(
                f"run prefixes {known!r} and {prefix!r} share the {self.layout.venue} tag {tag:#x}"
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
                if client_id.isdigit() and int(client_id) <= self.layout.max_counter:
                    return int(client_id)  # a foreign id we decoded as plain digits
                raise ClientIdError(f"client id {client_id!r} is not <prefix>-<n>")
            tag, counter = int(u.group(1), 16), int(u.group(2))
            if not 1 <= tag <= self.layout.tags:
                raise ClientIdError(f"client id {client_id!r}: bad tag")
        if counter > self.layout.max_counter:
            raise ClientIdError(
                f"client id {client_id!r}: counter above {self.layout.max_counter} "
                f"({self.layout.venue})"
            )
        return tag << self.layout.counter_bits | counter

    def from_venue(self, value: object) -> str | None:
        if value is None or isinstance(value, bool):
            return None
        try:
            n = int(value)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            return None
        if n < 0:
            return None
        layout = self.layout
        tag, counter = n >> layout.counter_bits, n & layout.max_counter
        if tag == 0 or tag > layout.tags:
            return str(n)
        prefix = self._by_tag.get(tag)
        if prefix is None:
            return f"mm~{tag:0{layout.tag_hex_width}x}-{counter}"
        return f"{prefix}-{counter}"
