"""Data-quality rules: silent stations, instruments flagged too long, out of range, stuck values."""

from __future__ import annotations

from datetime import timedelta

import pytest

from envalert.core.contract import Flag, Kind
from rules.model import Catalogue
from tests.rules.conftest import T0, Run, every, reading, station

MINUTE = timedelta(minutes=1)


def test_a_silent_station_warns_escalates_and_its_next_reading_clears(catalogue: Catalogue) -> None:
    run = Run(catalogue, "dq.silent", station(Kind.VOCS))
    run.feed([reading(Kind.VOCS, T0, nmhc=1.0)])
    run.tick(T0 + 29 * MINUTE)
    assert run.story() == []
    run.tick(T0 + 30 * MINUTE).tick(T0 + 119 * MINUTE).tick(T0 + 120 * MINUTE)
    run.feed([reading(Kind.VOCS, T0 + 121 * MINUTE, nmhc=1.0)])
    assert run.story() == [("firing", "warning"), ("firing", "critical"), ("resolved", "critical")]
    assert run.transitions[0].value == 30 and run.transitions[0].started_at == T0 + 30 * MINUTE


def test_a_silent_station_is_measured_on_the_event_clock_only(catalogue: Catalogue) -> None:
    run = Run(catalogue, "dq.silent", station(Kind.AIR))
    run.tick(T0 + timedelta(days=3))  # never heard from: nothing to measure yet
    run.feed(reading(Kind.AIR, at, pm25=30) for at in every(T0, 10 * MINUTE, 12))
    run.tick(T0 + 110 * MINUTE + 29 * MINUTE)
    assert run.story() == []


def test_an_instrument_flagged_too_long(catalogue: Catalogue) -> None:
    run = Run(catalogue, "dq.flagged", station(Kind.AIR))
    flagged = {"pm25": Flag.MAINTENANCE}
    run.feed(reading(Kind.AIR, at, flags=flagged, pm25=30, o3=50) for at in every(T0, 10 * MINUTE, 6))
    assert run.story() == []  # 50 minutes so far
    run.feed([reading(Kind.AIR, T0 + 60 * MINUTE, flags={"pm25": Flag.FAULT}, pm25=30)])
    run.tick(T0 + 240 * MINUTE)
    run.feed([reading(Kind.AIR, T0 + 241 * MINUTE, pm25=30)])
    assert run.story() == [("firing", "warning"), ("firing", "critical"), ("resolved", "critical")]


def test_a_break_in_the_flags_restarts_the_count_and_s_is_not_watched(catalogue: Catalogue) -> None:
    run = Run(catalogue, "dq.flagged", station(Kind.NOISE))
    run.feed(
        reading(Kind.NOISE, at, flags={"laeq": Flag.CALIBRATION}, laeq=50) for at in every(T0, 10 * MINUTE, 5)
    )
    run.feed([reading(Kind.NOISE, T0 + 50 * MINUTE, laeq=50)])
    run.feed(
        reading(Kind.NOISE, at, flags={"laeq": Flag.CALIBRATION}, laeq=50)
        for at in every(T0 + 60 * MINUTE, 10 * MINUTE, 6)
    )
    run.feed(
        reading(Kind.NOISE, at, flags={"laeq": Flag.MANUAL}, laeq=50)
        for at in every(T0 + 120 * MINUTE, 10 * MINUTE, 12)
    )
    assert run.story() == []


def test_a_value_outside_the_instruments_range(catalogue: Catalogue) -> None:
    site = station(Kind.AIR, instrument_ranges={"pm25": (0.0, 1000.0)})
    run = Run(catalogue, "dq.out-of-range", site)
    run.feed(
        [
            reading(Kind.AIR, T0, pm25=1000),
            reading(Kind.AIR, T0 + MINUTE, pm25=1000.5),
            reading(Kind.AIR, T0 + 2 * MINUTE, pm25=500),
            reading(Kind.AIR, T0 + 3 * MINUTE, flags={"o3": Flag.OVER_RANGE}, pm25=500, o3=400),
        ]
    )
    assert run.story() == [("firing", "warning"), ("resolved", "warning"), ("firing", "warning")]
    assert run.transitions[0].window == "outside the instrument's range: pm25"


@pytest.mark.parametrize(
    ("kind", "metric"), [(Kind.AIR, "pm25"), (Kind.NOISE, "laeq"), (Kind.VOCS, "nmhc"), (Kind.AMMONIA, "nh3")]
)
def test_a_stuck_value(catalogue: Catalogue, kind: Kind, metric: str) -> None:
    rule = f"dq.stuck.{kind.value}"
    quiet = Run(catalogue, rule, station(kind))
    quiet.feed(reading(kind, at, **{metric: 1.5}) for at in every(T0, MINUTE, 11))
    quiet.feed([reading(kind, T0 + 11 * MINUTE, **{metric: 1.6})])
    assert quiet.story() == []
    stuck = Run(catalogue, rule, station(kind))
    stuck.feed(reading(kind, at, **{metric: 1.5}) for at in every(T0, MINUTE, 15))
    stuck.feed([reading(kind, T0 + 15 * MINUTE, **{metric: 1.6})])
    assert stuck.story() == [("firing", "warning"), ("resolved", "warning")]
    assert stuck.transitions[0].at == T0 + 11 * MINUTE


def test_hours_lacking_data_raise_a_data_quality_alert_naming_the_window(catalogue: Catalogue) -> None:
    """Three clock hours in a row with data but too little of it (30 of 60 minutes) warn, so that
    the missing judgement is seen; a whole hour clears it."""
    run = Run(catalogue, "dq.insufficient", station(Kind.AIR))
    for hour in range(3):
        run.feed(
            reading(Kind.AIR, at, pm25=30 + hour)
            for at in every(T0 + hour * timedelta(hours=1), timedelta(minutes=1), 30)
        )
    assert run.tick(T0 + 2 * timedelta(hours=1)).story() == []
    assert run.tick(T0 + 3 * timedelta(hours=1)).story() == [("firing", "warning")]
    firing = run.transitions[0]
    assert (firing.value, firing.window) == (3, "hours lacking data to 2026-07-01 03:00: pm25")
    run.feed(
        reading(Kind.AIR, at, pm25=40) for at in every(T0 + 3 * timedelta(hours=1), timedelta(minutes=1), 60)
    )
    assert run.tick(T0 + 4 * timedelta(hours=1)).story() == [("firing", "warning"), ("resolved", "warning")]


def test_hours_lacking_data_count_only_in_a_row(catalogue: Catalogue) -> None:
    """An hour with no data at all breaks the run: that is silence, dq.silent's business."""
    run = Run(catalogue, "dq.insufficient", station(Kind.AIR))
    for hour in (0, 2, 3):
        start = T0 + hour * timedelta(hours=1)
        run.feed(reading(Kind.AIR, at, pm25=30 + hour) for at in every(start, timedelta(minutes=1), 30))
    assert run.tick(T0 + timedelta(hours=4)).story() == []
    assert [t.value for t in run.transitions] == []
