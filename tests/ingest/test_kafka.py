"""Kafka plumbing on a real broker: a topic created after a producer started must not strand the
records it already holds for other topics, and a reader finds a partition's true end."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition

from ingest.kafka import ensure_topics, fetched_ends, read_topic, track_every_sent_topic
from ingest.settings import KafkaSettings
from tests.conftest import Services

pytestmark = pytest.mark.integration


def test_a_topic_created_after_start_does_not_strand_records_for_a_known_topic(services: Services) -> None:
    settings = KafkaSettings(kafka_bootstrap=services.kafka_bootstrap)
    track_every_sent_topic()

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


def test_a_partition_ends_after_the_last_record_of_its_last_batch(services: Services) -> None:
    """Tansu lists the end of a partition as one past the first record of its last batch."""
    settings = KafkaSettings(kafka_bootstrap=services.kafka_bootstrap)

    async def batches_of_several() -> dict[TopicPartition, int]:
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
        return await fetched_ends(settings.kafka_bootstrap, [TopicPartition("batched", p) for p in range(3)])

    ends = asyncio.run(batches_of_several())
    assert ends == {
        TopicPartition("batched", 0): 15,
        TopicPartition("batched", 1): 1,
        TopicPartition("batched", 2): 0,
    }
    assert len(asyncio.run(read_topic(settings.kafka_bootstrap, "batched"))) == 16
