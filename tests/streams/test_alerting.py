"""Rules judged live in the worker: readings over MQTT become transitions on Kafka and in InfluxDB."""

from __future__ import annotations

import json
import random
import time
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from envalert.core.contract import CHINA_STANDARD_TIME, EPOCH, Kind, Reading
from envalert.core.stations import Station
from ingest.publisher import publish_readings
from rules.catalogue import load_catalogue
from rules.offline import judge_offline
from tests.conftest import (
    Pipeline,
    Services,
    judged_live,
    judged_offline,
    kafka_records,
    kill,
    wait_until,
)
from tests.streams.fleets import DISTRICTS, LATENESS, a_day_is_a_year, a_day_of, fleet_of

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
    # VOC-1 and GW-1 stop at 03:40 while NOI-1 goes on, each on its own partition: once theirs
    # are idle, their clock follows NOI-1's and their silence is noticed.
    pipeline = pipeline_factory(FAMILIES, ENVALERT_IDLE_SECONDS="3")
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
            # The city's only zoned noise station failed its first night: compliance 0 % (then 50 %).
            ("city.noise.night-compliance", "郑州市", "firing", "warning", at(6)),
            ("vocs.nmhc.single", "VOC-1", "firing", "critical", at(1 + 40 / 60)),
            ("vocs.nmhc.single", "VOC-1", "resolved", "critical", at(2)),
            ("vocs.nmhc.1h", "VOC-1", "firing", "warning", at(2)),
            ("vocs.nmhc.1h", "VOC-1", "resolved", "warning", at(3)),
            ("groundwater.level.low", "GW-1", "firing", "warning", at(1 + 20 / 60)),
            ("groundwater.level.low", "GW-1", "resolved", "warning", at(2 + 40 / 60)),
            ("dq.silent", "VOC-1", "firing", "warning", at(3 + 40 / 60 + 0.5)),
            ("dq.silent", "VOC-1", "firing", "critical", at(3 + 40 / 60 + 2)),
            ("dq.silent", "GW-1", "firing", "warning", at(3 + 40 / 60 + 0.5)),
            ("dq.silent", "GW-1", "firing", "critical", at(3 + 40 / 60 + 2)),
        ]
    )
    wait_until(lambda: len(story()) >= len(expected), 90, f"the {len(expected)} transitions")
    assert story() == expected
    assert stored_alerts(services, len(expected)) == {(r, s, st) for r, s, st, _, _ in expected}
    # Figures: each night's Leq against zone 1's 45 dB(A), and the city's compliance rate.
    nights = wait_until(
        lambda: len(found := services.influx_query("SELECT * FROM noise_night")) >= 3 and found,
        30,
        "3 nights",
    )
    assert [(row["station"], row["compliant"], round(row["leq"])) for row in nights] == [
        ("NOI-1", False, 48),
        ("NOI-1", False, 48),
        ("NOI-1", True, 40),
    ]
    rates = wait_until(
        lambda: len(found := services.influx_query("SELECT * FROM noise_compliance")) >= 3 and found,
        30,
        "rates",
    )
    assert [(row["area"], round(row["rolling_rate"], 1), row["assessed"]) for row in rates] == [
        ("郑州市", 0.0, 1),
        ("郑州市", 0.0, 1),
        ("郑州市", 33.3, 1),
    ]


def arrival(readings: list[Reading], mode: str) -> tuple[list[Reading], float | None]:
    """The order the readings are published in, and the pace (messages/s; None: flat out)."""
    if mode == "out of order":
        rng = random.Random(5)  # each reading up to 25 min (event time) behind its turn
        jittered = sorted(readings, key=lambda r: r.ts + timedelta(minutes=rng.uniform(0, 25)))
        return jittered, None
    return readings, 600.0 if mode == "paced" else None


KILLED = ("worker killed halfway", "Kafka and the worker killed halfway")


