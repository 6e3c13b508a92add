"""Each shipped air rule fires, escalates and clears on hand-made readings, and stays quiet just under."""

from __future__ import annotations

from datetime import timedelta

from envalert.core.contract import Flag, Kind
from rules.model import Catalogue
from tests.rules.conftest import T0, Run, every, reading, station

AIR = station(Kind.AIR)
HOUR = timedelta(hours=1)


def hours_of_pm25(run: Run, means: list[float]) -> Run:
    """Three readings in each clock hour, all at that hour's value, then a tick closing the last hour."""
    for hour, value in enumerate(means):
        start = T0 + hour * HOUR
        run.feed(
            reading(Kind.AIR, at, pm25=value)
            for at in every(start + timedelta(minutes=5), timedelta(minutes=20), 3)
        )
    return run.tick(T0 + len(means) * HOUR)


def test_hourly_aqi_heavy_then_severe_then_clear(catalogue: Catalogue) -> None:
    # PM2.5 1 h → IAQI with the 24 h breakpoints: 151 → 201, 251 → 301, 140 → 186 (≤ 191 clears)
    run = hours_of_pm25(Run(catalogue, "air.aqi.heavy", AIR), [100, 151, 151, 251, 140])
    assert run.story() == [
        ("pending", "warning"),
        ("firing", "warning"),
        ("firing", "critical"),
        ("resolved", "critical"),
    ]
    firing = run.transitions[1]
    assert (firing.value, firing.threshold, firing.at) == (201, 201, T0 + 3 * HOUR)
    assert firing.window == "AQI of hour 2026-07-01 02:00–03:00" and firing.started_at == T0 + 2 * HOUR


def test_hourly_aqi_one_heavy_hour_is_not_sustained_and_200_is_quiet(catalogue: Catalogue) -> None:
    assert hours_of_pm25(Run(catalogue, "air.aqi.heavy", AIR), [151, 100, 150, 150, 150]).story() == [
        ("pending", "warning"),
        ("resolved", None),
    ]
    assert hours_of_pm25(Run(catalogue, "air.aqi.heavy", AIR), [150] * 6).story() == []


def test_pm25_24h_mean_warns_escalates_steps_down_and_clears(catalogue: Catalogue) -> None:
    """One reading an hour: each is its hour's value. The 24 h mean of hourly values is judged as
    each hour closes, once it holds 20 of them (GB 3095-2012 §6)."""
    run = Run(catalogue, "air.pm25.24h", AIR)
    hourly = [76.0] * 20 + [300.0] * 8 + [10.0] * 30
    run.feed(
        reading(Kind.AIR, at, pm25=value)
        for at, value in zip(every(T0, HOUR, len(hourly)), hourly, strict=True)
    )
    assert [(t.state, t.severity and t.severity.value, (t.at - T0) / HOUR) for t in run.transitions] == [
        ("firing", "warning", 20),  # 20th hour closed: mean 76 > 75 with the 20 hours it needs
        ("firing", "critical", 28),  # hours 4–27: (16·76 + 8·300)/24 = 150.7 > 150
        ("firing", "warning", 31),  # (13·76 + 8·300 + 3·10)/24 = 142.4 ≤ 150 − 5
        ("resolved", "warning", 48),  # hours 24–47: (4·300 + 20·10)/24 = 58.3 ≤ 75 − 5
    ]
    assert run.transitions[0].value == 76 and run.transitions[0].threshold == 75
    assert run.transitions[0].window == "24h mean of hourly values to 2026-07-01 20:00"


def test_pm25_24h_mean_at_the_limit_and_flagged_data_are_quiet(catalogue: Catalogue) -> None:
    run = Run(catalogue, "air.pm25.24h", AIR)
    run.feed(reading(Kind.AIR, at, pm25=75) for at in every(T0, HOUR, 30))
    run.feed(
        reading(Kind.AIR, at, flags={"pm25": Flag.CALIBRATION}, pm25=900)
        for at in every(T0 + 30 * HOUR, HOUR, 30)
    )
    assert run.story() == []


def test_o3_8h_mean(catalogue: Catalogue) -> None:
    run = Run(catalogue, "air.o3.8h", AIR)
    values = [161.0] * 6 + [300.0] * 8 + [100.0] * 8
    run.feed(reading(Kind.AIR, at, o3=v) for at, v in zip(every(T0, HOUR, len(values)), values, strict=True))
    assert run.story() == [
        ("firing", "warning"),
        ("firing", "critical"),
        ("firing", "warning"),
        ("resolved", "warning"),
    ]
    quiet = Run(catalogue, "air.o3.8h", AIR).feed(reading(Kind.AIR, at, o3=160) for at in every(T0, HOUR, 20))
    assert quiet.story() == []
