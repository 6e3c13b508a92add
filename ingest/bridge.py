"""The MQTT → Kafka bridge: validate each station message, forward it, and only then ack it.

paho runs its network loop in its own thread; each message takes one of ``bridge_max_inflight``
slots there, before it is handed to asyncio. When the slots are gone the network thread waits,
so the broker keeps the rest: in-flight work is bounded whatever the broker does. A message is
acked on MQTT only after Kafka acknowledged its record, so a crash at any point loses nothing:
the broker redelivers what was not acked, and the rest of the pipeline is idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
from aiokafka import AIOKafkaProducer
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from envalert.core.contract import TOPIC_PREFIX, Kind
from envalert.core.kafka import (
    RECORD_REFUSED,
    REFUSED_BY_KAFKA,
    ensure_topics,
    make_producer,
    rejected_record,
    send_until_acked,
)
from envalert.core.stations import load_stations
from ingest.mqtt import broker_address, make_client
from ingest.settings import BridgeSettings
from ingest.validation import Rejection, parse_reading

log = logging.getLogger(__name__)


@dataclass
class BridgeStats:
    forwarded: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    #: Messages neither forwarded nor dead-lettered (left unacked with the MQTT broker).
    undeliverable: int = 0

    def summary(self) -> str:
        reasons = ", ".join(f"{reason}={count}" for reason, count in sorted(self.rejected.items()))
        total = sum(self.rejected.values())
        line = f"forwarded={self.forwarded} rejected={total}" + (f" ({reasons})" if reasons else "")
        return line + (f" undeliverable={self.undeliverable}" if self.undeliverable else "")


@dataclass(frozen=True)
class Delivery:
    """One MQTT message in flight, with the connection it came on (its mid means nothing on another)."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    connection: int


