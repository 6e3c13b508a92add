"""Each station's clock, each partition's watermark, idle partitions and silent stations, and the
ticks they make due (wall clock and log ends injected)."""

from __future__ import annotations

from datetime import datetime, timedelta

from envalert.core.contract import CHINA_STANDARD_TIME
from streams.watermarks import Watermarks, home_partitions

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=CHINA_STANDARD_TIME)
LATENESS = timedelta(minutes=1)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def watermarks(
    partition_of: dict[str, int],
    clock: Clock,
    ends: dict[int, int] | None = None,
    starts: dict[int, int] | None = None,
) -> Watermarks:
    """Watermarks over partitions whose log ends where the consumer began (nothing to take) unless
    ``ends`` and ``starts`` say otherwise."""
    ends, starts = ends if ends is not None else {}, starts if starts is not None else {}
    return Watermarks(
        partition_of,
        LATENESS,
        idle_after=30,
        clock=clock,
        log_end=lambda partition: ends.get(partition, 0),
        log_start=lambda partition: starts.get(partition, 0),
    )


def test_each_partition_keeps_its_own_clock_until_it_falls_idle() -> None:
    clock = Clock()
    marks = watermarks({"A": 0, "B": 1}, clock)
    assert marks.saw("A", 0, T0 + timedelta(minutes=10)) == T0 + timedelta(minutes=9)
    assert marks.saw("B", 1, T0) == T0 - LATENESS, "B's partition lags: its clock must not run ahead"
    clock.now = 29
    assert marks.of(1) == T0 - LATENESS
    clock.now = 30  # nothing on partition 1 for 30 s: it follows the quickest
    assert marks.of(1) == T0 + timedelta(minutes=9)
    marks.saw("B", 1, T0 + timedelta(minutes=2))
    assert marks.of(1) == T0 + timedelta(minutes=9), "never goes back"


def test_a_partition_with_readings_still_to_judge_is_never_idle() -> None:
    clock, log_end = Clock(), {0: 1, 1: 500}
    marks = watermarks({"A": 0, "B": 1}, clock, ends=log_end)
    marks.saw("A", 0, T0 + timedelta(minutes=10))
    marks.saw("B", 1, T0)
    marks.took(1, 98)
    marks.took(1, 97)  # the highest offset taken counts
    clock.now = 300  # the consumer gave partition 1 nothing for 300 s, but 401 records wait there
    assert marks.of(1) == T0 - LATENESS
    assert marks.for_station("B", T0 + timedelta(minutes=9)) == T0 - LATENESS
    marks.took(1, 99)  # a record that is no reading (malformed, or from no catalogue station)
    log_end[1] = 100  # all taken: now partition 1 and its station are idle
    assert marks.of(1) == T0 + timedelta(minutes=9)
    assert marks.for_station("B", T0 + timedelta(minutes=9)) == T0 + timedelta(minutes=9)


def test_a_station_is_judged_by_its_own_clock_however_far_its_partition_is_ahead() -> None:
    clock = Clock()
    marks = watermarks({"A": 0, "B": 0}, clock)
    marks.saw("A", 0, T0 + timedelta(hours=10))
    assert marks.saw("B", 0, T0) == T0 - LATENESS
    assert marks.of(0) == T0 + timedelta(hours=10) - LATENESS
    tick = T0 + timedelta(hours=10) - LATENESS
    assert marks.for_station("B", tick) == T0 - LATENESS, "a tick takes B no further than its own clock"
    clock.now = 30  # B silent for 30 s with nothing left to take: the partition's clock takes it on
    assert marks.for_station("B", tick) == tick


def test_a_station_never_heard_from_is_ticked_once_it_has_been_silent_as_long_as_idleness() -> None:
    clock = Clock()
    marks = watermarks({"A": 0, "Q": 0}, clock)
    assert marks.for_station("Q", T0) is None, "no reading anywhere yet"
    marks.saw("A", 0, T0)
    clock.now = 29
    assert marks.for_station("Q", T0) is None
    clock.now = 30
    assert marks.for_station("Q", T0) == T0


