"""The worker's collector: what was loaded at start is left out of later scans, and full
collections come rarely."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from streams.collector import YOUNG_THRESHOLD, tune_for_latency


@pytest.fixture
def collector_restored() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("collector_restored")
def test_objects_loaded_at_start_are_frozen_and_young_collections_wait_longer() -> None:
    loaded = [{"station": i} for i in range(1000)]
    tune_for_latency()
    assert gc.get_freeze_count() >= len(loaded)
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD > 700
    assert not any(gc.is_tracked(item) and item in gc.get_objects(generation=2) for item in loaded[:1])
