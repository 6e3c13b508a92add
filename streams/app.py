"""The Faust application: one App for the worker, configured from WorkerSettings."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

import faust
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Transport
from faust.types.transports import TransportT

from ingest.kafka import group_session, track_every_sent_topic
from streams import consumer as consumers
from streams.handoff import ConfirmedTable
from streams.settings import WORKER_GROUP, WorkerSettings

log = logging.getLogger(__name__)
settings = WorkerSettings()


def broker_overrides(worker: WorkerSettings) -> dict[str, Any]:
    """Tansu's quirks (INFRA.md); never applied to real Kafka, where they would cost throughput."""
    if worker.kafka_broker != "tansu":
        return {}
    # A request is given up (and retried) after 15 s, not 90: a restarted worker once consumed
    # nothing for 90 s, found since to be the consumer's race (streams/consumer.py); the shorter
    # wait still bounds a reply Tansu never sends.
    session, heartbeat = group_session(worker)
    return {
        "broker_session_timeout": session,
        "broker_heartbeat_interval": heartbeat,
        "broker_request_timeout": 15.0,
    }


#: Tansu answers a fetch at the end of its wait, not when a record arrives: Faust's fixed
#: 1,500 ms wait held readings up to 1.2 s in the worker (measured: an aiokafka consumer on Tansu saw
#: a median 358 ms from produce to fetch at that wait, 3 ms at 100 ms).
TANSU_FETCH_WAIT_MS = 100


def fetch_promptly() -> None:
    """Faust has no setting for the fetch wait; shorten it on the consumer Faust creates."""
    create = AIOKafkaConsumerThread._create_worker_consumer

    def create_prompt(thread: AIOKafkaConsumerThread, transport: Transport) -> Any:
        consumer = create(thread, transport)
        consumer._fetch_max_wait_ms = TANSU_FETCH_WAIT_MS  # read by consumer.start()
        return consumer

    AIOKafkaConsumerThread._create_worker_consumer = create_prompt  # type: ignore[method-assign,assignment]


if settings.kafka_broker == "tansu":
    fetch_promptly()
track_every_sent_topic()

#: How long a stop waits for the events in hand to be finished.
STOP_DRAIN_SECONDS = 5.0


class App(faust.App):
    """Faust's App, whose wait for streams to drain at a stop has an end, and whose consumer loses
    nothing to the seek after a recovery.

    When partitions go, Faust clears the agents' queues and waits until every event taken is
    acknowledged. At a stop the wait sometimes never ended: one ``readings`` message kept a
    reference while every agent sat idle, and SIGTERM in CI ended with the harness's SIGKILL 30 s
    later (four tests a run). Unacknowledged offsets are not committed, so what a stop gives up
    on is read again at the next start. Faust's wait swallows cancellation; left behind, it ends
    when the consumer stops. A rebalance still waits without end: giving up there would let an
    agent write rows of a partition another worker now owns."""

    def _new_transport(self) -> TransportT:
        """Kafka, read by a consumer whose partitions resume with its flow, and whose recovery
        on Tansu reads to the true ends (streams/consumer.py)."""
        chosen = consumers.TansuTransport if settings.kafka_broker == "tansu" else consumers.Transport
        return chosen(self.conf.broker_consumer, self)

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
    **broker_overrides(settings),
)


def rows_table(name: str) -> ConfirmedTable:
    """A table of rows (str) by raw key (bytes), its changelog records to be confirmed."""
    return cast(ConfirmedTable, app.Table(name, key_type=bytes, value_type=str))


readings_topic = app.topic(settings.readings_topic, key_type=bytes, value_type=bytes, value_serializer="raw")
rejected_topic = app.topic(settings.rejected_topic, key_type=bytes, value_type=bytes, value_serializer="raw")
alerts_topic = app.topic(settings.alerts_topic, key_type=bytes, value_type=bytes, value_serializer="raw")
ticks_topic = app.topic(settings.ticks_topic, key_type=bytes, value_type=bytes, value_serializer="raw")
fleet_topic = app.topic(settings.fleet_topic, key_type=bytes, value_type=bytes, value_serializer="raw")
derived_topic = app.topic(settings.derived_topic, key_type=bytes, value_type=bytes, value_serializer="raw")