def test_a_partition_never_heard_from_is_idle_only_once_readings_flow_elsewhere() -> None:
    clock = Clock()
    marks = watermarks({"A": 0, "Q": 3}, clock)
    clock.now = 100  # the worker has been up a while, no reading yet
    marks.saw("A", 0, T0)
    assert marks.of(3) is None
    clock.now = 130
    assert marks.of(3) == T0 - LATENESS


def test_ticks_fall_due_once_per_new_minute_for_each_assigned_partition() -> None:
    marks = watermarks({"A": 0, "B": 0, "C": 1, "D": 2}, Clock())
    marks.saw("A", 0, T0 + timedelta(seconds=90))
    marks.saw("C", 1, T0 + timedelta(seconds=150))
    assert marks.due_ticks({0, 1, 3}) == [(0, T0 + timedelta(seconds=30)), (1, T0 + timedelta(seconds=90))]
    marks.saw("A", 0, T0 + timedelta(seconds=100))
    assert marks.due_ticks({0, 1, 3}) == [], "still the same minute"
    marks.saw("A", 0, T0 + timedelta(seconds=130))
    assert marks.due_ticks({0, 1}) == [(0, T0 + timedelta(seconds=70))]
    assert marks.due_ticks({2}) == [], "partition 2 has had no reading, and is not idle yet"


def test_a_tick_concerns_every_station_of_its_partition() -> None:
    marks = watermarks({"A": 0, "B": 0, "C": 1}, Clock())
    assert marks.stations_on(0) == ["A", "B"]
    marks.saw("B", 1, T0)  # B's readings now come on partition 1: so does its tick
    assert (marks.stations_on(0), marks.stations_on(1)) == (["A"], ["B", "C"])


def test_home_partitions_follow_kafkas_default_partitioner() -> None:
    assert home_partitions(["NOI-1", "VOC-1", "GW-1"], 4) == {"NOI-1": 1, "VOC-1": 3, "GW-1": 2}


def test_a_partition_nothing_was_taken_from_yet_waits_for_the_records_before_its_log_end() -> None:
    """After a restart (or a partition moving to this worker), nothing has been taken from
    partition 1 yet, but 500 records wait there from its committed offset on. However long the
    consumer keeps it waiting while partition 0 flows, partition 1 and its station stay on their
    own clocks: ticking them past their backlog would make every reading in it late."""
    clock = Clock()
    log_end, log_start = {0: 1, 1: 500}, {0: 0, 1: 0}
    marks = watermarks({"A": 0, "B": 1}, clock, ends=log_end, starts=log_start)
    marks.saw("A", 0, T0 + timedelta(minutes=10))
    marks.took(0, 0)
    clock.now = 300
    assert marks.of(1) is None, "partition 1 has readings to give before it can be idle"
    assert marks.for_station("B", T0 + timedelta(minutes=9)) is None
    assert marks.left(1) == 500
    log_start[1] = 500  # the consumer begins at the log end: nothing waits, so the partition is idle
    assert marks.of(1) == T0 + timedelta(minutes=9)
    assert marks.for_station("B", T0 + timedelta(minutes=9)) == T0 + timedelta(minutes=9)


def test_a_partition_is_not_idle_while_its_offsets_are_unknown() -> None:
    clock = Clock()
    marks = watermarks({"A": 0, "B": 1}, clock)
    marks.log_start = {0: 0}.get  # nor where the consumer began partition 1
    marks.saw("A", 0, T0 + timedelta(minutes=10))
    clock.now = 300
    assert (marks.left(1), marks.of(1)) == (None, None)
    marks.log_end = {0: 0}.get  # nor where partition 1 ends, nothing taken or some
    marks.took(1, 7)
    assert (marks.left(1), marks.of(1)) == (None, None)


def test_what_was_taken_from_a_partition_that_left_this_worker_is_forgotten() -> None:
    """Partition 1 moves to another worker, which takes its records to offset 900, and comes
    back: the offset taken here before says nothing of what waits there now."""
    clock = Clock()
    log_end, log_start = {0: 0, 1: 100}, {0: 0, 1: 0}
    marks = watermarks({"A": 0, "B": 1}, clock, ends=log_end, starts=log_start)
    marks.saw("B", 1, T0)
    marks.took(1, 99)
    assert marks.left(1) == 0
    marks.forget(1)
    log_end[1], log_start[1] = 1000, 900
    assert marks.left(1) == 100
