"""Kafka under a steady stream: retention and compaction keep its log within what they allow,
its memory levels off, and nothing the worker still had to read is lost to them.

The broker is the local stack's, with segments of 1 MiB and topics of one partition that keep
1 MiB, so that retention and compaction apply within the minute this test can afford (`make
bench` soaks longer)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.footprint import FootprintSampler, Levels
from bench.soak import SMALL_RETENTION, SMALL_SEGMENTS
from envalert.command.host import free_port
from envalert.command.kafka_local import Kafka
from envalert.command.stack import ManagedService
from envalert.core.contract import Kind
from envalert.core.kafka import partitions_of
from envalert.core.stations import DEFAULT_STATIONS, load_stations
from ingest.publisher import publish_readings
from simulators.fleet import scaled
from simulators.generators import baseline
from tests.conftest import Pipeline, Services, wait_until

pytestmark = pytest.mark.integration

#: What the soak's settings let the log hold, in MB: each of the six topics one partition of 1 MiB
#: kept and 1 MiB being written, the compacted changelogs and Kafka's own topics a few MB more.
BOUND_MB = 6 * 2 * 1.05 + 5
HEAP_MB = 256
STATIONS = 50
START = datetime(2026, 11, 1, tzinfo=UTC)
#: The simulated fleet's readings (alerts are rare, as in life), each station's 10 min apart in
#: event time: within the first third of the run every station holds a day of samples, the longest
#: any rule keeps, so that the worker's state in Kafka's changelogs (compacted) stops growing too.
STEP = timedelta(minutes=10)
#: Readings per second, for a minute: well within the worker's pace, so that retention, which
#: deletes by size, never reaches a reading the worker has not read yet.
RATE = 400
SECONDS = 60


@pytest.fixture
def kafka_broker(tmp_path: Path) -> Iterator[ManagedService]:
    """This test's own broker, in place of the run's shared one."""
    small = Kafka(free_port(), free_port(), heap_mb=HEAP_MB, overrides=SMALL_SEGMENTS)
    broker = ManagedService(small, tmp_path / "kafka")
    broker.start()
    yield broker
    broker.stop()


def stored(services: Services) -> int:
    measurements = ",".join(kind.value for kind in Kind)
    rows = services.influx_query(f"SELECT count(*) FROM {measurements}")
    return sum(max((v or 0 for k, v in row.items() if k.startswith("count_")), default=0) for row in rows)


def test_a_minute_of_readings_leaves_kafka_flat_and_loses_none(
    services: Services, pipeline_factory: Callable[..., Pipeline]
) -> None:
    fleet = scaled(load_stations(DEFAULT_STATIONS), STATIONS)
    end = START + RATE * SECONDS // STATIONS * STEP
    sent = list(baseline(fleet.values(), START, end, STEP))
    stations = {sid: station.model_dump(mode="json", exclude={"id"}) for sid, station in fleet.items()}
    pipeline = pipeline_factory(
        stations,
        ENVALERT_TOPIC_PARTITIONS="1",
        **SMALL_RETENTION,
    )
    pipeline.start_all()
    assert services.kafka.pid
    sampler = FootprintSampler(services.kafka.pid, services.kafka.folder / "data")
    publish_readings(services.mqtt_settings(), sent, rate=RATE)
    wait_until(lambda: stored(services) >= len(sent), 120, f"{len(sent)} readings in InfluxDB")
    samples = sampler.stop()
    assert stored(services) == len(sent)

    levels = Levels.of(samples)
    print(f"\nKafka through a {SECONDS} s soak of {len(sent)} readings: {levels}")
    print(" ".join(f"{s.seconds:.0f}s:{s.resident_mb:.0f}MB/{s.disk_mb:.1f}MB" for s in samples))
    assert asyncio.run(first_kept(services.kafka_bootstrap, "readings")) > 0, "retention deleted nothing"
    assert levels.peak_disk_mb <= BOUND_MB, "Kafka's log held more than retention and compaction allow"
    assert levels.last_resident_mb <= 1.1 * levels.middle_resident_mb, "Kafka's memory kept growing"


async def first_kept(bootstrap: str, topic: str) -> int:
    """The offset of the oldest record Kafka still keeps of the topic (one partition)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        [partition] = await partitions_of(bootstrap, [topic])
        starts: dict[TopicPartition, int] = await consumer.beginning_offsets([partition])
        return starts[partition]
    finally:
        await consumer.stop()
