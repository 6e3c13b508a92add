"""The station publisher keeps a bounded window of unacked messages and rides out a broker restart."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from envalert.command.host import free_port
from envalert.command.stack import ManagedService, Mosquitto
from ingest.access import Account, Grant
from ingest.publisher import Message, PublishRefusedError, WindowedPublisher, publish_messages
from ingest.settings import MqttSettings
from tests.conftest import broker_env, envalert, guarded_mosquitto

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


#: A reader that may not publish, and a station that may publish on its own topic only.
READER = Grant(Account("reader", "r-secret"), read=("env/v1/#",))
STATION = Grant(Account("AIR-1", "a-secret"), write=("env/v1/air/AIR-1",))


def as_user(broker: ManagedService, grant: Grant) -> MqttSettings:
    account = grant.account
    return MqttSettings(
        mqtt_port=broker.spec.port, mqtt_username=account.username, mqtt_password=account.password
    )


@pytest.mark.hostile
def test_a_publish_the_broker_refuses_is_an_error_and_not_counted_as_acked(tmp_path: Path) -> None:
    own, other = Message("env/v1/air/AIR-1", b"1"), Message("env/v1/air/AIR-2", b"2")
    with guarded_mosquitto(tmp_path, READER, STATION) as broker:
        with pytest.raises(PublishRefusedError, match=r"env/v1/air/AIR-2: Not authorized") as refused:
            publish_messages(as_user(broker, STATION), [own, own, other, own], client_id="AIR-1")
        assert refused.value.number == 3

        publisher = WindowedPublisher(as_user(broker, READER), "reader")
        with pytest.raises(PublishRefusedError, match="Not authorized"):
            try:
                for _ in range(50):
                    publisher.publish(own.topic, own.payload)
            finally:
                publisher.close()
        assert (publisher.acked, publisher.done) == (0, 0)

        env = {**os.environ, **broker_env(broker, READER.account)}
        simulated = envalert("simulate", "--size", "3", "--duration", "10m", "--speed", "0", env=env)
        assert simulated.returncode == 1
        assert "all acked" not in simulated.stdout
        assert "Error: the broker refused" in simulated.stderr and "Not authorized" in simulated.stderr
        assert "Traceback" not in simulated.stderr
