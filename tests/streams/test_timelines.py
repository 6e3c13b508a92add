"""Kept timelines: parsed once, and never reused once the table's row is not theirs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from rules.timeline import Timeline
from streams.timelines import Timelines

KEY = b"ZZ-AIR-ZM01"


class Event:
    """What ``save`` needs of the event in hand: something to point the changelog at."""


def timelines(table: dict[bytes, str], limit: int = 10) -> Timelines:
    return Timelines(cast(Any, table), limit)


def test_a_saved_timeline_is_handed_back_without_parsing_its_row() -> None:
    table: dict[bytes, str] = {}
    kept = timelines(table)
    first = kept.take(KEY)
    first.late = 3
    kept.save(KEY, first, cast(Any, Event()))
    assert Timeline.model_validate_json(table[KEY]).late == 3
    assert kept.take(KEY) is first


def test_a_row_recovered_from_the_changelog_is_parsed_afresh() -> None:
    table: dict[bytes, str] = {}
    kept = timelines(table)
    kept.save(KEY, kept.take(KEY), cast(Any, Event()))
    table[KEY] = Timeline(judged_to=datetime(2026, 11, 1, tzinfo=UTC)).model_dump_json()
    assert kept.take(KEY).judged_to == datetime(2026, 11, 1, tzinfo=UTC)


def test_a_timeline_whose_batch_failed_before_saving_is_not_reused() -> None:
    table: dict[bytes, str] = {}
    kept = timelines(table)
    saved = kept.take(KEY)
    kept.save(KEY, saved, cast(Any, Event()))
    half_advanced = kept.take(KEY)
    half_advanced.late = 99  # ... and the batch fails here, before its save
    again = kept.take(KEY)
    assert again is not half_advanced and again.late == 0


def test_beyond_the_limit_timelines_are_parsed_at_every_batch() -> None:
    table: dict[bytes, str] = {}
    kept = timelines(table, limit=1)
    first, second = kept.take(b"A"), kept.take(b"B")
    kept.save(b"A", first, cast(Any, Event()))
    kept.save(b"B", second, cast(Any, Event()))
    assert kept.take(b"A") is first
    assert kept.take(b"B") is not second
