"""End to end on real services: MQTT → bridge → Kafka → Faust worker → InfluxDB."""

from __future__ import annotations

import asyncio
import random
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from envalert.core.contract import METRICS, Flag, Kind, Reading
from envalert.core.kafka import ensure_topics
from envalert.core.settings import KafkaSettings
from ingest.publisher import publish_readings
from tests.conftest import Pipeline, Services, kafka_records, wait_until
from tests.streams.test_alerting import SCR, hourly

pytestmark = pytest.mark.integration

DISTRICTS = [
    "金水区",
    "中原区",
    "二七区",
    "管城回族区",
    "惠济区",
    "郑东新区",
    "上街区",
    "新郑市",
    "荥阳市",
    "巩义市",
]
START = datetime(2026, 11, 28, 0, 0, tzinfo=UTC)


def fleet(size: int) -> dict[str, dict[str, Any]]:
    kinds = list(Kind)
    return {
        f"T-{index:03d}": {
            "kind": kinds[index % len(kinds)].value,
            "name": f"测试站 {index}",
            "district": DISTRICTS[index % len(DISTRICTS)],
        }
        for index in range(size)
    }


def readings(stations: dict[str, dict[str, Any]], per_station: int, seed: int = 7) -> list[Reading]:
    """Distinct, exactly representable values; every tenth reading carries a non-normal flag."""
    rng = random.Random(seed)
    made = []
    for step in range(per_station):
        for station, attrs in stations.items():
            kind = Kind(attrs["kind"])
            values = {
                metric: round(rng.uniform(spec.low, min(spec.high, spec.low + 500)), 3)
                for metric, spec in METRICS[kind].items()
            }
            flags = {next(iter(values)): Flag.CALIBRATION} if step % 10 == 0 else {}
            ts = START + timedelta(minutes=step, milliseconds=rng.randrange(1000))
            made.append(Reading(station=station, kind=kind, ts=ts, values=values, flags=flags))
    return made


def expected_row(reading: Reading, attrs: dict[str, Any]) -> dict[str, Any]:
    """The point a reading should be, tagged with its station's district (and zone, unit type)."""
    row: dict[str, Any] = {
        "measurement": reading.kind.value,
        "time": reading.epoch_ms * 1_000_000,
        "station": reading.station,
        **{tag: attrs[tag] for tag in ("district", "zone", "unit_type") if tag in attrs},
    }
    for metric, value in reading.values.items():
        row[metric] = value
        row[f"{metric}_flag"] = reading.flag(metric).value
    return row


def stored_rows(services: Services) -> dict[tuple[str, int], dict[str, Any]]:
    return {
        (row["station"], row["time"]): {key: value for key, value in row.items() if value is not None}
        for row in services.points()
    }


def assert_all_stored(services: Services, sent: list[Reading], stations: dict[str, dict[str, Any]]) -> None:
    stored = stored_rows(services)
    expected = {
        (reading.station, reading.epoch_ms * 1_000_000): expected_row(reading, stations[reading.station])
        for reading in sent
    }
    missing = expected.keys() - stored.keys()
    assert not missing, f"{len(missing)} readings missing, e.g. {sorted(missing)[:3]}"
    wrong = [key for key, row in expected.items() if stored[key] != row]
    assert not wrong, f"{len(wrong)} stored differently, e.g. {stored[wrong[0]]} != {expected[wrong[0]]}"
    assert len(stored) == len(expected), "InfluxDB holds readings that were never sent"


def test_ten_thousand_readings_from_fifty_stations_arrive_exactly(
    services: Services, pipeline_factory: Callable[..., Pipeline]
) -> None:
    stations = fleet(50)
    pipeline = pipeline_factory(stations)
    pipeline.start_all()
    sent = readings(stations, per_station=200)
    assert len(sent) == 10_000

    publish_readings(services.mqtt_settings(), sent)

    wait_until(lambda: len(services.points()) >= len(sent), 120, "10,000 points in InfluxDB")
    assert_all_stored(services, sent, stations)


