"""Kafka plumbing shared by the bridge and the worker: topics, metadata, a producer, a patient send."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import Collection
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaError

from ingest.contract import RejectedMessage
from ingest.settings import KafkaSettings

log = logging.getLogger(__name__)


async def ensure_topics(settings: KafkaSettings, names: list[str]) -> None:
    """Create the topics that do not exist yet; existing ones are left as they are."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name, num_partitions=settings.topic_partitions, replication_factor=1)
            for name in names
            if name not in existing
        ]
        if missing:
            await admin.create_topics(missing)
            log.info("created Kafka topics %s", ", ".join(topic.name for topic in missing))
    finally:
        await admin.close()


def track_every_sent_topic() -> None:
    """Make every aiokafka client keep the metadata of each topic it has sent to, as Java's does.

    aiokafka tracks a topic only if its first send finds it missing from the cluster view. A topic
    known from the all-topics fetch at start is not tracked, so the first fetch for a new topic
    forgets it: its batches then have no leader and wait for their expiry (Faust: 20 min). In CI
    the worker's changelog writes stopped for minutes after its first send to ``ticks`` or
    ``alerts``, created after the worker started (docs/PERFORMANCE.md, "the producer stall")."""
    wait_on_metadata = AIOKafkaClient._wait_on_metadata
    if getattr(wait_on_metadata, "tracks_sent_topics", False):
        return

    async def wait_and_track(client: AIOKafkaClient, topic: str) -> Any:
        partitions = await wait_on_metadata(client, topic)
        client.add_topic(topic)  # a no-op once tracked
        return partitions

    wait_and_track.tracks_sent_topics = True  # type: ignore[attr-defined]
    AIOKafkaClient._wait_on_metadata = wait_and_track


def group_session(settings: KafkaSettings) -> tuple[float, float]:
    """A consumer group member's session timeout and heartbeat interval, in seconds. Tansu makes a
    join wait half the session and a restart after a kill the whole of it, so every start of a
    test's worker or notifier pays it: 3 s there. Real Kafka refuses less than 6 s."""
    return (3.0, 1.0) if settings.kafka_broker == "tansu" else (6.0, 2.0)


def make_producer(settings: KafkaSettings) -> AIOKafkaProducer:
    # Idempotent producers fail on Tansu, and at-least-once needs only acks from all replicas.
    track_every_sent_topic()
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        enable_idempotence=False,
        linger_ms=2,
    )


async def send_until_acked(
    producer: AIOKafkaProducer,
    topic: str,
    *,
    key: bytes,
    value: bytes,
    timestamp_ms: int,
    order: asyncio.Lock | None = None,
    max_backoff: float = 30.0,
) -> None:
    """Send one record and wait for the broker's ack, retrying with backoff while Kafka is away.

    Callers that share ``order`` (a FIFO lock taken in arrival order) hand their records to the
    producer in that order, so the records of a partition keep it; the acks are awaited outside.
    """
    backoff = 0.2
    while True:
        try:
            async with order or contextlib.nullcontext():
                sent = await producer.send(topic, value=value, key=key, timestamp_ms=timestamp_ms)
            await sent
            return
        except KafkaError as error:
            log.warning(
                "Kafka did not accept a record for %s (%s); retrying in %.1f s",
                topic,
                error,
                backoff,
            )
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, max_backoff)


def rejected_record(
    topic: str, payload: bytes, *, reason: str, detail: str, received_at: datetime, source: str
) -> bytes:
    try:
        text: str | None = payload.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return (
        RejectedMessage(
            topic=topic,
            reason=reason,
            detail=detail,
            payload_base64=base64.b64encode(payload).decode("ascii"),
            payload_text=text,
            received_at=received_at,
            source=source,
        )
        .model_dump_json()
        .encode()
    )


async def read_topic(bootstrap: str, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of a topic, from the beginning to its current end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        ends = await fetched_ends(bootstrap, partitions)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[ConsumerRecord[bytes, bytes]] = []
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            batch = await consumer.getmany(timeout_ms=1000)
            records += [record for part in batch.values() for record in part]
        return records
    finally:
        await consumer.stop()


#: The longest a fetch may take to say where partitions end.
FETCHED_ENDS_SECONDS = 15.0


async def fetched_ends(
    bootstrap: str | list[str], partitions: Collection[TopicPartition]
) -> dict[TopicPartition, int]:
    """Where each partition ends, as a fetch says. Tansu lists a partition's end (ListOffsets) as
    one past the first record of its last batch, not of its last record (INFRA.md): a reader that
    stops there misses the rest of that batch; Faust's table recovery did. A fetch's high
    watermark is right; on Kafka both agree."""
    if not partitions:
        return {}
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await probe.start()
    try:
        listed: dict[TopicPartition, int] = await probe.end_offsets(list(partitions))
        probe.assign(list(listed))
        for tp, end in listed.items():
            probe.seek(tp, max(end - 1, 0))
        async with asyncio.timeout(FETCHED_ENDS_SECONDS):
            while unknown := [tp for tp in listed if probe.highwater(tp) is None]:
                await probe.getmany(*unknown, timeout_ms=100, max_records=1)
        return {tp: max(end, probe.highwater(tp)) for tp, end in listed.items()}
    finally:
        await probe.stop()