@pytest.mark.parametrize("mode", ["paced", "flat out", "out of order", *KILLED])
def test_a_day_of_a_50_station_fleet_is_judged_live_exactly_as_offline(
    services: Services, pipeline_factory: Callable[..., Pipeline], mode: str, tmp_path: Path
) -> None:
    """24 h of 50 stations of every kind (10 of each): whether paced, flat out, out of order within the
    allowed lateness, with the worker SIGKILLed halfway and restarted, or with Kafka SIGKILLed
    halfway and the worker with it (the second half published while both are down; the worker's
    tables then exist only in Kafka's log on disk), every reading is stored once, and the worker's
    distinct transitions (stations and city) and the city's hourly AQI are exactly those of the
    offline judgement of the same readings."""
    fleet = fleet_of(50)
    readings = a_day_of(fleet, START - timedelta(days=7))
    rules = a_day_is_a_year(tmp_path)
    pipeline = pipeline_factory(
        fleet, ENVALERT_ALLOWED_LATENESS_SECONDS=str(LATENESS.total_seconds()), ENVALERT_RULES_FILE=str(rules)
    )
    pipeline.start_all()
    ordered, rate = arrival(readings, mode)
    started = time.monotonic()
    if mode in KILLED:
        half = len(ordered) // 2
        publish_readings(services.mqtt_settings(), ordered[:half])
        city = "SELECT aqi FROM aqi_hourly WHERE \"scope\" = 'city'"
        wait_until(lambda: len(services.influx_query(city)) >= 3, 60, "the city's first hours closed")
        if mode.startswith("Kafka"):
            kill(services.kafka)
        pipeline.kill("worker")
        publish_readings(services.mqtt_settings(), ordered[half:])
        services.kafka.start()
        pipeline.start("worker")
    else:
        publish_readings(services.mqtt_settings(), ordered, rate=rate)
    published = time.monotonic() - started

    stations = {sid: Station(id=sid, **attrs) for sid, attrs in fleet.items()}  # type: ignore[arg-type]
    offline = judge_offline(load_catalogue(rules), stations, readings, readings[-1].ts - LATENESS)
    expected = judged_offline(offline.transitions)

    fleet_rules = {t[0] for t in expected if t[1] in {"郑州市", *DISTRICTS}}
    assert len(expected) > 300 and len(fleet_rules) >= 3, "the day should give plenty to judge"
    wait_until(
        lambda: len(judged_live(services)) >= len(expected),
        180,
        f"{len(expected)} transitions on Kafka alerts",
    )
    judged = time.monotonic() - started
    assert judged_live(services) == expected

    city_hours = {
        (figure.at, figure.fields["aqi"])
        for figure in offline.figures
        if figure.measurement == "aqi_hourly" and figure.tags["scope"] == "city"
    }
    assert len(city_hours) == 24

    def stored_city_hours() -> set[tuple[object, ...]]:
        rows = services.influx_query("SELECT aqi FROM aqi_hourly WHERE \"scope\" = 'city'")
        return {(at_ns(row["time"]), row["aqi"]) for row in rows}

    wait_until(lambda: len(stored_city_hours()) >= 24, 60, "the city's 24 hourly AQI in InfluxDB")
    assert stored_city_hours() == city_hours
    wait_until(lambda: len(services.points()) >= len(readings), 60, f"{len(readings)} readings in InfluxDB")
    assert len(services.points()) == len(readings)
    if mode not in KILLED:  # after a restart, readings judged but not committed come again
        assert services.influx_query("SELECT * FROM late_readings") == [], "nothing came later than allowed"
    records = len(kafka_records(services.kafka_bootstrap, "alerts"))
    print(
        f"\n{mode}: {len(readings)} readings published in {published:.1f} s, "
        f"{len(expected)} transitions ({len(fleet_rules)} fleet rules) all judged after {judged:.1f} s; "
        f"{records} records on alerts"
    )


def stored_alerts(services: Services, count: int) -> set[tuple[str, str, str]]:
    """(rule, subject, state) of the points in InfluxDB measurement alerts, once there are ``count``
    (one per transition: a transition sent twice lands on the same series and time)."""
    rows = wait_until(
        lambda: len(found := services.influx_query("SELECT * FROM alerts")) >= count and found,
        60,
        f"{count} points in InfluxDB measurement alerts",
    )
    assert len(rows) == count
    return {(row["rule"], row["subject"], row["state"]) for row in rows}


