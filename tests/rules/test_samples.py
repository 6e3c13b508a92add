"""Window samples in arrays: the same order and values as the pairs they replace, rows old and new."""

from __future__ import annotations

import json

from rules.aggregations import WindowState
from rules.samples import Samples

DAY_OF_MINUTES = [
    (1_782_864_000_000 + 60_000 * minute, 35.0 + (minute * 7919 % 1000) / 37) for minute in range(1440)
]


def test_samples_keep_time_order_and_forget_the_oldest() -> None:
    samples = Samples()
    for at, value in [(3, 1.0), (1, 5.0), (2, 2.0), (2, 1.5)]:
        samples.add(at, value)
    assert list(zip(samples.times, samples.values, strict=True)) == [(1, 5.0), (2, 1.5), (2, 2.0), (3, 1.0)]
    samples.drop_before(2)
    assert list(samples.times) == [2, 2, 3]
    samples.drop_before(2, including=True)
    assert list(samples.times) == [3]


def test_a_window_round_trips_through_its_row_and_a_change_is_written() -> None:
    state = WindowState(samples=Samples(DAY_OF_MINUTES))
    row = state.model_dump_json()
    assert WindowState.model_validate_json(row) == state
    back = WindowState.model_validate_json(row)
    back.samples.add(DAY_OF_MINUTES[-1][0] + 60_000, 99.5)
    assert WindowState.model_validate_json(back.model_dump_json()).samples.values[-1] == 99.5
    assert len(row) < 0.6 * len(json.dumps(DAY_OF_MINUTES)), "smaller than the pairs as JSON"


def test_a_row_of_the_old_form_is_still_read() -> None:
    old = json.dumps({"samples": [[1, 2.5], [2, 3.5]]})
    assert WindowState.model_validate_json(old).samples == Samples([(1, 2.5), (2, 3.5)])
    assert WindowState.model_validate_json(json.dumps({})).samples == Samples()
