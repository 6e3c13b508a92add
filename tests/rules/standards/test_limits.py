"""GB 3095-2012, HJ 562/563-2010 and GB 37822-2019 limits, at and on both sides of each value."""

from __future__ import annotations

import pytest

from rules.standards.aqi import Averaging, Pollutant
from rules.standards.limits import AMBIENT_ANNUAL, AMBIENT_CLASS_II, AMMONIA_SLIP, Limit, nmhc_limits

A = Averaging
P = Pollutant


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ((P.PM25, A.DAY), 75),
        ((P.PM10, A.DAY), 150),
        ((P.SO2, A.DAY), 150),
        ((P.SO2, A.HOUR), 500),
        ((P.NO2, A.DAY), 80),
        ((P.NO2, A.HOUR), 200),
        ((P.CO, A.DAY), 4),
        ((P.CO, A.HOUR), 10),
        ((P.O3, A.EIGHT_HOURS), 160),
        ((P.O3, A.HOUR), 200),
    ],
)
def test_gb3095_class_ii_limits_are_maxima(key: tuple[Pollutant, Averaging], value: float) -> None:
    limit = AMBIENT_CLASS_II[key]
    assert limit.value == value
    assert not limit.broken_by(value) and limit.broken_by(value + 0.1) and not limit.broken_by(value - 0.1)


def test_gb3095_annual_limits() -> None:
    assert {p: limit.value for p, limit in AMBIENT_ANNUAL.items()} == {
        P.SO2: 60,
        P.NO2: 40,
        P.PM10: 70,
        P.PM25: 35,
    }


@pytest.mark.parametrize(
    ("unit", "value", "source"), [("SCR", 2.5, "HJ 562-2010"), ("SNCR", 8.0, "HJ 563-2010")]
)
def test_ammonia_slip_must_stay_below_the_value(unit: str, value: float, source: str) -> None:
    limit: Limit = AMMONIA_SLIP[unit]  # type: ignore[index]
    assert limit.value == value and source in limit.source
    assert limit.broken_by(value), "'less than 2.5' means 2.5 itself is too much"
    assert not limit.broken_by(value - 0.01) and limit.broken_by(value + 0.01)


@pytest.mark.parametrize(("special", "hourly", "single"), [(False, 10, 30), (True, 6, 20)])
def test_nmhc_limits_normal_and_special(special: bool, hourly: float, single: float) -> None:
    hour_limit, single_limit = nmhc_limits(special)
    assert (hour_limit.value, single_limit.value) == (hourly, single)
    assert not hour_limit.broken_by(hourly) and hour_limit.broken_by(hourly + 0.1)
    assert not single_limit.broken_by(single) and single_limit.broken_by(single + 0.1)
    for limit in (hour_limit, single_limit):
        assert (limit.unit, limit.source) == ("mg/m³", "GB 37822-2019 appendix A")