class Bridge:
    def __init__(
        self,
        settings: BridgeSettings,
        producer: AIOKafkaProducer,
        catalogue: Mapping[str, Kind],
        drain_seconds: float = 15.0,
    ) -> None:
        self.settings = settings
        #: Station id → kind: a station not in the catalogue, or publishing as another kind, is
        #: refused, so an invented id never reaches InfluxDB or the board.
        self._catalogue = catalogue
        self._drain_seconds = drain_seconds
        self.stats = BridgeStats()
        self._producer = producer
        self._slots = threading.BoundedSemaphore(settings.bridge_max_inflight)
        self._connection = 0
        self._closing = False
        self._tasks: set[asyncio.Task[None]] = set()
        #: Records reach the producer in the order their messages arrived (see send_until_acked).
        self._order = asyncio.Lock()
        self._loop = asyncio.get_running_loop()
        share = f"$share/{settings.mqtt_share_group}/" if settings.mqtt_share_group else ""
        self._subscription = f"{share}{TOPIC_PREFIX}/+/+"
        self.connected = asyncio.Event()
        self._client = make_client(settings, settings.mqtt_client_id, manual_ack=True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)

    # --- paho's network thread -------------------------------------------------------------

    def _on_connect(
        self, client: mqtt.Client, _: Any, flags: mqtt.ConnectFlags, reason: ReasonCode, __: Any
    ) -> None:
        if reason.is_failure:
            log.error("MQTT broker %s refused the bridge: %s", broker_address(self.settings), reason)
            return
        self._connection += 1
        client.subscribe(self._subscription, options=SubscribeOptions(qos=1))
        log.info(
            "connected to %s as %s (session %s), subscribed to %s",
            broker_address(self.settings),
            self.settings.mqtt_client_id,
            "resumed" if flags.session_present else "new",
            self._subscription,
        )
        self._loop.call_soon_threadsafe(self.connected.set)

    def _on_disconnect(
        self, _: mqtt.Client, __: Any, ___: mqtt.DisconnectFlags, reason: ReasonCode, ____: Any
    ) -> None:
        self._loop.call_soon_threadsafe(self.connected.clear)
        if not self._closing:
            log.warning("lost the MQTT broker (%s); paho reconnects by itself", reason)

    def _on_message(self, _: mqtt.Client, __: Any, message: mqtt.MQTTMessage) -> None:
        while not self._slots.acquire(timeout=0.5):
            if self._closing:
                return  # not acked: the broker keeps it for the next bridge
        if self._closing:
            self._slots.release()
            return
        delivery = Delivery(message.topic, bytes(message.payload), message.mid, message.qos, self._connection)
        try:
            self._loop.call_soon_threadsafe(self._start, delivery)
        except RuntimeError:  # the loop closed under us while stopping
            self._slots.release()

    # --- asyncio ------------------------------------------------------------------------------

    def _start(self, delivery: Delivery) -> None:
        task = self._loop.create_task(self._forward(delivery))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _forward(self, delivery: Delivery) -> None:
        try:
            now = datetime.now(UTC)
            outcome = parse_reading(
                delivery.topic,
                delivery.payload,
                now,
                timedelta(seconds=self.settings.max_future_seconds),
                self._catalogue,
            )
            if isinstance(outcome, Rejection):
                await self._reject(delivery, outcome.reason.value, outcome.detail, now)
            else:
                try:
                    await send_until_acked(
                        self._producer,
                        self.settings.readings_topic,
                        key=outcome.station.encode(),
                        value=outcome.model_dump_json().encode(),
                        timestamp_ms=outcome.epoch_ms,
                        order=self._order,
                    )
                except RECORD_REFUSED as error:
                    await self._reject(delivery, REFUSED_BY_KAFKA, f"Kafka refused the reading: {error}", now)
                else:
                    self.stats.forwarded += 1
            if delivery.connection == self._connection:
                self._client.ack(delivery.mid, delivery.qos)
        except RECORD_REFUSED as error:
            # Not even its bounded dead-letter record fits: Kafka's limits were set below what
            # envalert needs. Left unacked, so the broker keeps the message for a fixed Kafka.
            self.stats.undeliverable += 1
            log.error("Kafka refused the dead-letter record of a message on %s: %s", delivery.topic, error)
        finally:
            self._slots.release()

    async def _reject(self, delivery: Delivery, reason: str, detail: str, now: datetime) -> None:
        log.info("rejected %s: %s: %s", delivery.topic, reason, detail)
        record = rejected_record(
            delivery.topic,
            delivery.payload,
            reason=reason,
            detail=detail,
            received_at=now,
            source=f"bridge:{self.settings.mqtt_client_id}",
        )
        await send_until_acked(
            self._producer,
            self.settings.rejected_topic,
            key=delivery.topic.encode(),
            value=record,
            timestamp_ms=int(now.timestamp() * 1000),
            order=self._order,
        )
        self.stats.rejected[reason] += 1

    async def run(self, stop: asyncio.Event, report_every: float = 10.0) -> None:
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self.settings.mqtt_session_expiry
        self._client.connect_async(
            self.settings.mqtt_host,
            self.settings.mqtt_port,
            keepalive=self.settings.mqtt_keepalive,
            clean_start=False,
            properties=properties,
        )
        self._client.loop_start()
        last = (time.monotonic(), 0)
        try:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=report_every)
                rate = (self.stats.forwarded - last[1]) / (time.monotonic() - last[0])
                last = (time.monotonic(), self.stats.forwarded)
                log.info("bridge: %s, %.0f readings/s", self.stats.summary(), rate)
                if self.settings.bridge_health_file and self.connected.is_set():
                    self.settings.bridge_health_file.touch()
        finally:
            await self._drain()

    async def _drain(self) -> None:
        """Finish what is in flight so its acks go out, then leave the session to the broker."""
        self._closing = True
        if self._tasks:
            log.info("waiting for %d in-flight messages", len(self._tasks))
            await asyncio.wait(set(self._tasks), timeout=self._drain_seconds)
        self._client.disconnect()
        self._client.loop_stop()
        log.info("bridge stopped: %s", self.stats.summary())


async def serve(settings: BridgeSettings, stop: asyncio.Event) -> None:
    catalogue = {station.id: station.kind for station in load_stations(settings.stations_file).values()}
    await ensure_topics(settings, [settings.readings_topic, settings.rejected_topic])
    producer = make_producer(settings)
    await producer.start()
    try:
        await Bridge(settings, producer, catalogue).run(stop)
    finally:
        await producer.stop()
