"""Kafka plumbing on a real broker: a topic created after a producer started must not strand the
records it already holds for other topics, a reader reads to each partition's end, and topics
are made with their retention."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError

from envalert.core import compat
from envalert.core.kafka import ensure_topics, read_topic, topic_config
from envalert.core.settings import KafkaSettings
from tests.conftest import Services

pytestmark = pytest.mark.integration


def test_a_topic_created_after_start_does_not_strand_records_for_a_known_topic(services: Services) -> None:
    settings = KafkaSettings(kafka_bootstrap=services.kafka_bootstrap)
    compat.apply()

    async def send_across_a_new_topic() -> None:
        await ensure_topics(settings, ["known"])
        # The record lingers in the producer while the new topic's metadata is fetched.
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=1000)
        await producer.start()
        try:
            held = await producer.send("known", b"held while the view changes")
            await ensure_topics(settings, ["created-later"])
            later = await producer.send("created-later", b"first record of a new topic")
            await asyncio.wait_for(asyncio.gather(held, later), timeout=10)
        finally:
            await producer.stop()

    asyncio.run(send_across_a_new_topic())


def test_a_topic_is_read_to_the_last_record_of_its_last_batch(services: Services) -> None:
    settings = KafkaSettings(kafka_bootstrap=services.kafka_bootstrap)

    async def batches_of_several() -> list[bytes | None]:
        await ensure_topics(settings, ["batched"])
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=50)
        await producer.start()
        try:
            for size in (10, 5):  # two batches in partition 0, one record in partition 1
                sent = [await producer.send("batched", b"%d" % i, partition=0) for i in range(size)]
                await asyncio.gather(*sent)
            await producer.send_and_wait("batched", b"alone", partition=1)
        finally:
            await producer.stop()
        return [record.value for record in await read_topic(settings.kafka_bootstrap, "batched")]

    read = asyncio.run(batches_of_several())
    assert sorted(read, key=str) == sorted([b"%d" % i for i in (*range(10), *range(5))] + [b"alone"], key=str)


def test_each_topic_is_created_with_its_retention(services: Services) -> None:
    """Readings by size only: their records carry the readings' own times, which a replay of old
    data would have deleted by a time limit as soon as a segment closed."""
    settings = KafkaSettings(kafka_bootstrap=services.kafka_bootstrap, readings_retention_mb=3)

    async def created() -> dict[str, dict[str, str]]:
        await ensure_topics(settings, ["readings", "readings.rejected", "alerts"])
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        await admin.start()
        try:
            described = await admin.describe_configs(
                [
                    ConfigResource(ConfigResourceType.TOPIC, name)
                    for name in ("readings", "readings.rejected", "alerts")
                ]
            )
        finally:
            await admin.close()
        return {
            name: {key: value for key, value, *_ in entries if key.startswith("retention")}
            for response in described
            for _, _, _, name, entries in response.resources
        }

    assert asyncio.run(created()) == {
        "readings": {"retention.ms": "-1", "retention.bytes": str(3 << 20)},
        "readings.rejected": {"retention.ms": str(30 * 86_400_000), "retention.bytes": str(256 << 20)},
        "alerts": {"retention.ms": str(7 * 86_400_000), "retention.bytes": str(256 << 20)},
    }


def test_a_topic_kafka_refuses_to_create_is_an_error_naming_it(services: Services) -> None:
    settings = KafkaSettings(kafka_bootstrap=services.kafka_bootstrap)
    with pytest.raises(KafkaError, match="Kafka refused to create topic 'no spaces allowed'"):
        asyncio.run(ensure_topics(settings, ["no spaces allowed"]))


def test_an_existing_topic_is_left_as_it_is_with_a_warning_where_its_retention_differs(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    """As a cluster whose topics were made before, or by its broker's defaults, may have them: an
    operator may have chosen so, and only a person should change it."""
    settings = KafkaSettings(kafka_bootstrap=services.kafka_bootstrap)
    week = str(7 * 86_400_000)

    async def made_elsewhere_then_ensured() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        await admin.start()
        try:
            await admin.create_topics(
                [
                    NewTopic("readings", 1, 1, topic_configs={"retention.ms": week}),
                    NewTopic("alerts", 1, 1, topic_configs=topic_config(settings, "alerts")),
                ]
            )
        finally:
            await admin.close()
        await ensure_topics(settings, ["readings", "alerts"])

    with caplog.at_level(logging.WARNING, logger="envalert.core.kafka"):
        asyncio.run(made_elsewhere_then_ensured())
    (warning,) = [record.getMessage() for record in caplog.records if record.name == "envalert.core.kafka"]
    assert "Kafka topic readings keeps retention.ms=604800000" in warning
    assert "retention.ms=-1" in warning and f"retention.bytes={1024 << 20}" in warning
    assert "kafka-configs.sh" in warning, "and says how to change it"
