"""Every window and validity count of the shipped catalogue, judged with values that change at
its edge, generated from the catalogue itself (a new rule gets them too):

- a mean of hourly values covers exactly its window: an hour just older than the window, far
  from the others, leaves the mean untouched, and every hour inside counts once;
- it has a value from exactly ``min_hours`` valid hours on, and none with one fewer;
- a night's Leq needs ``min_hours`` valid night hours, and is their energy average.

The expected values are plain arithmetic on the values fed, not rules/ code.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest

from envalert.core.contract import CHINA_STANDARD_TIME, Kind, Reading
from envalert.core.stations import DEFAULT_STATIONS, Station, load_stations
from rules.aggregations import Observation, WindowState, on_reading, on_tick
from rules.catalogue import load_catalogue
from rules.model import HourlyMean, NightLeq, Rule
from rules.standards.validity import HOURS_FOR_8H, HOURS_FOR_A_DAY, HOURS_FOR_A_NIGHT

#: Midnight: every window ends on a whole hour, and a night (22:00–06:00) fits in a day.
START = datetime(2026, 12, 1, 0, 0, tzinfo=CHINA_STANDARD_TIME)
#: Four readings an hour: each covers 15 minutes, so an hour of them is valid (45 minutes needed).
CADENCE = timedelta(minutes=15)
HOUR = timedelta(hours=1)


def rules_with(compute: type) -> list[tuple[Rule, Station]]:
    stations = load_stations(DEFAULT_STATIONS).values()
    found = []
    for rule in load_catalogue().rules:
        if isinstance(rule.compute, compute):
            found.append((rule, next(s for s in stations if rule.applies_to.matches(s))))
    assert found, f"the shipped catalogue has no {compute.__name__} rule"
    return found


def judge_hours(rule: Rule, station: Station, hourly_values: list[float | None]) -> list[Observation]:
    """Feed hour ``i`` from START four readings of ``hourly_values[i]`` (None: none that hour),
    then tick past the last hour; every observation made on the way."""
    metric = getattr(rule.compute, "metric", "laeq")
    state, seen = WindowState(), []
    for index, value in enumerate(hourly_values):
        if value is None:
            continue
        for quarter in range(4):
            at = START + index * HOUR + quarter * CADENCE
            reading = Reading(station=station.id, kind=station.kind, ts=at, values={metric: value})
            seen += on_reading(rule.compute, state, reading, station)
    return seen + on_tick(rule.compute, state, START + len(hourly_values) * HOUR)


HOURLY = rules_with(HourlyMean)


def window_hours(rule: Rule) -> int:
    assert isinstance(rule.compute, HourlyMean)
    return int(rule.compute.window / HOUR)


@pytest.mark.parametrize(("rule", "station"), HOURLY, ids=[rule.id for rule, _ in HOURLY])
def test_a_mean_of_hourly_values_covers_exactly_its_window(rule: Rule, station: Station) -> None:
    inside = [1.0 + index / 4 for index in range(window_hours(rule))]
    seen = judge_hours(rule, station, [40.0, *inside])  # hour 0 is just older than the last window
    assert seen[-1].at == START + (len(inside) + 1) * HOUR
    assert seen[-1].value == pytest.approx(math.fsum(inside) / len(inside), rel=1e-12)


@pytest.mark.parametrize(("rule", "station"), HOURLY, ids=[rule.id for rule, _ in HOURLY])
def test_a_mean_of_hourly_values_needs_its_minimum_of_valid_hours(rule: Rule, station: Station) -> None:
    assert isinstance(rule.compute, HourlyMean)
    needed, hours = rule.compute.min_hours, window_hours(rule)
    fewer = [None] * (hours - needed + 1) + [2.0] * (needed - 1)
    assert judge_hours(rule, station, fewer) == [], f"{needed - 1} valid hours of {hours}"
    enough = [None] * (hours - needed) + [2.0] * needed
    assert [o.value for o in judge_hours(rule, station, enough)][-1:] == [2.0], f"{needed} valid hours"


NIGHTS = rules_with(NightLeq)


@pytest.mark.parametrize(("rule", "station"), NIGHTS, ids=[rule.id for rule, _ in NIGHTS])
def test_a_nights_leq_needs_its_minimum_of_valid_hours(rule: Rule, station: Station) -> None:
    assert isinstance(rule.compute, NightLeq) and station.kind is Kind.NOISE
    needed = rule.compute.min_hours
    evening = [None] * 22  # 00:00–22:00: no readings; the night runs 22:00–06:00
    short = judge_hours(rule, station, [*evening, *[50.0] * (needed - 1), *[None] * (8 - needed + 1), 50.0])
    assert short == [], f"a night of {needed - 1} valid hours"
    levels = [40.0 + 2 * index for index in range(needed)]
    full = judge_hours(rule, station, [*evening, *levels, *[None] * (8 - needed), 50.0])
    energy = 10 * math.log10(math.fsum(10 ** (level / 10) for level in levels) / len(levels))
    assert [o.value for o in full] == [pytest.approx(energy, rel=1e-12)]


@pytest.mark.parametrize(
    ("levels", "leq"),
    [
        ([50.0] * 6, 50.0),
        # 10·log10((10^5 + 10^6)/2) = 10·log10(550000) = 57.404
        ([50.0, 60.0] * 3, 57.4036),
        # 10·log10((10^4.5 + 10^4.5 + 10^6.5)/3) = 10·log10(1075154.3) = 60.315
        ([45.0, 45.0, 65.0] * 2, 60.3148),
    ],
)
def test_a_nights_leq_is_the_energy_average_of_its_hours_by_hand(levels: list[float], leq: float) -> None:
    """GB 3096-2008: Leq = 10·log10((1/n) Σ 10^(Li/10)) over n equal-duration LAeq values."""
    [(rule, station)] = NIGHTS
    evening = [None] * 22
    night = judge_hours(rule, station, [*evening, *levels, *[None] * (8 - len(levels)), 50.0])
    assert [o.value for o in night] == [pytest.approx(leq, abs=1e-4)]


#: The windows and validity counts the standards set for the rules that cite them (GB 3095-2012
#: table 1 and chapter 6; the night count is envalert's, documented in rules/standards/validity.py).
STANDARD_WINDOWS = {
    "air.pm25.24h": (timedelta(hours=24), HOURS_FOR_A_DAY),
    "air.o3.8h": (timedelta(hours=8), HOURS_FOR_8H),
    "noise.night.leq": (None, HOURS_FOR_A_NIGHT),
}


@pytest.mark.parametrize(("rule_id", "expected"), STANDARD_WINDOWS.items(), ids=list(STANDARD_WINDOWS))
def test_the_catalogue_keeps_the_standards_windows(
    rule_id: str, expected: tuple[timedelta | None, int]
) -> None:
    compute = next(rule.compute for rule in load_catalogue().rules if rule.id == rule_id)
    assert (getattr(compute, "window", None), getattr(compute, "min_hours", None)) == expected


def mean_rule(window: str, align: str, min_samples: int) -> tuple[Rule, Station]:
    """A mean rule of the kind a catalogue may add (the shipped one uses hourly means only)."""
    rule = Rule.model_validate(
        {
            "id": "air.test.mean",
            "title": {"zh": "测试", "en": "test"},
            "description": {"zh": "测试", "en": "test"},
            "source": "test",
            "applies_to": {"kinds": ["air"]},
            "compute": {"function": "mean", "metric": "pm25", "window": window, "align": align,
                        "min_samples": min_samples},
            "condition": {"op": ">", "warning": 75},
            "notify": ["district"],
        }
    )  # fmt: skip
    return rule, next(s for s in load_stations(DEFAULT_STATIONS).values() if s.kind is Kind.AIR)


def judge_readings(rule: Rule, station: Station, timed: list[tuple[timedelta, float]]) -> list[Observation]:
    state, seen = WindowState(), []
    for offset, value in timed:
        reading = Reading(station=station.id, kind=station.kind, ts=START + offset, values={"pm25": value})
        seen += on_reading(rule.compute, state, reading, station)
    return seen


def test_a_trailing_mean_covers_its_window_with_the_oldest_edge_left_out() -> None:
    """A 10-minute trailing mean at 00:10 takes the readings after 00:00, not the one at 00:00."""
    rule, station = mean_rule("10m", "sliding", min_samples=1)
    seen = judge_readings(
        rule, station, [(timedelta(0), 900.0), (timedelta(minutes=5), 10.0), (timedelta(minutes=10), 20.0)]
    )
    assert [(o.value, o.at) for o in seen] == [
        (900.0, START),
        (455.0, START + timedelta(minutes=5)),
        (15.0, START + timedelta(minutes=10)),
    ]
    assert seen[-1].window == "trailing 10min mean" and seen[-1].window_zh == "10分钟滑动平均"


def test_a_trailing_mean_needs_its_minimum_of_samples() -> None:
    rule, station = mean_rule("1h", "sliding", min_samples=3)
    seen = judge_readings(rule, station, [(timedelta(minutes=m), float(m)) for m in range(4)])
    assert [o.value for o in seen] == [1.0, 1.5], "from the third sample on"


def test_a_calendar_mean_closes_with_its_period_and_needs_its_minimum_of_samples() -> None:
    rule, station = mean_rule("1h", "calendar", min_samples=2)
    timed = [(timedelta(minutes=10), 10.0), (timedelta(minutes=50), 20.0), (timedelta(minutes=70), 99.0)]
    seen = judge_readings(rule, station, timed)
    assert [(o.value, o.at, o.window) for o in seen] == [(15.0, START + HOUR, "hour 2026-12-01 00:00–01:00")]
    state = WindowState()
    lone = Reading(station=station.id, kind=station.kind, ts=START, values={"pm25": 5.0})
    assert on_reading(rule.compute, state, lone, station) == []
    assert on_tick(rule.compute, state, START + HOUR - timedelta(microseconds=1)) == []
    assert on_tick(rule.compute, state, START + HOUR) == [], "one sample of the two needed: no mean"
    assert state.period is None, "the period is closed all the same"


def test_a_daily_calendar_mean_is_named_by_its_day() -> None:
    rule, station = mean_rule("24h", "calendar", min_samples=1)
    state = WindowState()
    on_reading(
        rule.compute,
        state,
        Reading(station=station.id, kind=station.kind, ts=START, values={"pm25": 30.0}),
        station,
    )
    [day] = on_tick(rule.compute, state, START + timedelta(days=1))
    assert (day.value, day.at, day.window, day.window_zh) == (
        30.0,
        START + timedelta(days=1),
        "day 2026-12-01",
        "2026-12-01日",
    )
