"""Per-station days of air and nights of noise, worked out by hand."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from envalert.core.contract import Flag, Kind
from envalert.core.stations import NoiseZone
from rules.derived import DailyAir, DerivedState, Facts, NightlyNoise, deriver_for, o3_max_8h
from tests.rules.conftest import T0, every, reading, station

HOUR = timedelta(hours=1)
#: O3 by hour of 2026-07-01: 50 at night, 200 from 12:00 to 15:00.
O3 = [50.0] * 12 + [200.0] * 4 + [50.0] * 8


def test_a_day_of_air_gives_24h_means_o3_maxima_and_the_aqi() -> None:
    tracker, state = DailyAir(station(Kind.AIR)), DerivedState()
    facts = Facts()
    for hour, at in enumerate(every(T0 + timedelta(minutes=30), HOUR, 24)):
        facts.add(tracker.on_reading(state, reading(Kind.AIR, at, pm25=80 if hour % 2 else 60, o3=O3[hour])))
    assert facts.days == [] and len(facts.hours) == 23  # each reading closed the hour before it
    facts.add(tracker.on_tick(state, T0 + 24 * HOUR))
    # Hourly AQI: PM2.5 1 h 60 → 50 + 50/40·25 = 81.25 → 82; 80 → 100 + 50/40·5 = 106.25 → 107.
    assert [(h.hour.hour, h.aqi, h.primary) for h in facts.hours[:2]] == [
        (0, 82, ["pm25"]),
        (1, 107, ["pm25"]),
    ]
    # 12:00–15:00: O3 1 h 200 → IAQI 100, above PM2.5 60 (82) at 12:00, below PM2.5 80 at 13:00.
    assert [(h.aqi, h.primary) for h in facts.hours[12:14]] == [(100, ["o3"]), (107, ["pm25"])]
    days = facts.days
    (day,) = days
    assert day.day == date(2026, 7, 1) and day.district == "金水区"
    assert day.means == {"pm25": 70.0, "o3": pytest.approx(75.0)}
    assert day.o3_max_1h == 200
    # The best 8 h window holds the four hours at 200 and four at 50: mean 125.
    assert day.o3_max_8h == 125
    # PM2.5 70 → 50 + 50/40·35 = 93.75 → 94; O3 1 h 200 → 100; O3 8 h 125 → 50 + 50/60·25 = 70.8 → 71
    assert day.aqi == 100


def test_a_pollutant_with_fewer_than_20_hours_has_no_24h_mean() -> None:
    tracker, state = DailyAir(station(Kind.AIR)), DerivedState()
    for hour, at in enumerate(every(T0, HOUR, 24)):
        flags = {"pm25": Flag.MAINTENANCE} if hour < 5 else {}
        tracker.on_reading(state, reading(Kind.AIR, at, flags=flags, pm25=500 if hour < 5 else 40, no2=30))
    (day,) = tracker.on_tick(state, T0 + 24 * HOUR).days
    assert day.means == {"no2": 30}  # pm25 had 19 valid hours: maintenance hours are not data
    assert day.o3_max_8h is None


def test_a_night_of_noise_against_the_zone_limit() -> None:
    tracker, state = NightlyNoise(station(Kind.NOISE, zone=NoiseZone.Z2)), DerivedState()  # night limit 50
    night = T0 + timedelta(hours=22)
    nights = []
    for at in every(night, timedelta(minutes=30), 16):
        nights += tracker.on_reading(state, reading(Kind.NOISE, at, laeq=50)).nights
    nights += tracker.on_tick(state, T0 + timedelta(days=1, hours=6)).nights
    (result,) = nights
    assert (result.night, round(result.leq, 9), result.limit, result.compliant) == (
        date(2026, 7, 1),
        50,
        50,
        True,
    )
    with pytest.raises(ValueError, match="no functional zone"):
        NightlyNoise(station(Kind.NOISE))


@pytest.mark.parametrize(
    ("o3", "expected"),
    [
        # The last window is 16:00–24:00: hours 17–23 alone (7 values) are no window of their own.
        ([50.0] * 17 + [150.0] * 7, (50 + 7 * 150) / 8),
        # The windows from 16:00 to 10:00 on hold exactly 6 values, and each counts.
        ([20.0] * 16 + [None] * 2 + [100.0] * 6, 100.0),
        # 14 valid windows are enough for a day below the limit, 13 are not.
        ([None] * 5 + [20.0] * 11 + [100.0] * 8, 100.0),
        ([None] * 6 + [20.0] * 10 + [100.0] * 8, None),
    ],
)
def test_o3_daily_maximum_8_hours_takes_the_17_windows_of_6_values_or_more(
    o3: list[float | None], expected: float | None
) -> None:
    assert o3_max_8h(o3) == expected


def test_a_24h_mean_needs_20_hours_and_20_are_enough() -> None:
    tracker, state = DailyAir(station(Kind.AIR)), DerivedState()
    facts = Facts()
    for at in every(T0 + timedelta(minutes=30), HOUR, 20):
        facts.add(tracker.on_reading(state, reading(Kind.AIR, at, pm25=60)))
    facts.add(tracker.on_tick(state, T0 + 24 * HOUR))
    assert [day.means for day in facts.days] == [{"pm25": 60.0}]


def test_a_night_beside_an_existing_railway_line_is_judged_against_55() -> None:
    tracker = NightlyNoise(station(Kind.NOISE, zone="4b", railway="existing"))
    assert tracker.limit == 55


def test_only_air_and_zoned_noise_stations_feed_the_fleet() -> None:
    assert deriver_for(station(Kind.VOCS, zone="1")) is None
    assert deriver_for(station(Kind.NOISE)) is None
    assert isinstance(deriver_for(station(Kind.NOISE, zone="1")), NightlyNoise)
