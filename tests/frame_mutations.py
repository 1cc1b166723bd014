"""Mutated venue frames from recorded ones: a seeded generator for the frame fuzz tests
(``tests/<venue>/test_fuzz_frames.py``) and ``benchmarks/fuzz_frames.py``.

``FrameMutator(seed).frame(payload)`` takes one recorded payload (a JSON value) and
returns what a hostile or broken venue might send in its place, as the socket hands it
over (``str``, sometimes ``bytes``): one to three structural mutations at random places
in the tree — a key dropped or renamed, a value of another type, a bad number (huge,
negative, NaN, ``1e999990``, thousands of digits), wrong nesting (wrapped in a list or an
object, a list cut to its first item), a list repeated — and then, sometimes, damage to
the text itself: truncated, random bytes spliced in, or random bytes only. The same seed
gives the same frames.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from typing import Any

BAD_NUMBERS: tuple[Any, ...] = (
    "1e999990",
    "-1e999990",
    "1e-999990",
    "NaN",
    "-NaN",
    "Infinity",
    "-Infinity",
    "sNaN",
    "-5",
    "-0",
    "0",
    "0.0000000000000000000000000000000000000001",
    "9" * 5000,
    "1" + "0" * 45,
    "1e30",
    "1e31",
    "0x1f",
    "1_000",
    " 12 ",
    "١٢٣",
    "1e",
    "",
    -5,
    -1,
    0,
    2**64,
    10**40,
    -(2**63),
    1e308,
    -1e308,
    5e-324,
    1.5,
    True,
    False,
    float("nan"),
    float("inf"),
)
"""Numbers (and number-shaped strings) a frame should never be trusted with."""

OTHER_VALUES: tuple[Any, ...] = (
    None,
    "",
    "x",
    "Bid",
    "buy",
    "null",
    [],
    {},
    [1],
    [[1, 2]],
    ["1", "2", "3"],
    {"a": 1},
    {"0": 1},
    [None],
    [{}],
    "\u0000",
    "\ud7ff" * 3,
    "a" * 2000,
)

RENAMES = ("", " ", "type", "data", "stream", "feed", "channel", "e", "s", "X", "0", "ü")


class FrameMutator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.kinds: dict[str, int] = {}
        """How often each mutation was applied."""

    # -- the frames ---------------------------------------------------------------

    def frame(self, payload: Any) -> str | bytes:
        """One mutated frame made from ``payload`` (left untouched)."""
        rng = self.rng
        if rng.random() < 0.03:
            return self._count("random bytes", rng.randbytes(rng.randint(0, 300)))
        value = copy.deepcopy(payload)
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            value = self._mutate(value)
        try:
            text = json.dumps(value, allow_nan=True)
        except (TypeError, ValueError, RecursionError):
            text = json.dumps(payload)
        roll = rng.random()
        if roll < 0.08:
            return self._count("truncated", text[: rng.randint(0, max(0, len(text) - 1))])
        if roll < 0.13:
            raw = bytearray(text.encode())
            for _ in range(rng.randint(1, 4)):
                at = rng.randint(0, len(raw))
                raw[at:at] = rng.randbytes(rng.randint(1, 8))
            return self._count("bytes spliced", bytes(raw))
        if roll < 0.18:
            return text.encode()
        return text

    # -- the tree ------------------------------------------------------------------

    def _mutate(self, value: Any) -> Any:
        """One mutation at a random node of ``value`` (the root included)."""
        nodes = list(_nodes(value))
        # numbers and leaves are where the parsing is: pick them more often
        weights = [3.0 if not isinstance(v, dict | list) else 1.0 for _, v in nodes]
        (path, node) = self.rng.choices(nodes, weights)[0]
        new = self._mutated(node)
        if not path:
            return value if new is _DROP or isinstance(new, _Rename) else new
        parent = value
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        if new is _DROP:
            del parent[last]
        elif isinstance(new, _Rename):
            if isinstance(parent, dict):
                parent[new.key] = parent.pop(last)
        else:
            parent[last] = new
        return value

    def _mutated(self, node: Any) -> Any:
        rng = self.rng
        choices: list[tuple[str, Callable[[], Any]]] = [
            ("bad number", lambda: rng.choice(BAD_NUMBERS)),
            ("other type", lambda: copy.deepcopy(rng.choice(OTHER_VALUES))),
            ("wrapped in a list", lambda: [node]),
            ("wrapped in an object", lambda: {"value": node}),
            ("dropped", lambda: _DROP),
            ("renamed", lambda: _Rename(rng.choice(RENAMES))),
            ("negated", lambda: _negated(node)),
        ]
        if isinstance(node, list) and node:
            choices.append(("first item only", lambda: node[0]))
            choices.append(("repeated", lambda: node * rng.randint(2, 50)))
            choices.append(("reversed", lambda: list(reversed(node))))
        if isinstance(node, dict) and node:
            choices.append(("values only", lambda: list(node.values())))
        name, make = rng.choice(choices)
        self.kinds[name] = self.kinds.get(name, 0) + 1
        return make()

    def _count(self, name: str, frame: str | bytes) -> str | bytes:
        self.kinds[name] = self.kinds.get(name, 0) + 1
        return frame


class _Rename:
    def __init__(self, key: str) -> None:
        self.key = key


_DROP = object()


def _negated(node: Any) -> Any:
    if isinstance(node, bool):
        return not node
    if isinstance(node, int | float):
        return -node if node else -1
    if isinstance(node, str):
        return node[1:] if node.startswith("-") else "-" + node
    return node


def _nodes(value: Any, path: tuple[Any, ...] = ()) -> Any:
    """(path, node) for every node of a JSON tree; the root's path is empty."""
    yield path, value
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _nodes(child, (*path, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _nodes(child, (*path, i))


__all__ = ["BAD_NUMBERS", "FrameMutator"]
