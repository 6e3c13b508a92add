"""Publish readings over MQTT as stations (and the HJ 212 gateway for them) do: QoS 1, with a
bounded window of unacked messages.

paho refuses new QoS 1 messages after ~65,535 unacked ones, so a fast publisher must keep
its own window; this one blocks until the broker has acked enough of the earlier messages.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from ingest.contract import Reading, topic_for
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


class WindowedPublisher:
    """paho reconnects by itself (``loop_start``) and sends again what was not acked."""

    def __init__(
        self,
        settings: MqttSettings,
        client_id: str,
        window: int = 1000,
        connect_timeout: float = 15.0,
        on_acked: Callable[[int], None] | None = None,
    ) -> None:
        self.acked = 0  # the broker acks a connection's QoS 1 messages in order
        #: Called from paho's thread with the count acked so far.
        self._on_acked = on_acked
        self._window = threading.BoundedSemaphore(window)
        self._size = window
        self._client = make_client(settings, client_id)
        self._client.on_publish = self._on_publish
        answered, answers = threading.Event(), list[ReasonCode]()

        def connected(client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any) -> None:
            answers.append(reason)
            answered.set()

        self._client.on_connect = connected
        self._client.reconnect_delay_set(min_delay=1, max_delay=10)
        self._client.connect(settings.mqtt_host, settings.mqtt_port, settings.mqtt_keepalive)
        self._client.loop_start()
        if not answered.wait(connect_timeout) or answers[0].is_failure:
            self._client.loop_stop()
            said = (
                f"refused the connection: {answers[0]}"
                if answers
                else f"did not answer in {connect_timeout} s"
            )
            raise ConnectionError(
                f"{broker_address(settings)} {said} (user {settings.mqtt_username or 'anonymous'}); "
                "with the local stack, `envalert stack accounts` prints the settings to use"
            )

    def _on_publish(self, *_: Any) -> None:
        self.acked += 1
        self._window.release()
        if self._on_acked:
            self._on_acked(self.acked)

    def publish(self, topic: str, payload: bytes) -> None:
        self._window.acquire()
        info = self._client.publish(topic, payload, qos=1)
        if info.rc not in {mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN}:
            self._window.release()
            raise RuntimeError(f"paho refused to publish on {topic}: {mqtt.error_string(info.rc)}")

    def close(self, timeout: float = 60.0) -> None:
        """Wait until the broker acked everything, then disconnect."""
        for _ in range(self._size):
            if not self._window.acquire(timeout=timeout):
                raise TimeoutError(f"the broker did not ack all messages within {timeout} s")
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
