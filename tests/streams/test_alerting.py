"""Rules judged live in the worker: readings over MQTT become transitions on Kafka and in InfluxDB."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from ingest.contract import CHINA_STANDARD_TIME, METRICS, Kind, Reading
from ingest.stations import Station
from rules.catalogue import load_catalogue
from rules.evaluator import StationEvaluator
from rules.events import AlertEvent
from rules.timeline import Timeline, accept, advance
from simulators.publisher import publish_readings
from tests.conftest import Pipeline, Services, kafka_records, wait_until

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 27, 0, 0, tzinfo=CHINA_STANDARD_TIME)
SCR = {
    "NH3-1": {
        "kind": "ammonia",
        "name": "1号机组SCR出口",
        "district": "荥阳市",
        "unit_type": "SCR",
        "operator": "荥阳电厂",
    }
}


def hourly(means: list[float]) -> list[Reading]:
    """Four readings in each clock hour at that hour's value, and one more to close the last hour."""
    readings = [
        Reading(
            station="NH3-1",
            kind=Kind.AMMONIA,
            ts=START + timedelta(hours=hour, minutes=15 * quarter),
            values={"nh3": value},
        )
        for hour, value in enumerate(means)
        for quarter in range(4)
    ]
    closing = START + timedelta(hours=len(means), minutes=5)
    return [*readings, Reading(station="NH3-1", kind=Kind.AMMONIA, ts=closing, values={"nh3": 1.0})]


def test_an_ammonia_slip_episode_fires_escalates_and_resolves_exactly_once(
    services: Services, pipeline_factory: Callable[..., Pipeline]
) -> None:
    pipeline = pipeline_factory(SCR)
    pipeline.start_all()
    publish_readings(services.mqtt_settings(), hourly([2.4, 3.0, 6.0, 1.0]))

    def alerts() -> list[dict[str, object]]:
        return [json.loads(value or b"") for _, value in kafka_records(services.kafka_bootstrap, "alerts")]

    events = wait_until(
        lambda: len(found := alerts()) >= 3 and found, 60, "three transitions on Kafka alerts"
    )
    story = [
        (e["rule"], e["state"], e["severity"], e["value"], e["threshold"], e["event_time"]) for e in events
    ]
    assert story == [
        (
            "ammonia.slip.1h",
            "firing",
            "warning",
            3.0,
            2.5,
            "2026-11-27T02:00:00+08:00",
        ),
        (
            "ammonia.slip.1h",
            "firing",
            "critical",
            6.0,
            5.0,
            "2026-11-27T03:00:00+08:00",
        ),
        (
            "ammonia.slip.1h",
            "resolved",
            "critical",
            1.0,
            2.5,
            "2026-11-27T04:00:00+08:00",
        ),
    ]
    assert all(e["units"] == ["荥阳电厂", "市生态环境局荥阳市分局"] for e in events)
    assert {key for key, _ in kafka_records(services.kafka_bootstrap, "alerts")} == {b"ammonia.slip.1h/NH3-1"}

    rows = wait_until(
        lambda: len(found := services.influx_query("SELECT * FROM alerts")) >= 3 and found,
        60,
        "three points in InfluxDB measurement alerts",
    )
    assert [(row["state"], row["severity"], row["value"], row["threshold"]) for row in rows] == [
        ("firing", "warning", 3.0, 2.5),
        ("firing", "critical", 6.0, 5.0),
        ("resolved", "critical", 1.0, 2.5),
    ]
    assert all(row["subject"] == "NH3-1" and row["district"] == "荥阳市" for row in rows)
    assert len(alerts()) == 3, "nothing else was judged to happen"


def test_a_worker_killed_mid_episode_loses_no_transition(
    services: Services, pipeline_factory: Callable[..., Pipeline]
) -> None:
    pipeline = pipeline_factory(SCR)
    pipeline.start_all()
    readings = hourly([2.4, 3.0, 6.0, 1.0])
    publish_readings(services.mqtt_settings(), readings[:10])  # up to 02:15: the warning has fired
    wait_until(lambda: kafka_records(services.kafka_bootstrap, "alerts"), 60, "the first transition")
    pipeline.kill("worker")
    publish_readings(services.mqtt_settings(), readings[10:])
    pipeline.start("worker")

    def keys() -> list[str]:
        return [
            json.loads(value or b"")["key"] for _, value in kafka_records(services.kafka_bootstrap, "alerts")
        ]

    wait_until(lambda: len(set(keys())) >= 3, 90, "all three transitions after the restart")
    distinct = list(dict.fromkeys(keys()))
    assert [key.split("/")[2:4] for key in distinct] == [
        ["firing", "warning"],
        ["firing", "critical"],
        ["resolved", "critical"],
    ]
    print(
        f"\nworker killed mid-episode: {len(keys())} records on alerts, {len(distinct)} distinct transitions"
    )
    rows = wait_until(
        lambda: len(found := services.influx_query("SELECT * FROM alerts")) >= 3 and found,
        60,
        "alerts in InfluxDB",
    )
    assert len(rows) == 3


FAMILIES = {
    "NOI-1": {"kind": "noise", "name": "文化路居住区", "district": "金水区", "zone": "1"},
    "VOC-1": {"kind": "vocs", "name": "上街区装备产业集聚区", "district": "上街区", "operator": "管委会"},
    "GW-1": {"kind": "groundwater", "name": "九五滩1号井", "district": "惠济区", "warning_level": 60.0},
}


#: A week earlier than START, so that two and a half days of readings are all in the past.
FAMILY_START = START - timedelta(days=7)


