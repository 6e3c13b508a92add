"""Event-time timeline: the same transitions however the readings and the watermark arrive."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from envalert.core.contract import Kind, Reading
from rules.catalogue import load_catalogue
from rules.derived import DailyAir, DerivedState, Facts
from rules.evaluator import StationEvaluator, StationState, Transition
from rules.timeline import Timeline, accept, advance, floor_minute
from tests.rules.conftest import T0, reading, station

CATALOGUE = load_catalogue()
AIR = station(Kind.AIR)
LATENESS = timedelta(minutes=2)


def day_of_air(seed: int = 1) -> list[Reading]:
    """22 hours of readings every minute (± 30 s), heavy pollution 05:00–13:00, silence 10:00–10:45
    (which leaves too little of that hour to count)."""
    rng = random.Random(seed)
    readings = []
    for step in range(22 * 60):
        at = T0 + timedelta(minutes=step, seconds=rng.randrange(30))
        if T0 + timedelta(hours=10) <= at < T0 + timedelta(hours=10, minutes=45):
            continue  # the station is silent
        heavy = 5 <= at.hour < 13
        readings.append(reading(Kind.AIR, at, pm25=rng.uniform(160, 260) if heavy else rng.uniform(20, 60)))
    return readings


def live(readings: list[Reading], arrival: list[Reading] | None = None) -> tuple[list[Transition], int]:
    """Readings arriving one by one, the watermark following the latest time seen less the lateness."""
    evaluator, timeline = StationEvaluator(CATALOGUE.rules, AIR), Timeline()
    transitions: list[Transition] = []
    latest: datetime | None = None
    for one in arrival or readings:
        accept(timeline, one)
        latest = max(latest or one.ts, one.ts)
        transitions += advance(timeline, evaluator, latest - LATENESS)
    transitions += advance(timeline, evaluator, latest + timedelta(hours=2) if latest else T0)
    return transitions, timeline.late


def test_a_day_judged_live_or_in_one_go_gives_the_same_transitions() -> None:
    readings = day_of_air()
    streamed, late = live(readings)
    evaluator, timeline = StationEvaluator(CATALOGUE.rules, AIR), Timeline()
    for one in readings:
        accept(timeline, one)
    replayed = advance(timeline, evaluator, readings[-1].ts + timedelta(hours=2))
    assert late == 0
    assert streamed == replayed
    assert {t.rule for t in streamed} >= {"air.aqi.heavy", "air.pm25.24h", "dq.silent"}


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(min_value=0, max_value=10_000))
def test_out_of_order_within_the_lateness_changes_nothing(seed: int) -> None:
    readings = day_of_air()
    rng = random.Random(seed)
    # Each reading is delayed by up to 90 s of event time, less than the 2-minute lateness.
    arrival = sorted(readings, key=lambda one: one.ts + timedelta(seconds=rng.uniform(0, 90)))
    assert arrival != readings
    assert live(readings, arrival) == live(readings)


def test_a_reading_later_than_the_lateness_is_counted_and_not_judged() -> None:
    readings = day_of_air()
    stragglers = [readings.pop(100), readings.pop(100)]
    arrival = [*readings[:150], *stragglers, *readings[150:]]  # 50 minutes too late
    transitions, late = live(readings, arrival)
    assert late == 2
    assert transitions == live(readings)[0]


def test_a_silent_station_is_noticed_by_the_fleet_watermark_alone() -> None:
    evaluator, timeline = StationEvaluator(CATALOGUE.rules, AIR), Timeline()
    accept(timeline, reading(Kind.AIR, T0, pm25=30))
    transitions = advance(timeline, evaluator, T0 + timedelta(minutes=29))
    assert transitions == []
    transitions = advance(timeline, evaluator, T0 + timedelta(minutes=31))
    assert [(t.rule, t.state, t.at) for t in transitions] == [
        ("dq.silent", "firing", T0 + timedelta(minutes=30))
    ]
    assert advance(Timeline(), evaluator, T0 + timedelta(days=1)) == []  # never heard from: no clock yet


def test_a_stations_first_readings_may_arrive_out_of_order_within_the_lateness() -> None:
    """Its clock starts at the watermark, not at the first reading to arrive (which lost the older one)."""
    evaluator, timeline = StationEvaluator(CATALOGUE.rules, AIR), Timeline()
    newer, older = reading(Kind.AIR, T0 + timedelta(minutes=10), pm25=30), reading(Kind.AIR, T0, pm25=30)
    assert accept(timeline, newer)
    advance(timeline, evaluator, T0 - timedelta(minutes=1))  # the partition's other stations are at T0
    assert accept(timeline, older) and timeline.late == 0


def test_a_station_never_heard_from_follows_the_clock() -> None:
    evaluator, timeline = StationEvaluator(CATALOGUE.rules, AIR), Timeline()
    assert advance(timeline, evaluator, T0) == [] and timeline.judged_to == T0
    assert not accept(timeline, reading(Kind.AIR, T0, pm25=30)) and timeline.late == 1


def test_a_reading_delivered_twice_before_it_is_judged_is_judged_once() -> None:
    """After a worker restart, readings still waiting in the saved timeline come again."""
    evaluator, timeline = StationEvaluator(CATALOGUE.rules, AIR), Timeline()
    first = reading(Kind.AIR, T0, pm25=30)
    assert accept(timeline, first) and accept(timeline, first.model_copy())
    advance(timeline, evaluator, T0 + timedelta(minutes=1))
    assert timeline.rules.rules["air.pm25.24h"].window.hour.sums["pm25"][1] == 1


class CountingEvaluator(StationEvaluator):
    """Judges as the real one does, and keeps each minute it was ticked at."""

    def __init__(self) -> None:
        super().__init__(CATALOGUE.rules, AIR)
        self.ticked: list[datetime] = []

    def tick(self, state: StationState, now: datetime) -> list[Transition]:
        self.ticked.append(now)
        return super().tick(state, now)


class CountingAir(DailyAir):
    """Derives as the real one does, and keeps each reading it was given."""

    def __init__(self) -> None:
        super().__init__(AIR)
        self.given: list[datetime] = []

    def on_reading(self, state: DerivedState, reading: Reading) -> Facts:
        self.given.append(reading.ts)
        return super().on_reading(state, reading)


def test_a_reading_out_of_order_waits_in_its_place() -> None:
    timeline = Timeline()
    for minutes in (10, 20, 15):
        assert accept(timeline, reading(Kind.AIR, T0 + timedelta(minutes=minutes), pm25=30))
    assert [one.ts for one in timeline.waiting] == [T0 + timedelta(minutes=m) for m in (10, 15, 20)]


def test_each_minute_is_ticked_once_and_each_reading_derived_once_however_the_clock_moves() -> None:
    """The watermark moves in uneven steps, some on a whole minute and some between two; every
    minute is still ticked once, in order, and every reading is given to the deriver once."""
    evaluator, deriver, timeline = CountingEvaluator(), CountingAir(), Timeline()
    times = [T0 + timedelta(minutes=1, seconds=30 * n) for n in range(8)]
    for at in times:
        accept(timeline, reading(Kind.AIR, at, pm25=30))
    for watermark in (T0 + timedelta(minutes=2), T0 + timedelta(minutes=3, seconds=45), times[-1]):
        advance(timeline, evaluator, watermark, deriver)
    assert evaluator.ticked == [T0 + timedelta(minutes=m) for m in range(1, 5)]
    assert deriver.given == times


def test_every_transition_of_the_readings_released_together_is_kept() -> None:
    vocs = station(Kind.VOCS)
    evaluator, timeline = StationEvaluator(CATALOGUE.rules, vocs), Timeline()
    for seconds, nmhc in ((10, 45.0), (20, 46.0)):
        accept(timeline, reading(Kind.VOCS, T0 + timedelta(seconds=seconds), nmhc=nmhc))
    transitions = advance(timeline, evaluator, T0 + timedelta(seconds=30))
    assert [(t.rule, t.state) for t in transitions] == [("vocs.nmhc.single", "firing")]


def test_a_minute_begins_at_its_whole_second_and_microsecond() -> None:
    assert floor_minute(T0 + timedelta(minutes=5, seconds=30, microseconds=500)) == T0 + timedelta(minutes=5)
