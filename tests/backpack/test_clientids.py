"""core string ids <-> Backpack uint32 clientId."""

from __future__ import annotations

import random
import string

import pytest

from connectors.common.clientids import (
    BACKPACK,
    LIGHTER,
    ClientIdCollision,
    ClientIdError,
    ClientIdMap,
    prefix_tag,
)

MAX_COUNTER = BACKPACK.max_counter


def _prefix(rng: random.Random) -> str:
    return "mm" + "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(5))


def test_round_trip_and_uint32() -> None:
    m = ClientIdMap()
    for n in (0, 1, 2, 999, MAX_COUNTER):
        cid = f"mmab12c-{n}"
        v = m.to_venue(cid)
        assert 0 <= v < 2**32
        assert v >= 2**20  # tag never 0: never mistaken for a foreign small id
        assert m.from_venue(v) == cid
        assert m.from_venue(str(v)) == cid


def test_deterministic_across_maps() -> None:
    assert ClientIdMap().to_venue("mmzz999-7") == ClientIdMap().to_venue("mmzz999-7")


def test_counter_limit_and_bad_ids() -> None:
    m = ClientIdMap()
    with pytest.raises(ClientIdError, match="uint32"):
        m.to_venue(f"mmab12c-{MAX_COUNTER + 1}")
    for bad in ("", "abc", "mmab12c", "mmab12c-x", "MMAB-1", "mmab12c--1"):
        with pytest.raises(ClientIdError):
            m.to_venue(bad)


def test_foreign_and_unknown_ids() -> None:
    m = ClientIdMap()
    assert m.from_venue(None) is None
    assert m.from_venue(42) == "42"  # below 2**20: set by someone else, not ours
    assert m.to_venue("42") == 42
    other = ClientIdMap().to_venue("mmold00-5")
    decoded = m.from_venue(other)
    assert decoded is not None and decoded.startswith("mm~") and decoded.endswith("-5")
    assert m.to_venue(decoded) == other  # cancel by the decoded id works
    m.register("mmold00")
    assert m.from_venue(other) == "mmold00-5"


def test_distinct_ids_never_collide_within_a_run() -> None:
    m = ClientIdMap()
    seen = {m.to_venue(f"mmrun01-{n}") for n in range(1, 20001)}
    assert len(seen) == 20000


def test_prefix_collision_detected() -> None:
    rng = random.Random(7)
    by_tag: dict[int, str] = {}
    pair = None
    while pair is None:
        p = _prefix(rng)
        t = prefix_tag(p)
        if t in by_tag and by_tag[t] != p:
            pair = (by_tag[t], p)
        by_tag[t] = p
    m = ClientIdMap((pair[0],))
    with pytest.raises(ClientIdCollision):
        m.to_venue(f"{pair[1]}-1")
    assert 1 <= prefix_tag(pair[0]) <= 4095


def test_lighter_layout_stays_inside_48_bits() -> None:
    m = ClientIdMap(layout=LIGHTER)
    rng = random.Random(5)
    for _ in range(200):
        cid = f"{_prefix(rng)}-{rng.randrange(LIGHTER.max_counter + 1)}"
        v = m.to_venue(cid)
        assert 2**28 <= v <= 2**48 - 1  # Lighter: 1..2**48-1; tag never 0
        assert m.from_venue(v) == cid
    stranger = ClientIdMap(layout=LIGHTER)
    foreign = stranger.from_venue(m.to_venue("mmzz999-7"))
    assert foreign is not None and foreign.startswith("mm~") and len(foreign.split("-")[0]) == 8
    assert stranger.to_venue(foreign) == m.to_venue("mmzz999-7")
    with pytest.raises(ClientIdError):
        m.to_venue(f"mmab12c-{LIGHTER.max_counter + 1}")
