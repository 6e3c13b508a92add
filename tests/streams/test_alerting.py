"""Rules judged live in the worker: readings over MQTT become transitions on Kafka and in InfluxDB."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from ingest.contract import CHINA_STANDARD_TIME, Kind, Reading
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
        ("ammonia.slip.1h", "firing", "warning", 3.0, 2.5, "2026-11-27T02:00:00+08:00"),
        ("ammonia.slip.1h", "firing", "critical", 6.0, 5.0, "2026-11-27T03:00:00+08:00"),
        ("ammonia.slip.1h", "resolved", "critical", 1.0, 2.5, "2026-11-27T04:00:00+08:00"),
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
