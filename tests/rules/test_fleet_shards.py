"""The fleet's bookkeeping: how many shards its facts wait in, and which it drops once closed."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from envalert.core.contract import CHINA_STANDARD_TIME
from rules import figures
from rules.derived import Facts, StationDay, StationHour, StationNight
from rules.fleet import FleetState, Gathered, prune, shards_for

H0 = datetime(2026, 12, 1, 8, tzinfo=CHINA_STANDARD_TIME)
D0 = date(2026, 12, 1)


@pytest.mark.parametrize(("stations", "shards"), [(0, 1), (1, 1), (500, 1), (501, 2), (1000, 2), (1001, 3)])
def test_a_shard_holds_up_to_500_stations(stations: int, shards: int) -> None:
    assert shards_for(stations) == shards


def hour(at: datetime) -> StationHour:
    return StationHour(station="A", district="金水区", hour=at, means={"pm25": 30}, aqi=43, primary=[])


def day(on: date) -> StationDay:
    return StationDay(station="A", district="金水区", day=on, means={"pm25": 30}, aqi=43)


def night(on: date) -> StationNight:
    return StationNight(station="N", district="金水区", night=on, leq=44, limit=45)


def test_a_shard_drops_the_periods_closed_up_to_and_including_the_last_one() -> None:
    later = H0 + timedelta(hours=1)
    gathered = Gathered(
        hours={H0: {"A": hour(H0)}, later: {"A": hour(later)}},
        days={D0: {"A": day(D0)}, D0 + timedelta(days=1): {"A": day(D0 + timedelta(days=1))}},
        nights={D0: {"N": night(D0)}, D0 + timedelta(days=1): {"N": night(D0 + timedelta(days=1))}},
    )
    prune(gathered, FleetState(closed_hour=H0, closed_day=D0 + timedelta(days=1), closed_night=D0))
    assert (list(gathered.hours), list(gathered.days), list(gathered.nights)) == (
        [later],
        [],
        [D0 + timedelta(days=1)],
    )


def test_facts_are_something_when_they_hold_an_hour_a_day_or_a_night() -> None:
    assert not Facts()
    assert Facts(hours=[hour(H0)]) and Facts(days=[day(D0)]) and Facts(nights=[night(D0)])


def test_a_late_reading_is_a_figure_of_its_station_count_so_far_at_its_time() -> None:
    figure = figures.late_reading("ZZ-AIR-JS01", 3, H0)
    assert (figure.measurement, figure.tags, figure.fields, figure.at) == (
        "late_readings",
        {"station": "ZZ-AIR-JS01"},
        {"late": 3},
        H0,
    )
