"""Data validity: a window is judged only when it holds the data its standard asks for.

GB 3095-2012 §6: an hourly value needs at least 45 minutes of data in the hour, a 24 h mean 20
hourly values, an 8 h mean 6. A station's cadence says how much of the hour each reading covers,
so a station reporting every minute and one reporting every hour are both judged fairly.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from envalert.core.contract import Kind
from envalert.core.stations import NoiseZone
from rules.aggregations import WindowState
from rules.catalogue import all_rules, explain
from rules.derived import DailyAir, DerivedState, NightlyNoise
from rules.evaluator import RuleState
from rules.figures import station_hour
from rules.hourly import ClosedHour, HourState, add, close_due, ms
from rules.model import Catalogue
from rules.samples import Samples
from rules.standards.validity import year_so_far_is_valid
from tests.rules.conftest import T0, Run, every, reading, station

AIR = station(Kind.AIR)
NOISE = station(Kind.NOISE, zone=NoiseZone.Z2)  # night limit 50 dB(A)
MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)


def minutes_of(kind: Kind, start: timedelta, count: int, **values: float) -> list:  # type: ignore[type-arg]
    return [reading(kind, at, **values) for at in every(T0 + start, MINUTE, count)]


def test_twelve_minutes_of_pm25_make_no_24_hour_mean(catalogue: Catalogue) -> None:
    run = Run(catalogue, "air.pm25.24h", AIR).feed(minutes_of(Kind.AIR, timedelta(0), 12, pm25=80))
    assert run.tick(T0 + 3 * HOUR).story() == []


def test_a_24_hour_mean_needs_20_valid_hours(catalogue: Catalogue) -> None:
    """Three readings an hour, every 20 minutes: each hour is whole. 19 hours of 80 are quiet; the
    20th hour's close makes the first 24 h mean, 80 > 75."""
    run = Run(catalogue, "air.pm25.24h", AIR)
    run.feed(reading(Kind.AIR, at, pm25=80) for at in every(T0, timedelta(minutes=20), 19 * 3))
    assert run.tick(T0 + 19 * HOUR).story() == []
    run.feed(reading(Kind.AIR, at, pm25=80) for at in every(T0 + 19 * HOUR, timedelta(minutes=20), 3))
    assert run.tick(T0 + 20 * HOUR).story() == [("firing", "warning")]
    firing = run.transitions[0]
    assert (firing.value, firing.at) == (80, T0 + 20 * HOUR)


def test_a_single_reading_in_an_hour_makes_no_hourly_aqi(catalogue: Catalogue) -> None:
    """A station reporting every minute: an hour with one reading of PM2.5 260 is not an hourly
    value (it gave AQI 310 and, with the next such hour, fired the heavy-pollution rule)."""
    run = Run(catalogue, "air.aqi.heavy", AIR).feed(minutes_of(Kind.AIR, timedelta(0), 60, pm25=20))
    run.feed([reading(Kind.AIR, T0 + HOUR, pm25=260), reading(Kind.AIR, T0 + 2 * HOUR, pm25=260)])
    assert run.tick(T0 + 4 * HOUR).story() == []


def test_six_minutes_of_o3_make_no_8_hour_mean(catalogue: Catalogue) -> None:
    run = Run(catalogue, "air.o3.8h", AIR).feed(minutes_of(Kind.AIR, timedelta(0), 6, o3=300))
    assert run.tick(T0 + 9 * HOUR).story() == []


def test_four_minutes_of_a_loud_night_make_no_night_leq(catalogue: Catalogue) -> None:
    run = Run(catalogue, "noise.night.leq", NOISE)
    run.feed(minutes_of(Kind.NOISE, timedelta(hours=23), 4, laeq=70))
    assert run.tick(T0 + timedelta(days=1, hours=7)).story() == []


def test_a_single_reading_makes_no_station_night() -> None:
    tracker, state = NightlyNoise(NOISE), DerivedState()
    nights = tracker.on_reading(state, reading(Kind.NOISE, T0 + timedelta(hours=23), laeq=70)).nights
    nights += tracker.on_tick(state, T0 + timedelta(days=1, hours=7)).nights
    assert nights == []


