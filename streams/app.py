"""The worker's Faust application, and what its agents share: the settings, the pipeline's topics,
the station catalogue and the rule catalogue."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any, cast

import faust
from faust.types import TopicT
from faust.types.transports import TransportT

from envalert.core.kafka import group_session, rejected_record, topic_config
from envalert.core.settings import WORKER_GROUP
from envalert.core.stations import Station
from rules.model import Catalogue
from streams import consumer as consumers
from streams.handoff import ConfirmedTable
from streams.settings import WorkerSettings

log = logging.getLogger(__name__)

#: How long a stop waits for the events in hand to be finished.
STOP_DRAIN_SECONDS = 5.0


class App(faust.App):
    """Faust's App, whose wait for streams to drain at a stop has an end, and whose consumer loses
    nothing to the seek after a recovery.

    When partitions go, Faust clears the agents' queues and waits until every event taken is
    acknowledged. At a stop the wait sometimes never ended: one ``readings`` message kept a
    reference while every agent sat idle, and a SIGTERM ended with the supervisor's SIGKILL 30 s
    later. Unacknowledged offsets are not committed, so what a stop gives up
    on is read again at the next start. Faust's wait swallows cancellation; left behind, it ends
    when the consumer stops. A rebalance still waits without end: giving up there would let an
    agent write rows of a partition another worker now owns."""

    def _new_transport(self) -> TransportT:
        """Kafka, read by a consumer whose partitions resume with its flow (streams/consumer.py)."""
        return consumers.Transport(self.conf.broker_consumer, self)

    async def _consumer_wait_empty(self, consumer: Any, logger: Any) -> None:
        if not self.should_stop:
            await super()._consumer_wait_empty(consumer, logger)
            return
        waiting = asyncio.ensure_future(super()._consumer_wait_empty(consumer, logger))
        done, _ = await asyncio.wait({waiting}, timeout=STOP_DRAIN_SECONDS)
        if not done:
            waiting.cancel()
            log.warning(
                "stopping without the events in hand after %.0f s: not committed, they are read "
                "again at the next start",
                STOP_DRAIN_SECONDS,
            )


def make_app(settings: WorkerSettings) -> App:
    session_seconds, heartbeat_seconds = group_session(settings)
    return App(
        WORKER_GROUP,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        topic_partitions=settings.topic_partitions,
        consumer_auto_offset_reset="earliest",
        web_port=settings.worker_web_port,
        web_bind=settings.worker_web_bind,
        datadir=str(settings.worker_data_dir),
        Table=ConfirmedTable,
        broker_session_timeout=session_seconds,
        broker_heartbeat_interval=heartbeat_seconds,
    )


class Topics:
    """The pipeline's topics as the worker's app knows them: raw bytes both ways, each created
    with its retention."""

    def __init__(self, app: App, settings: WorkerSettings) -> None:
        def topic(name: str) -> TopicT:
            config = topic_config(settings, name)
            return app.topic(name, key_type=bytes, value_type=bytes, value_serializer="raw", config=config)

        self.readings = topic(settings.readings_topic)
        self.rejected = topic(settings.rejected_topic)
        self.alerts = topic(settings.alerts_topic)
        self.ticks = topic(settings.ticks_topic)
        self.fleet = topic(settings.fleet_topic)
        self.derived = topic(settings.derived_topic)


class Worker:
    """What the worker's agents share: its app, settings and topics, and the two catalogues."""

    def __init__(
        self, app: App, settings: WorkerSettings, stations: dict[str, Station], catalogue: Catalogue
    ) -> None:
        self.app, self.settings, self.stations, self.catalogue = app, settings, stations, catalogue
        self.topics = Topics(app, settings)

    def rows_table(self, name: str) -> ConfirmedTable:
        """A table of rows (str) by raw key (bytes), its changelog records to be confirmed."""
        return cast(ConfirmedTable, self.app.Table(name, key_type=bytes, value_type=str))

    async def dead_letter(self, topic: str, payload: bytes, reason: str, detail: str, source: str) -> None:
        """Keep a record the worker could not take in the dead-letter topic, with the reason."""
        now = datetime.now(UTC)
        record = rejected_record(topic, payload, reason=reason, detail=detail, received_at=now, source=source)
        await self.topics.rejected.send(key=topic.encode(), value=record)
