"""Publish readings over MQTT as stations (and the HJ 212 gateway for them) do: QoS 1, with a
bounded window of unanswered messages, and each answer's reason code honoured.

paho refuses new QoS 1 messages after ~65,535 unacked ones, so a fast publisher must keep
its own window. An MQTT 5 broker may answer a publish with a refusal (the ACL forbids the topic):
such a message is not delivered, and is never counted as acked.
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from envalert.core.contract import Reading, topic_for
from ingest.mqtt import broker_address, make_client
from ingest.settings import MqttSettings


@dataclass(frozen=True)
class Message:
    """One MQTT message as a station publishes it."""

    topic: str
    payload: bytes


def station_payload(reading: Reading) -> bytes:
    """The payload a station sends: epoch-millisecond time, values and non-normal flags."""
    body: dict[str, Any] = {"station": reading.station, "ts": reading.epoch_ms, "values": reading.values}
    if reading.flags:
        body["flags"] = {metric: flag.value for metric, flag in reading.flags.items()}
    return json.dumps(body, ensure_ascii=False).encode()


def message_of(reading: Reading) -> Message:
    return Message(topic_for(reading.kind, reading.station), station_payload(reading))


class PublishRefusedError(Exception):
    """The broker answered a publish with a failure reason code (MQTT 5), e.g. Not authorized."""

    def __init__(self, topic: str, reason: str, number: int | None = None) -> None:
        which = "the message" if number is None else f"message {number}"
        super().__init__(f"the broker refused {which} on {topic}: {reason}")
        self.topic, self.reason, self.number = topic, reason, number


OnPublish = Callable[[mqtt.Client, Any, int, ReasonCode, Any], None]


def connected_client(
    settings: MqttSettings, client_id: str, on_publish: OnPublish, connect_timeout: float = 15.0
) -> mqtt.Client:
    """A paho client connected to the broker, its network loop running in its own thread; paho
    reconnects by itself and sends again what was not acked."""
    client = make_client(settings, client_id)
    client.on_publish = on_publish
    answered, answers = threading.Event(), list[ReasonCode]()

    def connected(client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any) -> None:
        answers.append(reason)
        answered.set()

    client.on_connect = connected
    client.reconnect_delay_set(min_delay=1, max_delay=10)
    client.connect(settings.mqtt_host, settings.mqtt_port, settings.mqtt_keepalive)
    client.loop_start()
    if not answered.wait(connect_timeout) or answers[0].is_failure:
        client.loop_stop()
        said = (
            f"refused the connection: {answers[0]}" if answers else f"did not answer in {connect_timeout} s"
        )
        raise ConnectionError(
            f"{broker_address(settings)} {said} (user {settings.mqtt_username or 'anonymous'}); "
            "with the local stack, `envalert stack accounts` prints the settings to use"
        )
    return client


def publish_qos1(client: mqtt.Client, topic: str, payload: bytes) -> int:
    """Hand one QoS 1 message to paho (which sends it now, or once connected); its mid."""
    info = client.publish(topic, payload, qos=1)
    if info.rc not in {mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN}:
        raise RuntimeError(f"paho refused to publish on {topic}: {mqtt.error_string(info.rc)}")
    return info.mid


class WindowedPublisher:
    """A blocking publisher for a thread of its own (the simulators' command lines).

    The broker answers each message with a reason code; a refusal (Not authorized, quota
    exceeded …) raises ``PublishRefusedError`` from the next ``publish`` or from ``close``.
    ``done`` counts the messages from the first on that were all accepted: where a run that
    stopped may resume without leaving one out."""

    def __init__(self, settings: MqttSettings, client_id: str, window: int = 1000) -> None:
        self.acked = 0
        self.done = 0
        self.refused: list[PublishRefusedError] = []
        self._window = threading.BoundedSemaphore(window)
        self._size = window
        self._published = 0
        #: (mid, reason) from paho's thread, paired with what was published in ``_settle``.
        self._answers: queue.SimpleQueue[tuple[int, ReasonCode]] = queue.SimpleQueue()
        self._unanswered: dict[int, tuple[int, str]] = {}
        self._early: dict[int, ReasonCode] = {}
        self._accepted: set[int] = set()
        self._raised = False
        self._client = connected_client(settings, client_id, self._on_publish)

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason: ReasonCode, props: Any
    ) -> None:
        self._answers.put((mid, reason))
        self._window.release()

    def publish(self, topic: str, payload: bytes) -> None:
        self._window.acquire()
        try:
            mid = publish_qos1(self._client, topic, payload)
        except RuntimeError:
            self._window.release()
            raise
        self._published += 1
        self._unanswered[mid] = (self._published, topic)
        self._settle()

    def close(self, timeout: float = 60.0) -> None:
        """Wait until the broker answered everything, then disconnect."""
        try:
            for _ in range(self._size):
                if not self._window.acquire(timeout=timeout):
                    raise TimeoutError(f"the broker did not ack all messages within {timeout} s")
        finally:
            self._client.disconnect()
            self._client.loop_stop()
        self._settle()

    def _settle(self) -> None:
        """Take in the broker's answers so far; raise the first refusal, once."""
        while not self._answers.empty():
            mid, reason = self._answers.get()
            self._early[mid] = reason  # an answer may come before ``publish`` noted its mid
        for mid in [mid for mid in self._early if mid in self._unanswered]:
            reason = self._early.pop(mid)
            number, topic = self._unanswered.pop(mid)
            if reason.is_failure:
                self.refused.append(PublishRefusedError(topic, str(reason), number))
            else:
                self.acked += 1
                self._accepted.add(number)
        while self.done + 1 in self._accepted:
            self._accepted.discard(self.done + 1)
            self.done += 1
        if self.refused and not self._raised:
            self._raised = True
            raise min(self.refused, key=lambda refusal: refusal.number or 0)


class AckedPublisher:
    """A publisher for an event loop (the HJ 212 gateway): ``publish`` returns once the broker
    accepted the message, and raises ``PublishRefusedError`` if it refused it. Nothing here
    blocks the loop: a full window or an absent broker is waited out asynchronously."""

    def __init__(
        self, settings: MqttSettings, client_id: str, loop: asyncio.AbstractEventLoop, window: int = 1000
    ) -> None:
        self._loop = loop
        self._window = asyncio.Semaphore(window)
        self._waiting: dict[int, asyncio.Future[ReasonCode]] = {}
        self._client = connected_client(settings, client_id, self._from_paho)

    def _from_paho(
        self, client: mqtt.Client, userdata: Any, mid: int, reason: ReasonCode, props: Any
    ) -> None:
        self._loop.call_soon_threadsafe(self._answered, mid, reason)

    def _answered(self, mid: int, reason: ReasonCode) -> None:
        self._window.release()
        waiting = self._waiting.pop(mid, None)  # None: its publisher gave up waiting
        if waiting is not None and not waiting.done():
            waiting.set_result(reason)

    async def publish(self, topic: str, payload: bytes, timeout: float) -> None:
        """Raises TimeoutError if the broker did not answer within ``timeout`` seconds."""
        async with asyncio.timeout(timeout):
            await self._window.acquire()
            try:
                mid = publish_qos1(self._client, topic, payload)
            except RuntimeError:
                self._window.release()
                raise
            # Set before paho's answer can be handled: that runs on this loop, after this await.
            answer = self._waiting[mid] = self._loop.create_future()
            try:
                reason = await answer
            finally:
                self._waiting.pop(mid, None)
        if reason.is_failure:
            raise PublishRefusedError(topic, str(reason))

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def publish_messages(
    settings: MqttSettings,
    messages: Iterable[Message],
    client_id: str = "envalert-simulator",
    on_sent: Callable[[int], None] = lambda _: None,
    rate: float | None = None,
) -> int:
    """Publish every message and wait for the broker's acks; ``rate`` paces it (messages/s)."""
    publisher = WindowedPublisher(settings, client_id)
    sent = 0
    started = time.monotonic()
    try:
        for message in messages:
            if rate:
                time.sleep(max(0.0, started + sent / rate - time.monotonic()))
            publisher.publish(message.topic, message.payload)
            sent += 1
            on_sent(sent)
    finally:
        publisher.close()
    return sent


def publish_readings(
    settings: MqttSettings,
    readings: Iterable[Reading],
    client_id: str = "envalert-simulator",
    on_sent: Callable[[int], None] = lambda _: None,
    rate: float | None = None,
) -> int:
    return publish_messages(settings, map(message_of, readings), client_id, on_sent, rate)
