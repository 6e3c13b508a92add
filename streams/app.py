"""The Faust application: one App for the worker, configured from WorkerSettings."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

import faust
from faust.types import TopicT
from faust.types.transports import TransportT

from envalert.core.kafka import group_session, topic_config
from envalert.core.settings import WORKER_GROUP
from streams import consumer as consumers
from streams.handoff import ConfirmedTable
from streams.settings import WorkerSettings

log = logging.getLogger(__name__)
settings = WorkerSettings()

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


session_seconds, heartbeat_seconds = group_session(settings)
app = App(
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


def rows_table(name: str) -> ConfirmedTable:
    """A table of rows (str) by raw key (bytes), its changelog records to be confirmed."""
    return cast(ConfirmedTable, app.Table(name, key_type=bytes, value_type=str))


def pipeline_topic(name: str) -> TopicT:
    """One of the pipeline's topics, raw bytes both ways, created with its retention."""
    return app.topic(
        name, key_type=bytes, value_type=bytes, value_serializer="raw", config=topic_config(settings, name)
    )


readings_topic = pipeline_topic(settings.readings_topic)
rejected_topic = pipeline_topic(settings.rejected_topic)
alerts_topic = pipeline_topic(settings.alerts_topic)
ticks_topic = pipeline_topic(settings.ticks_topic)
fleet_topic = pipeline_topic(settings.fleet_topic)
derived_topic = pipeline_topic(settings.derived_topic)
