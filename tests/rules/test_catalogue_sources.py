"""Noise, ammonia slip, VOCs and groundwater rules on hand-made readings: fire, escalate, clear, quiet."""

from __future__ import annotations

from datetime import timedelta

import pytest

from envalert.core.contract import Kind
from envalert.core.stations import NoiseZone
from rules.model import Catalogue
from tests.rules.conftest import T0, Run, every, reading, station

HOUR = timedelta(hours=1)
NIGHT = T0 + timedelta(hours=22)  # 2026-07-01 22:00 Beijing time


def night_of_noise(run: Run, start: timedelta, laeq: float) -> Run:
    """A night's readings every 30 min from 22:00 to 05:30, a noisy day after it, then 06:00 passes."""
    begin = T0 + start + timedelta(hours=22)
    run.feed(reading(Kind.NOISE, at, laeq=laeq) for at in every(begin, timedelta(minutes=30), 16))
    run.feed(reading(Kind.NOISE, at, laeq=75) for at in every(begin + timedelta(hours=9), HOUR, 3))
    return run


def test_night_leq_above_the_zone_limit_fires_at_six_and_a_good_night_clears(catalogue: Catalogue) -> None:
    zone1 = station(Kind.NOISE, zone=NoiseZone.Z1)  # night limit 45 dB(A)
    run = night_of_noise(Run(catalogue, "noise.night.leq", zone1), timedelta(0), 46)
    assert run.story() == [("firing", "warning")]
    fired = run.transitions[0]
    assert (round(fired.value, 6), fired.threshold, fired.window) == (46, 45, "night of 2026-07-01")
    assert fired.at == T0 + timedelta(days=1, hours=6)
    night_of_noise(run, timedelta(days=1), 44)
    assert run.story() == [("firing", "warning"), ("resolved", "warning")]


def test_night_leq_at_the_limit_is_quiet_and_the_tick_closes_a_night(catalogue: Catalogue) -> None:
    zone4b = station(Kind.NOISE, zone=NoiseZone.Z4B, railway="new")  # night limit 60
    run = Run(catalogue, "noise.night.leq", zone4b)
    run.feed(reading(Kind.NOISE, at, laeq=60) for at in every(NIGHT, timedelta(minutes=30), 16))
    run.tick(T0 + timedelta(days=1, hours=6))
    assert run.story() == []
    louder = Run(catalogue, "noise.night.leq", zone4b)
    louder.feed(reading(Kind.NOISE, at, laeq=61) for at in every(NIGHT, timedelta(minutes=30), 16))
    assert louder.story() == []
    louder.tick(T0 + timedelta(days=1, hours=5, minutes=59))
    assert louder.story() == []
    louder.tick(T0 + timedelta(days=1, hours=6))
    assert louder.story() == [("firing", "warning")]


def test_sudden_night_noise(catalogue: Catalogue) -> None:
    zone4a = station(Kind.NOISE, zone=NoiseZone.Z4A)  # night 55: Lmax above 70 is sudden noise
    run = Run(catalogue, "noise.night.sudden", zone4a)
    run.feed(
        [
            reading(Kind.NOISE, T0 + timedelta(hours=12), lmax=95),  # by day: not judged
            reading(Kind.NOISE, NIGHT, lmax=70),
            reading(Kind.NOISE, NIGHT + HOUR, lmax=70.1),
            reading(Kind.NOISE, NIGHT + 2 * HOUR, lmax=68),  # within 3 dB of 70: still firing
            reading(Kind.NOISE, NIGHT + 3 * HOUR, lmax=66),
        ]
    )
    assert run.story() == [("firing", "warning"), ("resolved", "warning")]
    assert run.transitions[0].threshold == 70


def hours_of_nh3(run: Run, means: list[float]) -> Run:
    for hour, value in enumerate(means):
        run.feed(
            reading(Kind.AMMONIA, at, nh3=value) for at in every(T0 + hour * HOUR, timedelta(minutes=15), 4)
        )
    return run.tick(T0 + len(means) * HOUR)


def test_ammonia_slip_on_an_scr_unit(catalogue: Catalogue) -> None:
    scr = station(Kind.AMMONIA, unit_type="SCR")
    run = hours_of_nh3(Run(catalogue, "ammonia.slip.1h", scr), [2.49, 2.5, 5.0, 1.0])
    assert run.story() == [("firing", "warning"), ("firing", "critical"), ("resolved", "critical")]
    assert [t.threshold for t in run.transitions] == [2.5, 5.0, 2.5]


