"""Kafka plumbing shared by the bridge and the worker: topics, metadata, a producer, a patient send."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
from collections.abc import Iterable
from datetime import datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import (
    CorruptRecordException,
    InvalidTimestampError,
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    for_code,
)

from envalert.core.contract import EXCERPT_BYTES, RejectedMessage
from envalert.core.settings import KafkaSettings

log = logging.getLogger(__name__)


#: How long the dead-letter topic keeps what it holds (the only copy of a refused payload), and
#: how long every other topic but ``readings`` keeps its records (all of them also in InfluxDB).
REJECTED_RETENTION_DAYS = 30
EVENTS_RETENTION_DAYS = 7
DAY_MS = 86_400_000


def topic_config(settings: KafkaSettings, name: str) -> dict[str, str]:
    """The retention of one of the pipeline's topics, for Kafka's topic settings.

    A reading's record carries the reading's time, and Kafka deletes a closed segment by the
    newest record time in it: under a time limit, a replay of last month's readings would be
    deleted as soon as its segments closed, perhaps before the worker read them. So ``readings``
    keeps a size, and only topics whose records carry the time they were written keep days."""
    if name == settings.readings_topic:
        return {"retention.ms": "-1", "retention.bytes": str(settings.readings_retention_mb << 20)}
    days = REJECTED_RETENTION_DAYS if name == settings.rejected_topic else EVENTS_RETENTION_DAYS
    return {"retention.ms": str(days * DAY_MS), "retention.bytes": str(settings.topic_retention_mb << 20)}


#: Kafka's answer to a topic another process created first: nothing to do.
TOPIC_ALREADY_EXISTS = 36


#: A table's changelog keeps the newest row of each key, for as long as the key exists.
COMPACTED = {"cleanup.policy": "compact"}


async def ensure_topics(settings: KafkaSettings, names: list[str], compacted: Iterable[str] = ()) -> None:
    """Create the topics that do not exist yet: ``names`` each with its retention, ``compacted``
    (tables' changelogs) compacted. Existing topics are left as they are (an operator may have
    chosen their settings), with a warning where they differ from what envalert would give them."""
    wanted = {name: topic_config(settings, name) for name in names} | dict.fromkeys(compacted, COMPACTED)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                name,
                num_partitions=settings.topic_partitions,
                replication_factor=1,
                topic_configs=config,
            )
            for name, config in wanted.items()
            if name not in existing
        ]
        if missing:
            answer = await admin.create_topics(missing)
            for name, code, *message in answer.topic_errors:
                if code not in (0, TOPIC_ALREADY_EXISTS):
                    detail = message[0] if message and message[0] else ""
                    raise for_code(code)(f"Kafka refused to create topic {name!r}: {detail}")
            log.info("created Kafka topics %s", ", ".join(topic.name for topic in missing))
        if present := {name: config for name, config in wanted.items() if name in existing}:
            await _warn_of_other_settings(admin, present)
    finally:
        await admin.close()


async def _warn_of_other_settings(admin: AIOKafkaAdminClient, wanted: dict[str, dict[str, str]]) -> None:
    described = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name) for name in wanted]
    )
    for response in described:
        for code, _, _, name, entries in response.resources:
            if code:
                continue  # a topic deleted meanwhile: its first send will say so
            kept = {key: value for key, value, *_ in entries}
            settings = wanted[name]
            if differs := {key: kept.get(key) for key, value in settings.items() if kept.get(key) != value}:
                found = ", ".join(f"{key}={value}" for key, value in differs.items())
                fix = ",".join(f"{key}={value}" for key, value in settings.items())
                log.warning(
                    "Kafka topic %s keeps %s where envalert would set %s; left as it is "
                    "(kafka-configs.sh --alter --entity-type topics --entity-name %s --add-config %s "
                    "applies envalert's)",
                    name, found, fix.replace(",", ", "), name, fix,
                )  # fmt: skip


def group_session(settings: KafkaSettings) -> tuple[float, float]:
    """A consumer group member's session timeout and heartbeat interval, in seconds: three
    heartbeats a session, as Kafka advises."""
    return settings.kafka_session_seconds, settings.kafka_session_seconds / 3


def make_producer(settings: KafkaSettings) -> AIOKafkaProducer:
    """A producer whose retries after a lost ack neither double nor reorder a record."""
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=2,
    )


#: Kafka's answers that refuse the record itself: sent again, it is refused again. Everything else
#: (the broker away, a leader moving, a request timing out, an ACL being fixed) is waited out.
RECORD_REFUSED: tuple[type[KafkaError], ...] = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    RecordListTooLargeError,
    InvalidTimestampError,
    CorruptRecordException,
)
#: The dead-letter reason of a valid record that Kafka refused for good.
REFUSED_BY_KAFKA = "refused_by_kafka"


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

    Raises one of ``RECORD_REFUSED`` when Kafka will never take this record, for the caller to
    put it somewhere else. Callers that share ``order`` (a FIFO lock taken in arrival order) hand
    their records to the producer in that order, so the records of a partition keep it; the acks
    are awaited outside.
    """
    backoff = 0.2
    while True:
        try:
            async with order or contextlib.nullcontext():
                sent = await producer.send(topic, value=value, key=key, timestamp_ms=timestamp_ms)
            await sent
            return
        except RECORD_REFUSED:
            raise
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
    excerpt = payload[:EXCERPT_BYTES]
    try:
        text: str | None = excerpt.decode("utf-8")
    except UnicodeDecodeError:  # not UTF-8, or cut inside a character: the bytes are there
        text = None
    return (
        RejectedMessage(
            topic=topic,
            reason=reason,
            detail=detail,
            excerpt_base64=base64.b64encode(excerpt).decode("ascii"),
            excerpt_text=text,
            payload_length=len(payload),
            payload_sha256=hashlib.sha256(payload).hexdigest(),
            received_at=received_at,
            source=source,
        )
        .model_dump_json()
        .encode()
    )


async def partitions_of(bootstrap: str, topics: Iterable[str]) -> list[TopicPartition]:
    """Every partition of each of ``topics`` that exists, as the cluster lists them now. A client
    without a subscription learns no topic's partitions from its own metadata: Kafka answers its
    metadata requests for the topics it names, and it names none."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    return [
        TopicPartition(topic["topic"], partition["partition"])
        for topic in described
        if topic["error_code"] == 0
        for partition in sorted(topic["partitions"], key=lambda partition: int(partition["partition"]))
    ]


async def read_topic(bootstrap: str, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of a topic, from the beginning to its current end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    partitions = await partitions_of(bootstrap, [topic])
    await consumer.start()
    try:
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions) if partitions else {}
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[ConsumerRecord[bytes, bytes]] = []
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            batch = await consumer.getmany(timeout_ms=1000)
            records += [record for part in batch.values() for record in part]
        return records
    finally:
        await consumer.stop()
