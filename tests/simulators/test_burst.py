"""The demo's burst and its incidents: each incident fires its rule and is over before the end."""

from __future__ import annotations

from datetime import datetime, timedelta

from ingest.contract import CHINA_STANDARD_TIME
from ingest.stations import load_stations
from rules.catalogue import load_catalogue
from rules.offline import judge_offline
from simulators.burst import burst, with_incidents
from streams.settings import DEFAULT_STATIONS

START = datetime(2026, 11, 20, 14, 0, tzinfo=CHINA_STANDARD_TIME)  # daytime: no night-noise rules
STEP = timedelta(minutes=1)


def test_each_incident_fires_and_resolves_within_the_burst() -> None:
    stations = load_stations(DEFAULT_STATIONS)
    readings = with_incidents(list(burst(list(stations.values()), START, 30, STEP)), START, STEP)
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


def test_the_burst_alone_raises_nothing_by_day() -> None:
    stations = load_stations(DEFAULT_STATIONS)
    readings = list(burst(list(stations.values()), START, 30, STEP))
    judged = judge_offline(load_catalogue(), stations, readings, readings[-1].ts - timedelta(seconds=60))
    assert judged.transitions == []
