"""Baseline generators: plausible Zhengzhou figures per kind, reproducible, and quiet under the rules."""

from __future__ import annotations

import math
import statistics
from datetime import datetime, timedelta

from envalert.core.contract import CHINA_STANDARD_TIME, Reading
from envalert.core.stations import DEFAULT_STATIONS, Station, load_stations
from rules.catalogue import SHIPPED, load_catalogue
from rules.offline import judge_offline
from rules.standards.noise import is_night, night_of
from simulators.generators import StationSeries, baseline

STATIONS = load_stations(DEFAULT_STATIONS)
HOUR, TEN_MINUTES = timedelta(hours=1), timedelta(minutes=10)


def series(
    station_id: str, start: datetime, days: float, step: timedelta = HOUR, seed: int = 1
) -> list[Reading]:
    return list(StationSeries(STATIONS[station_id], seed).between(start, start + timedelta(days=days), step))


def on(month: int, day: int = 1) -> datetime:
    return datetime(2026, month, day, tzinfo=CHINA_STANDARD_TIME)


def mean(readings: list[Reading], metric: str) -> float:
    return statistics.fmean(reading.values[metric] for reading in readings)


def local_hour(reading: Reading) -> int:
    return reading.ts.astimezone(CHINA_STANDARD_TIME).hour


def test_the_same_seed_gives_the_same_readings_and_another_seed_others() -> None:
    fleet = list(STATIONS.values())
    first = list(baseline(fleet, on(3), on(3, 2), TEN_MINUTES, seed=11))
    assert first == list(baseline(fleet, on(3), on(3, 2), TEN_MINUTES, seed=11))
    assert first != list(baseline(fleet, on(3), on(3, 2), TEN_MINUTES, seed=12))
    assert len(first) == len(fleet) * 144
    assert [r.ts for r in first] == sorted(r.ts for r in first), "in time order across the fleet"


def test_air_winter_nights_summer_afternoons_and_rush_hours() -> None:
    january, july = series("ZZ-AIR-JS01", on(1, 8), 14), series("ZZ-AIR-JS01", on(7, 8), 14)
    year = series("ZZ-AIR-JS01", on(1), 365)
    assert 45 < mean(january, "pm25") < 75 and 8 < mean(july, "pm25") < 25
    assert 30 < mean(year, "pm25") <= 40, "the plan's target: an annual PM2.5 mean of 40 at most"
    assert mean([r for r in january if local_hour(r) in (0, 1, 2)], "pm25") > mean(
        [r for r in january if local_hour(r) in (13, 14, 15)], "pm25"
    )
    summer_afternoons = [r for r in july if local_hour(r) in (14, 15, 16)]
    assert mean(summer_afternoons, "o3") > 120 and max(r.values["o3"] for r in summer_afternoons) < 300
    assert mean([r for r in january if local_hour(r) in (14, 15, 16)], "o3") < 60
    weekdays = [r for r in july if r.ts.astimezone(CHINA_STANDARD_TIME).weekday() < 5]
    assert mean([r for r in weekdays if local_hour(r) == 8], "no2") > 1.2 * mean(
        [r for r in weekdays if local_hour(r) == 3], "no2"
    )
    for reading in year[:500]:
        assert reading.values["pm10"] > reading.values["pm25"] * 0.8 and 0.2 < reading.values["co"] < 3


def test_noise_stays_under_its_zones_limits_with_traffic_peaks() -> None:
    readings = series("ZZ-NOI-JS01", on(10), 28, TEN_MINUTES)  # zone 1: 55 by day, 45 by night
    nights: dict[object, list[float]] = {}
    for reading in readings:
        if is_night(reading.ts):
            nights.setdefault(night_of(reading.ts), []).append(reading.values["laeq"])
    leqs = [
        10 * math.log10(math.fsum(10 ** (level / 10) for level in levels) / len(levels))
        for levels in nights.values()
    ]
    assert min(leqs) > 39 and max(leqs) < 45, "every night compliant, none far below the limit"
    days = [r for r in readings if not is_night(r.ts)]
    assert 48 < mean(days, "laeq") < 55
    rush = [r for r in days if local_hour(r) == 8 and r.ts.astimezone(CHINA_STANDARD_TIME).weekday() < 5]
    assert mean(rush, "laeq") > mean([r for r in days if local_hour(r) == 13], "laeq") + 1
    assert max(r.values["lmax"] for r in readings if is_night(r.ts)) < 45 + 15, "no sudden noise at night"
    assert all(r.values["lmax"] > r.values["laeq"] for r in readings[:1000])


def test_groundwater_falls_through_spring_and_recovers_with_the_rains() -> None:
    well: Station = STATIONS["ZZ-GW-JWT01"]
    year = series(well.id, on(1), 365, timedelta(hours=6))
    by_month = {r.ts.month: r.values["level"] for r in year}
    assert by_month[3] > by_month[5] > by_month[6] < by_month[8] < by_month[10]
    assert well.warning_level is not None and min(r.values["level"] for r in year) > well.warning_level + 0.3
    assert all(abs(r.values["level"] + r.values["depth"] - (well.warning_level + 39.6)) < 1e-6 for r in year)


def test_vocs_follow_the_working_day_and_ammonia_the_plants_load() -> None:
    vocs = series("ZZ-VOC-SJ01", on(10, 5), 14, TEN_MINUTES)  # a Monday
    working = [
        r for r in vocs if r.ts.astimezone(CHINA_STANDARD_TIME).weekday() < 5 and 9 <= local_hour(r) < 17
    ]
    assert mean(working, "nmhc") > 1.5 * mean([r for r in vocs if local_hour(r) in (1, 2, 3)], "nmhc")
    assert max(r.values["nmhc"] for r in vocs) < 6, "under GB 37822's hourly limit (10 mg/m³), with room"
    scr, sncr = series("ZZ-NH3-XY01", on(10), 14, TEN_MINUTES), series("ZZ-NH3-GY01", on(10), 14, TEN_MINUTES)
    assert 0.6 < mean(scr, "nh3") < 1.4 and max(r.values["nh3"] for r in scr) < 2.5  # HJ 562: SCR 2.5
    assert 2.2 < mean(sncr, "nh3") < 4.5 and max(r.values["nh3"] for r in sncr) < 8  # HJ 563: SNCR 8
    assert mean([r for r in scr if 10 <= local_hour(r) < 20], "nh3") > mean(
        [r for r in scr if 0 <= local_hour(r) < 6], "nh3"
    )


def test_two_autumn_days_of_the_whole_fleet_raise_no_alert() -> None:
    """Stays quiet when nothing is wrong. The year-to-date PM2.5 rule is left out: two days are
    not a year, and a district's mean of them may sit on either side of its target."""
    catalogue = load_catalogue(SHIPPED)
    catalogue = catalogue.model_copy(
        update={"fleet_rules": [rule for rule in catalogue.fleet_rules if rule.id != "district.pm25.ytd"]}
    )
    start = on(10, 12)
    readings = list(baseline(STATIONS.values(), start, start + timedelta(days=2), TEN_MINUTES, seed=7))
    judged = judge_offline(catalogue, STATIONS, readings, start + timedelta(days=2))
    assert judged.transitions == []
    assert len({r.station for r in readings}) == len(STATIONS) == 39
