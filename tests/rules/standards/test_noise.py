"""GB 3096-2008 with hand-worked values: zone limits, periods in Beijing time, Leq, sudden noise."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from ingest.contract import CHINA_STANDARD_TIME
from ingest.stations import NoiseZone
from rules.standards.noise import (
    compliance_rate,
    energy_average,
    exceeds,
    is_night,
    limit,
    night_end,
    night_of,
    sudden_noise,
)

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
    assert not exceeds(night, zone, cst(1, 23)) and exceeds(night + 0.1, zone, cst(1, 23))
    assert not exceeds(day, zone, cst(1, 12)) and exceeds(day + 0.1, zone, cst(1, 12))


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


def test_energy_average_by_hand() -> None:
    # Equal levels average to themselves.
    assert energy_average([50, 50, 50]) == pytest.approx(50)
    # 10·log10((10^5 + 10^6)/2) = 10·log10(550000) = 57.404
    assert energy_average([50, 60]) == pytest.approx(57.4036, abs=1e-4)
    # 10·log10((10^4.5 + 10^4.5 + 10^6.5)/3) = 10·log10(1075154.3) = 60.315
    assert energy_average([45, 45, 65]) == pytest.approx(60.3148, abs=1e-4)
    with pytest.raises(ValueError, match="no levels"):
        energy_average([])


def test_sudden_noise_is_more_than_15_above_the_night_limit() -> None:
    # zone 1 night limit 45: Lmax 60 is allowed, 60.1 is sudden noise; by day it is not judged.
    assert not sudden_noise(60, Z.Z1, cst(1, 23))
    assert sudden_noise(60.1, Z.Z1, cst(1, 23))
    assert not sudden_noise(90, Z.Z1, cst(1, 12))
    assert sudden_noise(75.1, Z.Z4B, cst(2, 2)) and not sudden_noise(75, Z.Z4B, cst(2, 2))


def test_compliance_rate() -> None:
    assert compliance_rate([True] * 17 + [False] * 3) == 0.85
    with pytest.raises(ValueError, match="no station-night"):
        compliance_rate([])