def test_an_hour_needs_45_minutes_of_data_at_the_stations_cadence() -> None:
    def closed(minutes: int, step: timedelta) -> ClosedHour:
        state = HourState()
        for at in every(T0 - step, step, 1 + minutes * MINUTE // step):  # one reading earlier: the cadence
            add(state, reading(Kind.AIR, at, pm25=50))
        hour = close_due(state, T0 + HOUR)
        assert hour is not None
        return hour

    assert closed(44, MINUTE).means == {} and closed(44, MINUTE).lacking == ["pm25"]
    assert closed(45, MINUTE).means == {"pm25": 50}
    assert closed(45, timedelta(minutes=15)).means == {"pm25": 50}, "three readings at a 15 min cadence"
    assert closed(30, timedelta(minutes=15)).means == {}, "two readings at a 15 min cadence"


def test_an_hourly_station_has_whole_hours() -> None:
    state = HourState()
    hours = [hour for at in every(T0, HOUR, 3) if (hour := add(state, reading(Kind.AIR, at, pm25=50)))]
    assert [(hour.means, hour.lacking) for hour in hours] == [({"pm25": 50}, []), ({"pm25": 50}, [])]


def test_a_night_leq_needs_6_valid_hours_of_the_8() -> None:
    """Readings every 10 minutes from 22:00 to 04:00 (six whole hours) make a night; from 22:00 to
    03:00 they do not."""

    def nights(until_hours: int) -> list[date]:
        tracker, state = NightlyNoise(NOISE), DerivedState()
        found = []
        for at in every(T0 + timedelta(hours=22), timedelta(minutes=10), until_hours * 6):
            found += tracker.on_reading(state, reading(Kind.NOISE, at, laeq=45)).nights
        found += tracker.on_tick(state, T0 + timedelta(days=1, hours=7)).nights
        return [night.night for night in found]

    assert nights(6) == [date(2026, 7, 1)]
    assert nights(5) == []


def test_explain_states_each_windows_validity_rule(catalogue: Catalogue) -> None:
    rules = all_rules(catalogue)
    for rule in rules.values():
        (line,) = [line for line in explain(rule).splitlines() if line.startswith("  validity:")]
        assert len(line) > len("  validity:   ") + 10, rule.id
    assert "20 valid hourly values of its 24" in explain(rules["air.pm25.24h"])
    assert "45 minutes of data" in explain(rules["air.pm25.24h"])
    assert "6 of its 8 hours" in explain(rules["noise.night.leq"])


def test_o3_daily_maximum_8_hours_needs_14_valid_8_hour_means_unless_it_exceeds() -> None:
    """O3 only from 00:00 to 13:00: 8 of the day's 17 8-hour windows hold 6 hourly values. HJ
    663-2013: fewer than 14 make no daily maximum, unless it is above the limit anyway."""

    def o3_max_8h(o3: float) -> float | None:
        tracker, state = DailyAir(AIR), DerivedState()
        for hour, at in enumerate(every(T0, HOUR, 24)):
            values = {"pm25": 30.0, **({"o3": o3} if hour < 13 else {})}
            tracker.on_reading(state, reading(Kind.AIR, at, **values))
        (day,) = tracker.on_tick(state, T0 + 24 * HOUR).days
        return day.o3_max_8h

    assert o3_max_8h(100) is None
    assert o3_max_8h(200) == 200


def test_an_hour_with_too_little_data_is_a_figure_that_is_not_valid() -> None:
    """Not enough data is a state, not silence: the hour is published, marked not valid, with the
    pollutants that lacked data."""
    tracker, state = DailyAir(AIR), DerivedState()
    hours = []
    for at in every(T0, MINUTE, 60):
        hours += tracker.on_reading(state, reading(Kind.AIR, at, pm25=30, o3=50)).hours
    for at in every(T0 + HOUR, MINUTE, 30):
        hours += tracker.on_reading(state, reading(Kind.AIR, at, pm25=30, o3=50)).hours
    hours += tracker.on_tick(state, T0 + 2 * HOUR).hours
    assert [(hour.aqi, hour.lacking) for hour in hours] == [(43, []), (None, ["o3", "pm25"])]
    figures = [station_hour(hour) for hour in hours]
    assert figures[1].fields == {"valid": False, "lacking": "o3,pm25"}
    assert "valid" not in figures[0].fields


@pytest.mark.parametrize(
    ("days_by_month", "today", "since", "valid"),
    [
        ({1: 27}, date(2026, 2, 1), date(2026, 1, 1), True),
        ({1: 26}, date(2026, 2, 1), date(2026, 1, 1), False),
        ({1: 31}, date(2026, 1, 20), date(2026, 1, 1), True),  # January is not over
        ({1: 27, 2: 24}, date(2026, 2, 28), date(2026, 1, 1), False),  # February's last day: 25 needed
        ({1: 27, 2: 25}, date(2026, 2, 28), date(2026, 1, 1), True),
        ({7: 27}, date(2026, 8, 10), date(2026, 7, 1), True),  # watched from July: January not held
        (
            {m: 25 if m == 2 else 27 for m in range(1, 13)},
            date(2026, 12, 31),
            date(2026, 1, 1),
            False,
        ),  # 322 < 324
        ({m: 25 if m == 2 else 28 for m in range(1, 13)}, date(2026, 12, 31), date(2026, 1, 1), True),  # 333
        ({2: 27}, date(2026, 3, 5), date(2026, 1, 1), False),  # January has no valid day at all
        # Exactly 324: the months' minimums (322) and two more days.
        (
            {m: 25 if m == 2 else 27 + (m in (3, 5)) for m in range(1, 13)},
            date(2026, 12, 31),
            date(2026, 1, 1),
            True,
        ),
    ],
)
def test_a_year_so_far_needs_its_months_days(
    days_by_month: dict[int, int], today: date, since: date, valid: bool
) -> None:
    assert year_so_far_is_valid(days_by_month, today, since) is valid


def test_a_window_saved_by_a_rules_earlier_computation_is_not_read_by_the_new_one(
    catalogue: Catalogue,
) -> None:
    """Timelines outlive a release: a 24 h PM2.5 window saved when it held minute readings must not
    be read as hourly values once the rule averages hours (30 minutes of 300 made a mean of 291)."""
    run = Run(catalogue, "air.pm25.24h", AIR)
    minutes = [(ms(at), 300.0) for at in every(T0 - HOUR, MINUTE, 30)]
    run.state.rules["air.pm25.24h"] = RuleState(window=WindowState(samples=Samples(minutes)))
    run.feed(reading(Kind.AIR, at, pm25=20) for at in every(T0, timedelta(minutes=20), 20 * 3))
    assert run.tick(T0 + 20 * HOUR).story() == []
