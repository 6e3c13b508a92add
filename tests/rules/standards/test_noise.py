"""GB 3096-2008 with hand-worked values: zone limits and periods in Beijing time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from envalert.core.contract import CHINA_STANDARD_TIME
from envalert.core.stations import NoiseZone
from rules.standards.noise import is_night, limit, night_end, night_of

Z = NoiseZone


def cst(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 7, day, hour, minute, tzinfo=CHINA_STANDARD_TIME)


@pytest.mark.parametrize(
    ("zone", "day", "night"),
    [(Z.Z0, 50, 40), (Z.Z1, 55, 45), (Z.Z2, 60, 50), (Z.Z3, 65, 55), (Z.Z4A, 70, 55), (Z.Z4B, 70, 60)],
)
def test_zone_limits_by_day_and_by_night(zone: NoiseZone, day: float, night: float) -> None:
    assert limit(zone, cst(1, 12)) == day
    assert limit(zone, cst(1, 23)) == night


def test_zone_4b_beside_an_existing_railway_line_has_its_own_night_limit() -> None:
    assert limit(Z.Z4B, cst(1, 23), "existing") == 55 and limit(Z.Z4B, cst(1, 23), "new") == 60
    assert limit(Z.Z4B, cst(1, 12), "existing") == 70


@pytest.mark.parametrize(
    ("when", "night"),
    [
        (cst(1, 21, 59), False),
        (cst(1, 22, 0), True),
        (cst(2, 5, 59), True),
        (cst(2, 6, 0), False),
        # 14:30 UTC is 22:30 in Beijing: night, whatever offset the reading came with.
        (datetime(2026, 7, 1, 14, 30, tzinfo=UTC), True),
        (datetime(2026, 7, 1, 9, 0, tzinfo=timezone(timedelta(hours=-5))), True),  # 22:00 CST
    ],
)
def test_night_is_22_to_6_beijing_time(when: datetime, night: bool) -> None:
    assert is_night(when) is night


def test_a_night_is_named_by_its_evening_and_ends_at_six() -> None:
    assert night_of(cst(1, 23)) == date(2026, 7, 1)
    assert night_of(cst(2, 3)) == date(2026, 7, 1)
    assert night_of(cst(2, 6)) == date(2026, 7, 2)
    assert night_end(date(2026, 7, 1)) == cst(2, 6)
