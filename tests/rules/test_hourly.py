"""The hourly (real-time) AQI as HJ 633-2012 reports it, from a station's closed hours."""

from __future__ import annotations

from rules.hourly import ClosedHour, hourly_aqi
from rules.standards.aqi import AqiResult, Averaging, Pollutant


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