def at_ns(nanoseconds: int) -> datetime:
    return (EPOCH + timedelta(microseconds=nanoseconds // 1000)).astimezone(CHINA_STANDARD_TIME)


AIR_AND_QUALITY = {
    "AIR-1": {
        "kind": "air",
        "name": "市监测站",
        "district": "金水区",
        "operator": "郑州市生态环境监测中心",
        "instrument_ranges": {"pm25": [0, 1000]},
    },
    "NOI-2": {
        "kind": "noise",
        "name": "文化路居住区",
        "district": "金水区",
        "zone": "1",
        "operator": "运维公司",
    },
}


def air_and_noise_night() -> list[Reading]:
    """Eight hours from midnight, every 10 minutes: heavy PM2.5 01:00–03:00, maintenance flags
    04:00–05:30, one over-range reading at 06:00; a night-time Lmax spike at 01:00 and a noise
    level stuck at 42.0 from 02:00 to 04:00."""
    readings = []
    for step in range(8 * 6 + 1):
        at = FAMILY_START + timedelta(minutes=10 * step)
        wobble = 0.5 if step % 2 else -0.5
        pm25 = 200.0 if 1 <= at.hour < 3 else 40.0 + wobble
        air_flags = {"pm25": "M"} if 4 <= at.hour < 5 or (at.hour == 5 and at.minute < 30) else {}
        if at.hour == 6 and at.minute == 0:
            air_flags = {"pm25": "T"}
        readings.append(
            Reading(
                station="AIR-1",
                kind=Kind.AIR,
                ts=at,
                values={"pm25": pm25, "o3": 30 + wobble},
                flags=air_flags,
            )
        )
        laeq = 42.0 if 2 <= at.hour < 4 else 40.0 + wobble
        lmax = 70.0 if (at.hour, at.minute) == (1, 0) else 50.0 + wobble
        readings.append(Reading(station="NOI-2", kind=Kind.NOISE, ts=at, values={"laeq": laeq, "lmax": lmax}))
    return readings


def test_air_sudden_noise_and_data_quality_episodes_over_mqtt(
    services: Services, pipeline_factory: Callable[..., Pipeline]
) -> None:
    """Each of these families fires and resolves, and the worker judges exactly what the offline
    judgement of the same readings does; a reading later than the allowed lateness is stored and
    counted, not judged."""
    readings = air_and_noise_night()
    pipeline = pipeline_factory(AIR_AND_QUALITY)
    pipeline.start_all()
    publish_readings(services.mqtt_settings(), readings)
    stations = {sid: Station(id=sid, **attrs) for sid, attrs in AIR_AND_QUALITY.items()}  # type: ignore[arg-type]
    offline = judge_offline(load_catalogue(), stations, readings, readings[-1].ts - timedelta(seconds=60))
    expected = {(t.rule, t.subject, t.state, t.severity, t.at) for t in offline.transitions}
    fired_and_resolved = {(rule, state) for rule, _, state, _, _ in expected}
    for rule in ["air.aqi.heavy", "noise.night.sudden", "dq.flagged", "dq.out-of-range", "dq.stuck.noise"]:
        assert {(rule, "firing"), (rule, "resolved")} <= fired_and_resolved, rule

    def live() -> set[tuple[object, ...]]:
        return {(e.rule, e.subject, e.state, e.severity, e.event_time) for e in services.alert_events()}

    wait_until(lambda: len(live()) >= len(expected), 90, f"{len(expected)} transitions")
    assert live() == expected
    assert stored_alerts(services, len(expected)) == {(r, s, st) for r, s, st, _, _ in expected}

    at = FAMILY_START + timedelta(hours=1, minutes=5)
    late = Reading(station="AIR-1", kind=Kind.AIR, ts=at, values={"pm25": 900.0})
    publish_readings(services.mqtt_settings(), [late])
    counted = wait_until(
        lambda: services.influx_query("SELECT * FROM late_readings"), 30, "the late reading counted"
    )
    assert [(row["station"], row["late"]) for row in counted] == [("AIR-1", 1)]
    # Stored by another agent than the one that counted it: it may come a little later.
    stored = wait_until(
        lambda: services.influx_query(f"SELECT pm25 FROM air WHERE time = '{late.ts.isoformat()}'"),
        30,
        "the late reading stored",
    )
    assert [row["pm25"] for row in stored] == [900.0]
    assert live() == expected, "and not judged"

    def metrics() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{pipeline.web_port}/metrics", timeout=10) as page:
            return page.read().decode()

    # Every reading once, the late one too, counted when InfluxDB has acknowledged it.
    stored_line = f'envalert_points_stored_total{{what="readings"}} {len(readings) + 1}.0'
    wait_until(lambda: stored_line in metrics(), 30, stored_line)
    assert "envalert_late_readings_total 1.0" in metrics()
    assert 'envalert_alert_transitions_total{rule="dq.flagged",state="firing"}' in metrics()