def test_ammonia_slip_on_an_sncr_unit(catalogue: Catalogue) -> None:
    sncr = station(Kind.AMMONIA, unit_type="SNCR")
    assert hours_of_nh3(Run(catalogue, "ammonia.slip.1h", sncr), [7.99, 2.5, 5.0]).story() == []
    assert hours_of_nh3(Run(catalogue, "ammonia.slip.1h", sncr), [8.0, 16.0, 7.0]).story() == [
        ("firing", "warning"),
        ("firing", "critical"),
        ("resolved", "critical"),
    ]


def test_ammonia_rules_skip_a_unit_of_unknown_type(catalogue: Catalogue) -> None:
    with pytest.raises(AssertionError, match="does not apply"):
        Run(catalogue, "ammonia.slip.1h", station(Kind.AMMONIA))


@pytest.mark.parametrize(("special", "limit"), [(False, 10.0), (True, 6.0)])
def test_nmhc_hourly_mean(catalogue: Catalogue, special: bool, limit: float) -> None:
    site = station(Kind.VOCS, special_limits=special)
    run = Run(catalogue, "vocs.nmhc.1h", site)
    for hour, value in enumerate([limit, limit + 0.1, limit - 1]):
        run.feed(
            reading(Kind.VOCS, at, nmhc=value) for at in every(T0 + hour * HOUR, timedelta(minutes=20), 3)
        )
    run.tick(T0 + 3 * HOUR)
    assert run.story() == [("firing", "warning"), ("resolved", "warning")]
    assert run.transitions[0].threshold == limit


@pytest.mark.parametrize(("special", "limit"), [(False, 30.0), (True, 20.0)])
def test_nmhc_single_reading(catalogue: Catalogue, special: bool, limit: float) -> None:
    run = Run(catalogue, "vocs.nmhc.single", station(Kind.VOCS, special_limits=special))
    run.feed(
        reading(Kind.VOCS, at, nmhc=v)
        for at, v in zip(
            every(T0, timedelta(minutes=1), 5), [limit, limit + 0.5, limit - 4, limit - 6, limit], strict=True
        )
    )
    assert run.story() == [("firing", "critical"), ("resolved", "critical")]


def test_groundwater_below_the_warning_level(catalogue: Catalogue) -> None:
    well = station(Kind.GROUNDWATER, warning_level=60.0)
    run = Run(catalogue, "groundwater.level.low", well)
    run.feed(
        reading(Kind.GROUNDWATER, at, level=v)
        for at, v in zip(every(T0, HOUR, 5), [60.0, 59.9, 60.1, 60.3, 60.0], strict=True)
    )
    assert run.story() == [("firing", "warning"), ("resolved", "warning")]
    with pytest.raises(AssertionError, match="does not apply"):
        Run(catalogue, "groundwater.level.low", station(Kind.GROUNDWATER))  # no warning level: no rule


def falling(run: Run, per_day: float, days: float, start: float = 70.0) -> Run:
    steps = int(days * 4)
    return run.feed(
        reading(Kind.GROUNDWATER, at, level=start - per_day * index / 4)
        for index, at in enumerate(every(T0, timedelta(hours=6), steps + 1))
    )


def test_groundwater_falling_fast(catalogue: Catalogue) -> None:
    well = station(Kind.GROUNDWATER)
    assert falling(Run(catalogue, "groundwater.level.falling", well), 0.29, 4).story() == []
    warned = falling(Run(catalogue, "groundwater.level.falling", well), 0.4, 3)
    assert warned.story() == [("firing", "warning")]
    assert warned.transitions[0].at == T0 + timedelta(hours=36)  # half the 3-day window is needed
    assert warned.transitions[0].value == pytest.approx(-0.4)
    critical = falling(Run(catalogue, "groundwater.level.falling", well), 1.2, 2)
    critical.feed(
        reading(Kind.GROUNDWATER, T0 + timedelta(days=2, hours=6 * k), level=67.6) for k in range(1, 13)
    )
    assert critical.story() == [("firing", "critical"), ("firing", "warning"), ("resolved", "warning")]
