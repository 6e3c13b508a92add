"""The hourly (real-time) AQI as HJ 633-2012 reports it, from a station's closed hours."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rules.hourly import Cadence, ClosedHour, hourly_aqi, ms, period_start
from rules.standards.aqi import AqiResult, Averaging, Pollutant
from tests.rules.conftest import T0


def day_of(means: dict[str, float]) -> tuple[AqiResult, list[float]]:
    """The 24th hour's AQI after 23 hours of the same means."""
    history: list[float] = []
    for hour in range(24):
        result, history = hourly_aqi(ClosedHour(hour * 3_600_000, dict(means)), history)
    return result, history


def test_so2_counts_by_its_one_hour_value_below_800() -> None:
    """The hourly AQI once always took the SO2 24 h mean's IAQI: SO2 140 and PM2.5 20 every hour
    gave 95 (良, primary SO2) where HJ 633-2012 gives 47 (优, no primary pollutant)."""
    result, _ = day_of({"so2": 140.0, "pm25": 20.0})
    assert (result.aqi, result.primary) == (47, ())
    assert (Pollutant.SO2, Averaging.DAY) not in result.iaqi


def test_so2_above_800_in_an_hour_falls_back_to_its_24_hour_mean() -> None:
    result, history = day_of({"so2": 900.0, "pm25": 20.0})
    assert len(history) == 24
    # SO2 24 h mean 900: between 800 (IAQI 200) and 1600 (IAQI 300) → 200 + 100 × 100 / 800 = 212.5
    assert result.iaqi == {(Pollutant.PM25, Averaging.DAY): 29, (Pollutant.SO2, Averaging.DAY): 213}
    assert (result.aqi, result.primary) == (213, (Pollutant.SO2,))


@pytest.mark.parametrize(
    ("so2", "averaging", "index"),
    [
        # HJ 633-2012 gives SO2 1 h an IAQI up to 800 µg/m³ (IAQI 200); only above it the 24 h mean.
        (700.0, Averaging.HOUR, 167),  # 150 + 50 × 50 / 150 = 166.7
        (800.0, Averaging.HOUR, 200),
        (800.5, Averaging.DAY, 201),  # the 24 h mean 800.5 → 200 + 100 × 0.5 / 800 = 200.06 → 201
    ],
)
def test_so2_falls_back_to_its_24_hour_mean_only_above_800(
    so2: float, averaging: Averaging, index: int
) -> None:
    result, _ = day_of({"so2": so2})
    assert result.iaqi == {(Pollutant.SO2, averaging): index}


def test_the_24_hour_mean_of_so2_is_of_the_last_24_hours_only() -> None:
    """The 25th hour back (100) has left the mean: 24 hours of 900 give 213, not 209."""
    result, history = hourly_aqi(ClosedHour(0, {"so2": 900.0}), [100.0] + [900.0] * 23)
    assert history == [900.0] * 24
    assert result.iaqi == {(Pollutant.SO2, Averaging.DAY): 213}


def test_the_usual_gap_is_the_median_and_a_reading_at_the_same_time_is_no_gap() -> None:
    cadence = Cadence()
    for minutes in (0, 0, 0, 1, 3, 6, 10, 15):  # gaps 1, 2, 3, 4 and 5 minutes
        cadence.saw(minutes * 60_000)
    assert cadence.gaps == [60_000, 120_000, 180_000, 240_000, 300_000]
    assert cadence.usual() == 180_000


def test_an_hour_or_a_day_starts_on_its_whole_hour_or_midnight() -> None:
    at = T0 + timedelta(hours=13, minutes=5, microseconds=1500)
    assert period_start(at) == ms(T0 + timedelta(hours=13))
    assert period_start(at, timedelta(days=1)) == ms(T0)
