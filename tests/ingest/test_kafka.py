"""The producer's view of the topics on a real broker: a topic created after a producer started
must not strand the records it already holds for other topics."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaProducer

from ingest.kafka import ensure_topics, track_every_sent_topic
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
