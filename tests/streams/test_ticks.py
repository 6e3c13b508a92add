"""Ticks in slices: every station in exactly one slice, rounds paced, progress on the last slice."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from pydantic import ValidationError

from envalert.core.contract import CHINA_STANDARD_TIME
from streams.ticks import ROUND_SECONDS, SLICE_STATIONS, Rounds, Slices, Tick, TickPacer

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=CHINA_STANDARD_TIME)
MINUTE = timedelta(minutes=1)


def round_of(parts: int, watermark: datetime = T0) -> list[Tick]:
    return [Tick(watermark=watermark, part=part, parts=parts) for part in range(parts)]


def test_every_station_is_in_exactly_one_slice_of_a_round() -> None:
    stations = [f"ZZ-AIR-{number}" for number in range(1000)]
    slices = Slices()
    ticked = [slices.of(0, tick, lambda _: stations) for tick in round_of(4)]
    assert sorted(station for part in ticked for station in part) == sorted(stations)
    sizes = [len(part) for part in ticked]
    assert min(sizes) > 200, f"slices this uneven would not spread the work: {sizes}"


def test_a_round_is_split_once_and_the_next_round_sees_new_stations() -> None:
    stations = {0: ["ZZ-AIR-1", "ZZ-AIR-2", "ZZ-AIR-3"], 1: ["ZZ-NOI-1"]}
    asked: list[int] = []

    def stations_on(partition: int) -> list[str]:
        asked.append(partition)
        return stations[partition]

    slices = Slices()
    first = [slices.of(0, tick, stations_on) for tick in round_of(2)]
    assert slices.of(1, Tick(watermark=T0), stations_on) == ["ZZ-NOI-1"]
    assert asked == [0, 1], "a partition's stations are listed once a round"
    stations[0].append("ZZ-AIR-4")
    second = [slices.of(0, tick, stations_on) for tick in round_of(2, T0 + MINUTE)]
    assert sorted(first[0] + first[1]) == ["ZZ-AIR-1", "ZZ-AIR-2", "ZZ-AIR-3"]
    assert sorted(second[0] + second[1]) == ["ZZ-AIR-1", "ZZ-AIR-2", "ZZ-AIR-3", "ZZ-AIR-4"]


def test_a_round_begun_before_a_restart_is_split_at_its_first_slice_seen() -> None:
    stations = [f"ZZ-AIR-{number}" for number in range(100)]
    whole = [Slices().of(0, tick, lambda _: stations) for tick in round_of(3)]
    assert Slices().of(0, round_of(3)[2], lambda _: stations) == whole[2]
    slices = Slices()
    slices.of(0, round_of(3)[0], lambda _: stations)
    halves = [Slices().of(0, tick, lambda _: stations) for tick in round_of(2)]
    assert slices.of(0, round_of(2)[1], lambda _: stations) == halves[1], "split by its own parts"


def test_a_tick_from_before_slices_is_one_slice_of_one() -> None:
    tick = Tick.model_validate_json('{"watermark": "2026-11-20T08:00:00+08:00"}')
    assert (tick.part, tick.parts, tick.last) == (0, 1, True)
    assert Slices().of(0, tick, lambda _: ["ZZ-NOI-1"]) == ["ZZ-NOI-1"]


def test_a_part_past_the_parts_is_refused() -> None:
    with pytest.raises(ValidationError, match="part 3 of 3"):
        Tick(watermark=T0, part=3, parts=3)


def test_a_round_goes_out_a_slice_a_run_and_the_next_starts_from_the_latest_minute_due() -> None:
    pacer = TickPacer(tick_seconds=0.25)
    stations = {0: SLICE_STATIONS * 2 + 1, 1: 10}
    pacer.start_rounds([(0, T0), (1, T0)], stations.__getitem__)
    sent = [pacer.next_ticks() for _ in range(4)]
    assert [[(partition, tick.part, tick.parts) for partition, tick in run] for run in sent] == [
        [(0, 0, 3)],
        [(0, 1, 3)],
        [(0, 2, 3)],
        [(1, 0, 1)],
    ]
    pacer.start_rounds([(0, T0 + MINUTE)], stations.__getitem__)
    assert [tick.watermark for _, tick in pacer.next_ticks()] == [T0 + MINUTE]
    pacer.start_rounds([(0, T0 + 2 * MINUTE)], stations.__getitem__)  # its round is still going
    pacer.start_rounds([(0, T0 + 3 * MINUTE)], stations.__getitem__)
    assert [pacer.next_ticks()[0][1].watermark for _ in range(2)] == [T0 + MINUTE] * 2
    pacer.start_rounds([], stations.__getitem__)  # nothing new is due: the waiting round starts
    assert [pacer.next_ticks()[0][1].watermark for _ in range(3)] == [T0 + 3 * MINUTE] * 3
    pacer.start_rounds([], stations.__getitem__)
    assert pacer.next_ticks() == []


@pytest.mark.parametrize("tick_seconds", [0.25, 1.0, 45.0])
def test_a_huge_fleet_still_finishes_its_round_in_about_round_seconds(tick_seconds: float) -> None:
    pacer = TickPacer(tick_seconds)
    pacer.start_rounds([(0, T0)], lambda _: SLICE_STATIONS * 1000)
    runs = 0
    while pacer.next_ticks():
        runs += 1
        pacer.start_rounds([], lambda _: 0)  # as the timer does at every run
    assert ROUND_SECONDS / 4 <= runs * tick_seconds <= 2 * ROUND_SECONDS


def test_progress_is_the_lowest_watermark_of_a_round_seen_from_its_first_slice() -> None:
    rounds = Rounds()
    assert rounds.judged(0, Tick(watermark=T0 + MINUTE, part=1, parts=2), []) is None, (
        "begun before a restart"
    )
    assert rounds.judged(0, Tick(watermark=T0 + MINUTE, part=0, parts=2), []) is None
    assert rounds.judged(0, Tick(watermark=T0, part=1, parts=2), []) == T0, "capped lower on its last slice"
    assert rounds.judged(1, Tick(watermark=T0, part=0, parts=1), []) == T0
    assert rounds.judged(0, Tick(watermark=T0 + 2 * MINUTE, part=1, parts=2), []) is None, (
        "that round is over"
    )


def test_progress_waits_for_the_station_furthest_behind_and_for_one_not_judged_yet() -> None:
    rounds = Rounds()
    behind = T0 - 30 * MINUTE
    assert rounds.judged(0, Tick(watermark=T0, part=0, parts=2), [T0, behind]) is None
    assert rounds.judged(0, Tick(watermark=T0, part=1, parts=2), [T0]) == behind
    assert rounds.judged(0, Tick(watermark=T0, part=0, parts=2), [None, T0]) is None
    assert rounds.judged(0, Tick(watermark=T0, part=1, parts=2), [T0]) is None, "a station not judged yet"
    assert rounds.judged(1, Tick(watermark=T0, part=0, parts=1), [T0 + MINUTE]) == T0 + MINUTE


def test_a_station_far_behind_does_not_hold_the_fleet_beyond_its_patience() -> None:
    """A logger whose clock went back years, or one uploading weeks of history, is judged on its
    own clock, but the city's figures wait for it only so long: its facts then come late."""
    rounds = Rounds(patience=timedelta(hours=6))
    assert rounds.judged(0, Tick(watermark=T0, part=0, parts=1), [T0, T0 - timedelta(hours=7)]) == T0
    assert rounds.judged(
        0, Tick(watermark=T0, part=0, parts=1), [T0, T0 - timedelta(hours=5)]
    ) == T0 - timedelta(hours=5)