async def produce(bootstrap: str, topic: str, key: bytes, value: bytes) -> None:
    await ensure_topics(KafkaSettings(kafka_bootstrap=bootstrap), [topic])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value=value, key=key)
    finally:
        await producer.stop()


async def produce_to(bootstrap: str, topic: str, partition: int, value: bytes) -> None:
    """One record on one partition of a topic the worker made, as a forger or an older version would."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value=value, key=b"forged", partition=partition)
    finally:
        await producer.stop()


class BackgroundPublisher:
    """Publishes a paced stream in a thread, so faults can strike while it flows."""

    def __init__(self, services: Services, sent: list[Reading], rate: float) -> None:
        self.published = 0
        self.finished_at = 0.0
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(services, sent, rate), daemon=True)
        self._thread.start()

    def _run(self, services: Services, sent: list[Reading], rate: float) -> None:
        try:
            publish_readings(services.mqtt_settings(), sent, on_sent=self._count, rate=rate)
            self.finished_at = time.monotonic()
        except BaseException as error:
            self.error = error
            raise

    def _count(self, sent: int) -> None:
        self.published = sent

    def join(self) -> None:
        self._thread.join(timeout=180)
        assert not self._thread.is_alive(), "the publisher did not finish"
        assert self.error is None, self.error


@dataclass
class FaultyRun:
    """The pipeline running while 6,000 readings from 30 stations are published at 400/s."""

    services: Services
    pipeline: Pipeline
    stations: dict[str, dict[str, Any]]
    sent: list[Reading]
    publisher: BackgroundPublisher

    def wait_storing(self) -> None:
        wait_until(lambda: len(self.services.points()) > 1000, 60, "the worker storing readings")

    def stop_influxdb(self) -> float:
        """Stop InfluxDB and wait until the worker noticed; return when it stopped."""
        self.services.influxd.stop()
        since = time.monotonic()
        log = self.pipeline.log("worker")
        wait_until(lambda: "InfluxDB unavailable" in log.read_text(), 30, "the worker noticing the outage")
        return since

    def assert_mid_stream(self) -> None:
        assert self.publisher.published < len(self.sent), "the fault struck after the stream ended"

    def recover_and_check(self, since: float) -> None:
        """Wait for every reading in InfluxDB, print the figures, and check each one."""
        self.publisher.join()
        total = len(self.sent)
        wait_until(lambda: len(self.services.points()) >= total, 120, f"all {total} points after the fault")
        caught_up = time.monotonic()
        in_kafka = kafka_records(self.services.kafka_bootstrap, "readings")
        print(
            f"\nrecovered: {total} readings sent, {len(self.services.points())} stored, "
            f"{len(in_kafka) - len(set(in_kafka))} duplicates on Kafka (collapsed by InfluxDB); "
            f"stream ended {self.publisher.finished_at - since:.1f} s after the fault, "
            f"all stored {caught_up - since:.1f} s after it"
        )
        assert_all_stored(self.services, self.sent, self.stations)


@pytest.fixture
def run(services: Services, pipeline_factory: Callable[..., Pipeline]) -> FaultyRun:
    stations = fleet(30)
    pipeline = pipeline_factory(stations)
    pipeline.start_all()
    sent = readings(stations, per_station=200)
    return FaultyRun(services, pipeline, stations, sent, BackgroundPublisher(services, sent, rate=400))


@pytest.mark.parametrize("process", ["worker", "bridge"])
def test_a_process_killed_mid_stream_loses_nothing(run: FaultyRun, process: str) -> None:
    run.wait_storing()
    run.pipeline.kill(process)
    since = time.monotonic()
    run.assert_mid_stream()
    run.pipeline.start(process)
    run.recover_and_check(since)


def test_influxdb_down_for_twenty_seconds_loses_nothing(run: FaultyRun) -> None:
    run.wait_storing()
    since = run.stop_influxdb()
    run.assert_mid_stream()
    wait_until(lambda: time.monotonic() - since >= 20, 25, "20 s of outage", poll=0.5)
    run.services.influxd.start()
    run.recover_and_check(since)
    assert "InfluxDB is back" in run.pipeline.log("worker").read_text()


def test_worker_killed_while_influxdb_is_down_loses_nothing(run: FaultyRun) -> None:
    """Offsets must not advance past readings that InfluxDB never took."""
    run.wait_storing()
    since = run.stop_influxdb()
    wait_until(lambda: run.publisher.published > 3000, 30, "readings piling up during the outage")
    run.pipeline.kill("worker")
    run.services.influxd.start()
    run.pipeline.start("worker")
    run.recover_and_check(since)


def test_what_the_worker_cannot_store_goes_to_the_dead_letter_topic(
    services: Services, pipeline_factory: Callable[..., Pipeline]
) -> None:
    """A record on `readings` that is no reading, and points InfluxDB refuses, are kept, not lost."""
    stations = fleet(5)
    pipeline = pipeline_factory(stations)
    # pm25 is already a string field in this shard: InfluxDB refuses float pm25 (field type conflict).
    conflict = f'air,station=OTHER pm25="broken" {START.timestamp():.0f}000000000'
    urllib.request.urlopen(f"{services.influx_url}/query?q=CREATE+DATABASE+envalert", data=b"").read()
    urllib.request.urlopen(f"{services.influx_url}/write?db=envalert", data=conflict.encode()).read()
    asyncio.run(produce(services.kafka_bootstrap, "readings", b"T-000", b'{"not": "a reading"}'))
    pipeline.start_all()
    sent = readings(stations, per_station=10)
    publish_readings(services.mqtt_settings(), sent)

    refused_air = [reading for reading in sent if "pm25" in reading.values]
    records = wait_until(
        lambda: len(found := services.rejected()) >= 1 + len(refused_air) and found,
        60,
        "the dead-letter records",
    )
    assert Counter(record["reason"] for record in records) == {
        "malformed_record": 1,
        "influx_refused": len(refused_air),
    }
    assert all(record["source"] == "worker:store_readings" for record in records)
    refused = [
        Reading.model_validate_json(record["excerpt_text"])
        for record in records
        if record["reason"] == "influx_refused"
    ]
    assert sorted(refused, key=lambda r: (r.station, r.ts)) == sorted(
        refused_air, key=lambda r: (r.station, r.ts)
    )
    assert all(
        "field type conflict" in record["detail"]
        for record in records
        if record["reason"] == "influx_refused"
    )
    # The refused readings are no sign that the rest is stored: the last ones may be in a later batch.
    expected = {(r.station, r.epoch_ms * 1_000_000) for r in sent if r not in refused_air}
    other = ("OTHER", int(START.timestamp()) * 10**9)
    wait_until(lambda: len(services.points()) >= len(expected) + 1, 60, f"{len(expected)} stored readings")
    stored = {(row["station"], row["time"]) for row in services.points()} - {other}
    assert stored == expected


@pytest.mark.hostile
def test_a_record_the_worker_cannot_judge_is_dead_lettered_and_judging_goes_on(
    services: Services, pipeline_factory: Callable[..., Pipeline]
) -> None:
    """A record the rules could not take was logged and acknowledged: lost to judging, unseen."""
    pipeline = pipeline_factory(SCR)
    pipeline.start_all()
    for partition in range(4):  # every partition: the one the worker reads its station's ticks on
        asyncio.run(produce_to(services.kafka_bootstrap, "ticks", partition, b"\x00 not a tick"))
    publish_readings(services.mqtt_settings(), hourly([6.0, 6.2]))
    wait_until(
        lambda: any(e.rule == "ammonia.slip.1h" and e.state == "firing" for e in services.alert_events()),
        90,
        "the ammonia-slip alert, judged after the forged ticks",
    )
    records = wait_until(
        lambda: (found := [r for r in services.rejected() if r["source"] == "worker:evaluate"]) and found,
        30,
        "the forged ticks in the dead-letter topic",
    )
    assert {(r["topic"], r["reason"]) for r in records} == {("ticks", "unreadable_record")}
    assert all(r["detail"] for r in records)