def every_20_minutes(station: str, kind: Kind, metric: str, values: list[float]) -> list[Reading]:
    return [
        Reading(
            station=station,
            kind=kind,
            ts=FAMILY_START + timedelta(minutes=20 * index),
            values={metric: value},
        )
        for index, value in enumerate(values)
    ]


def test_noise_vocs_and_groundwater_episodes_over_mqtt(
    services: Services, pipeline_factory: Callable[..., Pipeline]
) -> None:
    """Two days of noise (a loud night, then a quiet one), a VOCs spike, a well dipping below its level."""

    def noise(index: int) -> float:
        at = (FAMILY_START + timedelta(minutes=20 * index)).hour
        night = at >= 22 or at < 6
        first_day = index < 3 * 24 + 18  # before the second morning, 06:00
        base = (48.0 if first_day else 40.0) if night else 53.0
        return base + (1 if index % 2 else -1)  # alternating, so never a stuck value

    # Until 06:40 on the third morning: a loud night from midnight, a loud night, a quiet night.
    readings = every_20_minutes("NOI-1", Kind.NOISE, "laeq", [noise(i) for i in range(3 * 24 * 2 + 21)])
    vocs = [1.0 + 0.1 * (i % 2) for i in range(12)]
    vocs[5] = 35.0  # 01:40: above 30 at once, and it lifts the 01:00–02:00 mean above 10
    readings += every_20_minutes("VOC-1", Kind.VOCS, "nmhc", vocs)
    readings += every_20_minutes(
        "GW-1", Kind.GROUNDWATER, "level", [61.0, 61.1] * 2 + [59.8, 59.9] * 2 + [60.5, 60.6] * 2
    )
    readings.sort(key=lambda reading: reading.ts)
    pipeline = pipeline_factory(FAMILIES)
    pipeline.start_all()
    publish_readings(services.mqtt_settings(), readings)

    def story() -> list[tuple[object, ...]]:
        events = [json.loads(value or b"") for _, value in kafka_records(services.kafka_bootstrap, "alerts")]
        return sorted(
            {
                (e["rule"], e["subject"], e["state"], e["severity"], datetime.fromisoformat(e["event_time"]))
                for e in events
            }
        )

    def at(hours: float) -> datetime:
        return FAMILY_START + timedelta(hours=hours)

    expected = sorted(
        [
            ("noise.night.leq", "NOI-1", "firing", "warning", at(6)),
            ("noise.night.leq", "NOI-1", "resolved", "warning", at(54)),
            ("vocs.nmhc.single", "VOC-1", "firing", "critical", at(1 + 40 / 60)),
            ("vocs.nmhc.single", "VOC-1", "resolved", "critical", at(2)),
            ("vocs.nmhc.1h", "VOC-1", "firing", "warning", at(2)),
            ("vocs.nmhc.1h", "VOC-1", "resolved", "warning", at(3)),
            ("groundwater.level.low", "GW-1", "firing", "warning", at(1 + 20 / 60)),
            ("groundwater.level.low", "GW-1", "resolved", "warning", at(2 + 40 / 60)),
        ]
    )
    wait_until(lambda: len(story()) >= len(expected), 90, "the eight transitions")
    assert story() == expected


def test_a_fleet_judged_live_matches_the_same_readings_judged_offline(
    services: Services, pipeline_factory: Callable[..., Pipeline]
) -> None:
    """20 stations of every kind, 12 hours every 10 minutes, values across their whole ranges:
    the worker's transitions are exactly those of the pure evaluator on the same readings."""
    kinds = list(Kind)
    attributes = {
        Kind.NOISE: {"zone": "2"},
        Kind.AMMONIA: {"unit_type": "SCR"},
        Kind.GROUNDWATER: {"warning_level": 100.0},
    }
    fleet = {
        f"F-{index:02d}": {
            "kind": kinds[index % 5].value,
            "name": f"站{index}",
            "district": "金水区",
            **attributes.get(kinds[index % 5], {}),
        }
        for index in range(20)
    }
    rng = random.Random(11)
    start = START - timedelta(days=7)
    readings = [
        Reading(
            station=station,
            kind=Kind(attrs["kind"]),
            ts=start + timedelta(minutes=10 * step),
            values={
                m: round(rng.uniform(spec.low, min(spec.high, spec.low + 300)), 2)
                for m, spec in METRICS[Kind(attrs["kind"])].items()
            },
        )
        for step in range(72)
        for station, attrs in fleet.items()
    ]
    pipeline = pipeline_factory(fleet)
    pipeline.start_all()
    publish_readings(services.mqtt_settings(), readings)

    catalogue = load_catalogue()
    offline: set[tuple[object, ...]] = set()
    end = readings[-1].ts - timedelta(seconds=60)  # the partitions' final watermark
    for station, attrs in fleet.items():
        evaluator = StationEvaluator(catalogue.rules, Station(id=station, **attrs))
        timeline = Timeline()
        for reading in (r for r in readings if r.station == station):
            accept(timeline, reading)
        offline |= {
            (t.rule, t.subject, t.state, t.severity, t.at, t.value) for t in advance(timeline, evaluator, end)
        }

    def live() -> set[tuple[object, ...]]:
        events = [
            AlertEvent.model_validate_json(value or b"")
            for _, value in kafka_records(services.kafka_bootstrap, "alerts")
        ]
        return {(e.rule, e.subject, e.state, e.severity, e.event_time, e.value) for e in events}

    assert len(offline) > 50, "the fleet should give plenty to judge"
    wait_until(lambda: len(live()) >= len(offline), 120, f"{len(offline)} transitions on Kafka alerts")
    assert live() == offline
    print(f"\nfleet judged live = offline: {len(offline)} distinct transitions from {len(readings)} readings")
