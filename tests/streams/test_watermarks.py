"""Per-partition watermarks, idle partitions and the ticks they make due (wall clock injected)."""

from __future__ import annotations

from datetime import datetime, timedelta

from ingest.contract import CHINA_STANDARD_TIME
from streams.watermarks import Watermarks, home_partitions

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=CHINA_STANDARD_TIME)
LATENESS = timedelta(minutes=1)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_each_partition_keeps_its_own_clock_until_it_falls_idle() -> None:
    clock = Clock()
    marks = Watermarks({"A": 0, "B": 1}, LATENESS, idle_after=30, clock=clock)
    assert marks.saw("A", 0, T0 + timedelta(minutes=10)) == T0 + timedelta(minutes=9)
    assert marks.saw("B", 1, T0) == T0 - LATENESS, "B's partition lags: its clock must not run ahead"
    clock.now = 29
    assert marks.of(1) == T0 - LATENESS
    clock.now = 30  # nothing on partition 1 for 30 s: it follows the quickest
    assert marks.of(1) == T0 + timedelta(minutes=9)
    assert marks.saw("B", 1, T0 + timedelta(minutes=2)) == T0 + timedelta(minutes=9), "never goes back"


def test_a_partition_never_heard_from_is_idle_only_once_readings_flow_elsewhere() -> None:
    clock = Clock()
    marks = Watermarks({"A": 0, "Q": 3}, LATENESS, idle_after=30, clock=clock)
    clock.now = 100  # the worker has been up a while, no reading yet
    marks.saw("A", 0, T0)
    assert marks.of(3) is None
    clock.now = 130
    assert marks.of(3) == T0 - LATENESS


def test_ticks_fall_due_once_per_new_minute_for_each_assigned_partition() -> None:
    marks = Watermarks({"A": 0, "B": 0, "C": 1, "D": 2}, LATENESS, idle_after=30, clock=Clock())
    marks.saw("A", 0, T0 + timedelta(seconds=90))
    marks.saw("C", 1, T0 + timedelta(seconds=150))
    assert marks.due_ticks({0, 1, 3}) == [(0, T0 + timedelta(seconds=30)), (1, T0 + timedelta(seconds=90))]
    marks.saw("A", 0, T0 + timedelta(seconds=100))
    assert marks.due_ticks({0, 1, 3}) == [], "still the same minute"
    marks.saw("A", 0, T0 + timedelta(seconds=130))
    assert marks.due_ticks({0, 1}) == [(0, T0 + timedelta(seconds=70))]
    assert marks.due_ticks({2}) == [], "partition 2 has had no reading, and is not idle yet"


def test_a_tick_concerns_every_station_of_its_partition() -> None:
    marks = Watermarks({"A": 0, "B": 0, "C": 1}, LATENESS, idle_after=30, clock=Clock())
    assert marks.stations_on(0) == ["A", "B"]
    marks.saw("B", 1, T0)  # B's readings now come on partition 1: so does its tick
    assert (marks.stations_on(0), marks.stations_on(1)) == (["A"], ["B", "C"])


def test_home_partitions_follow_kafkas_default_partitioner() -> None:
    assert home_partitions(["NOI-1", "VOC-1", "GW-1"], 4) == {"NOI-1": 1, "VOC-1": 3, "GW-1": 2}
