"""The station publisher keeps a bounded window of unacked messages and rides out a broker restart."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from ingest.publisher import WindowedPublisher
from ingest.settings import MqttSettings
from streams.host import free_port
from streams.stack import ManagedService, Mosquitto

pytestmark = pytest.mark.integration


def test_a_publisher_reconnects_after_a_broker_restart_and_gets_every_ack(tmp_path: Path) -> None:
    port = free_port()
    broker = ManagedService(Mosquitto(port), tmp_path)
    broker.start()
    restarted = threading.Event()
    try:
        publisher = WindowedPublisher(MqttSettings(mqtt_port=port), "restart-survivor", window=50)
        for index in range(300):
            if index == 100:
                broker.stop()  # SIGTERM; 50 messages at most are waiting for their ack

                def start_again() -> None:
                    broker.start()
                    restarted.set()

                threading.Timer(1.0, start_again).start()
            publisher.publish("env/v1/air/ZZ-AIR-JS01", b"%d" % index)
        publisher.close(timeout=60)
        assert restarted.is_set()
        assert publisher.acked == 300, "every message acked by the broker, the window never overrun"
    finally:
        restarted.wait(10)
        broker.stop()
