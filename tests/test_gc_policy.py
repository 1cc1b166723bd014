"""The collector's policy: freeze once started (only when the command installed it),
and a bounded record of pauses."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from mmtui import gc_policy


@pytest.fixture
def clean_policy() -> Iterator[None]:
    thresholds = gc.get_threshold()
    state = dict(gc_policy._state)
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
        gc_policy._state.update(state)


def test_after_start_does_nothing_unless_installed(clean_policy: None) -> None:
    gc_policy._state["installed"] = False
    before = gc.get_freeze_count()
    assert gc_policy.after_start() == 0
    assert gc.get_freeze_count() == before  # a test's app never freezes the test process


def test_installed_after_start_freezes_what_lives(clean_policy: None) -> None:
    before = gc.get_threshold()
    gc_policy.install()
    assert gc.get_threshold() == before  # THRESHOLDS None: Python's kept
    kept = [[i] for i in range(1000)]  # tracked objects alive at start
    frozen = gc_policy.after_start()
    assert frozen == gc.get_freeze_count() >= len(kept)


def test_install_sets_given_thresholds(clean_policy: None) -> None:
    gc_policy.install((1234, 11, 12))
    assert gc.get_threshold() == (1234, 11, 12)


def test_pause_record_stays_at_its_cap() -> None:
    pauses = gc_policy.GcPauses(keep=8).start()
    try:
        for _ in range(30):
            gc.collect(0)
    finally:
        pauses.stop()
    counts = pauses.snapshot()
    assert counts[0][0] >= 30
    assert len(counts[0][1]) == 8
    assert pauses not in gc.callbacks
