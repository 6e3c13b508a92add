"""Window samples in arrays: the same order and values as the pairs they replace, rows old and new."""

from __future__ import annotations

import base64
import json
import zlib
from array import array

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.aggregations import WindowState
from rules.samples import BLOCK_MS, Samples

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


def blocks_of(samples: Samples) -> list[str]:
    return samples.dump().split(",")


def test_a_reading_rewrites_only_the_blocks_it_changed() -> None:
    """The oldest block loses its first sample, the newest takes the new one, and the blocks
    between keep their text."""
    samples = Samples(DAY_OF_MINUTES)
    before = blocks_of(samples)
    assert len(before) == 4, "a day of minutes in blocks of six hours"
    newest = DAY_OF_MINUTES[-1][0] + 60_000
    samples.add(newest, 40.0)
    samples.drop_before(newest - 86_400_000, including=True)
    after = blocks_of(samples)
    assert len(after) == 5, "the newest sample opens a block of its own"
    assert after[0] != before[0]
    assert after[1:4] == before[1:4]
    assert blocks_of(samples) == blocks_of(Samples(list(zip(samples.times, samples.values, strict=True))))


def test_a_row_with_a_day_in_one_block_is_still_read() -> None:
    """Rows written before the blocks hold the whole window as one text."""
    steps = array("q", [DAY_OF_MINUTES[0][0]] + [60_000] * (len(DAY_OF_MINUTES) - 1))
    values = array("d", [value for _, value in DAY_OF_MINUTES])
    one_block = base64.b64encode(zlib.compress(steps.tobytes() + values.tobytes(), 1)).decode()
    read = WindowState.model_validate_json(json.dumps({"samples": one_block})).samples
    assert read == Samples(DAY_OF_MINUTES)
    assert read.dump() == Samples(DAY_OF_MINUTES).dump(), "written back in blocks"


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["add", "drop", "drop including", "row"]),
            st.integers(min_value=-4 * BLOCK_MS, max_value=4 * BLOCK_MS),
            st.sampled_from([1.0, 2.5, -3.0]),
        ),
        max_size=60,
    )
)
def test_samples_changed_in_any_order_write_the_row_of_their_content(
    steps: list[tuple[str, int, float]],
) -> None:
    """Whatever was added and forgotten, and however often the row was written and read back
    between, the row is the one the same samples make afresh, and reads back as them."""
    samples = Samples()
    for step, at, value in steps:
        if step == "add":
            samples.add(at, value)
        elif step == "row":
            samples = Samples.parse(samples.dump())
        else:
            samples.drop_before(at, including=step == "drop including")
        fresh = Samples(list(zip(samples.times, samples.values, strict=True)))
        assert samples.dump() == fresh.dump()
        assert Samples.parse(samples.dump()) == samples


def test_forgetting_up_to_the_first_sample_of_a_block_rewrites_that_block() -> None:
    samples = Samples([(0, 1.0), (BLOCK_MS - 1, 2.0), (BLOCK_MS, 3.0), (BLOCK_MS + 1, 4.0)])
    samples.dump()  # both blocks are kept as written
    samples.drop_before(BLOCK_MS, including=True)
    assert Samples.parse(samples.dump()) == Samples([(BLOCK_MS + 1, 4.0)])


def test_a_row_of_another_type_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match=r"^samples are a base64 string or a list of pairs, not int$"):
        Samples.parse(42)


def test_samples_are_equal_by_content_and_show_it() -> None:
    one, same, other = Samples([(1, 1.5)]), Samples([(1, 1.5)]), Samples([(2, 1.5)])
    assert one == same
    assert one != other, "other times"
    assert one != [(1, 1.5)], "not a Samples"
    assert Samples() != one
    assert repr(one) == "Samples([(1, 1.5)])"


def test_a_window_state_round_trips_through_json_with_its_samples() -> None:
    state = WindowState(samples=Samples([(0, 1.0), (BLOCK_MS + 5, 2.5)]))
    again = WindowState.model_validate_json(state.model_dump_json())
    assert again.samples == state.samples and again.samples is not state.samples
