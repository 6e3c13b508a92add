"""The demo's incidents over the baseline: each fires its rule and is over before the end."""

from __future__ import annotations

from datetime import datetime, timedelta

from ingest.contract import CHINA_STANDARD_TIME, Reading
from ingest.stations import load_stations
from rules.catalogue import load_catalogue
from rules.offline import judge_offline
from simulators.generators import baseline
from simulators.incidents import with_incidents
from streams.settings import DEFAULT_STATIONS

START = datetime(2026, 11, 20, 14, 0, tzinfo=CHINA_STANDARD_TIME)  # daytime: no night-noise rules
STEP = timedelta(minutes=1)


def demo_readings(start: datetime) -> list[Reading]:
    stations = load_stations(DEFAULT_STATIONS)
    return with_incidents(list(baseline(stations.values(), start, start + 30 * STEP, STEP)), start, STEP)


def test_each_incident_fires_and_resolves_within_the_demo() -> None:
    stations = load_stations(DEFAULT_STATIONS)
    readings = demo_readings(START)
    judged = judge_offline(load_catalogue(), stations, readings, readings[-1].ts - timedelta(seconds=60))
    story = sorted({(t.rule, t.subject, t.state) for t in judged.transitions})
    assert story == [
        ("dq.out-of-range", "ZZ-AIR-JS01", "firing"),
        ("dq.out-of-range", "ZZ-AIR-JS01", "resolved"),
        ("dq.stuck.vocs", "ZZ-VOC-SJ01", "firing"),
        ("dq.stuck.vocs", "ZZ-VOC-SJ01", "resolved"),
        ("groundwater.level.low", "ZZ-GW-JWT01", "firing"),
        ("groundwater.level.low", "ZZ-GW-JWT01", "resolved"),
        ("vocs.nmhc.single", "ZZ-VOC-SJ01", "firing"),
        ("vocs.nmhc.single", "ZZ-VOC-SJ01", "resolved"),
    ]


def test_at_night_the_pile_driver_is_sudden_noise() -> None:
    stations = load_stations(DEFAULT_STATIONS)
    readings = demo_readings(START.replace(hour=23))
    judged = judge_offline(load_catalogue(), stations, readings, readings[-1].ts - timedelta(seconds=60))
    noise = [(t.rule, t.subject, t.state, t.value) for t in judged.transitions if t.rule.startswith("noise")]
    assert noise == [
        ("noise.night.sudden", "ZZ-NOI-GC01", "firing", 86.0),
        ("noise.night.sudden", "ZZ-NOI-GC01", "resolved", noise[-1][3]),
    ]
    assert noise[-1][3] < 70 - 3


def test_the_baseline_alone_raises_nothing_by_day_or_night() -> None:
    stations = load_stations(DEFAULT_STATIONS)
    for start in (START, START.replace(hour=23)):
        readings = list(baseline(stations.values(), start, start + 30 * STEP, STEP))
        judged = judge_offline(load_catalogue(), stations, readings, readings[-1].ts - timedelta(seconds=60))
        assert judged.transitions == [], start
