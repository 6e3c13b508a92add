"""The figures of one station as the stream writes them: measurement, tags, fields and time."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from envalert.core.contract import CHINA_STANDARD_TIME
from rules.derived import StationDay, StationHour, StationNight
from rules.figures import Figure, Scope, area_tags, station_day, station_hour, station_night

HOUR = datetime(2026, 7, 1, 14, tzinfo=CHINA_STANDARD_TIME)
DAY = date(2026, 7, 1)
MIDNIGHT = datetime(2026, 7, 1, tzinfo=CHINA_STANDARD_TIME)


@pytest.mark.parametrize(
    ("scope", "area", "district", "tags"),
    [
        ("station", "JS01", "金水区", {"scope": "station", "area": "JS01", "district": "金水区"}),
        ("district", "金水区", None, {"scope": "district", "area": "金水区"}),
        ("city", "郑州市", "", {"scope": "city", "area": "郑州市"}),
    ],
)
def test_an_area_is_tagged_by_its_scope_and_name_and_a_station_also_by_its_district(
    scope: Scope, area: str, district: str | None, tags: dict[str, str]
) -> None:
    assert area_tags(scope, area, district) == tags


def test_a_station_hour_is_its_aqi_its_means_and_every_primary_pollutant() -> None:
    fact = StationHour(
        station="ZZ-AIR-JS01",
        district="金水区",
        hour=HOUR,
        means={"pm25": 120.0, "pm10": 190.0},
        aqi=158,
        primary=["pm25", "pm10"],
    )
    assert station_hour(fact) == Figure(
        measurement="aqi_hourly",
        tags={"scope": "station", "area": "ZZ-AIR-JS01", "district": "金水区"},
        fields={"aqi": 158, "pm25": 120.0, "pm10": 190.0, "primary": "pm25,pm10"},
        at=HOUR,
    )


def test_a_station_hour_without_an_aqi_is_published_as_not_valid_with_what_lacked_data() -> None:
    fact = StationHour(
        station="ZZ-AIR-JS01",
        district="金水区",
        hour=HOUR,
        means={},
        aqi=None,
        primary=[],
        lacking=["o3", "pm25"],
    )
    assert station_hour(fact) == Figure(
        measurement="aqi_hourly",
        tags={"scope": "station", "area": "ZZ-AIR-JS01", "district": "金水区"},
        fields={"valid": False, "lacking": "o3,pm25"},
        at=HOUR,
    )


@pytest.mark.parametrize(
    ("o3_means", "o3_max_1h", "o3_max_8h", "o3_fields"),
    [
        ({"o3": 90.0}, 210.0, 168.5, {"o3_max_1h": 210.0, "o3_max_8h": 168.5}),
        ({"o3": 90.0}, 210.0, None, {"o3_max_1h": 210.0}),
        ({"o3": 90.0}, None, 168.5, {"o3_max_8h": 168.5}),
        ({"o3": 90.0}, None, None, {}),
        ({}, None, None, {}),
    ],
)
def test_a_station_day_gives_o3_as_its_maxima_that_exist_instead_of_its_24h_mean(
    o3_means: dict[str, float], o3_max_1h: float | None, o3_max_8h: float | None, o3_fields: dict[str, float]
) -> None:
    fact = StationDay(
        station="ZZ-AIR-JS01",
        district="金水区",
        day=DAY,
        means={"pm25": 40.5, **o3_means},
        o3_max_1h=o3_max_1h,
        o3_max_8h=o3_max_8h,
        aqi=58,
    )
    assert station_day(fact) == Figure(
        measurement="aqi_daily",
        tags={"scope": "station", "area": "ZZ-AIR-JS01", "district": "金水区"},
        fields={"aqi": 58, "pm25": 40.5, **o3_fields},
        at=MIDNIGHT,
    )


@pytest.mark.parametrize(("leq", "published", "compliant"), [(44.126, 44.13, True), (45.004, 45.0, False)])
def test_a_station_night_is_its_leq_to_two_decimals_against_its_limit_at_22h(
    leq: float, published: float, compliant: bool
) -> None:
    fact = StationNight(station="ZZ-NOI-JS01", district="金水区", night=DAY, leq=leq, limit=45)
    assert station_night(fact) == Figure(
        measurement="noise_night",
        tags={"station": "ZZ-NOI-JS01", "district": "金水区"},
        fields={"leq": published, "limit": 45.0, "compliant": compliant},
        at=datetime(2026, 7, 1, 22, tzinfo=CHINA_STANDARD_TIME),
    )
