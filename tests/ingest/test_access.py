"""Station accounts and the broker's ACL: a station may publish only on its own topic."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from envalert.command.host import free_port
from envalert.command.stack import ManagedService, Mosquitto
from envalert.core.stations import DEFAULT_STATIONS, load_stations
from ingest.access import Account, broker_access, station_password
from ingest.mqtt import make_client
from ingest.publisher import WindowedPublisher
from ingest.settings import MqttSettings
from tests.conftest import envalert, wait_until

STATIONS = load_stations(DEFAULT_STATIONS)
SECRET = "fleet-secret-for-tests"
BRIDGE = Account("envalert-bridge", "bridge-pw", client_id="envalert-bridge")
GATEWAY = Account("envalert-gateway", "gateway-pw")


def test_each_station_gets_its_own_password_and_topic() -> None:
    access = broker_access(STATIONS.values(), SECRET, BRIDGE, GATEWAY)
    assert len(access.passwords) == len(STATIONS) + 2
    assert (
        access.passwords["ZZ-AIR-JS01"]
        == station_password(SECRET, "ZZ-AIR-JS01")
        != station_password(SECRET, "ZZ-AIR-ZY01")
    )
    assert station_password("another secret", "ZZ-AIR-JS01") != access.passwords["ZZ-AIR-JS01"]
    grants = access.grants
    assert (grants["envalert-bridge"].read, grants["envalert-bridge"].write) == (("env/v1/#",), ())
    assert (grants["envalert-gateway"].read, grants["envalert-gateway"].write) == ((), ("env/v1/#",))
    assert grants["ZZ-NH3-XY01"].write == ("env/v1/ammonia/ZZ-NH3-XY01",)
    assert grants["ZZ-NH3-XY01"].account.client_id == "ZZ-NH3-XY01"


@pytest.fixture
def secured_broker(tmp_path: Path) -> Iterator[int]:
    access = broker_access(STATIONS.values(), SECRET, BRIDGE)
    broker = ManagedService(Mosquitto(free_port(), access=access), tmp_path)
    broker.start()
    yield broker.spec.port
    broker.stop()


class Client:
    """A connected MQTT 5 client that remembers its PUBACK reason codes and what it received."""

    def __init__(
        self, port: int, username: str | None, password: str | None, client_id: str | None = None
    ) -> None:
        self.connected: list[str] = []
        self.disconnected: list[str] = []
        self.acks: dict[int, str] = {}
        self.received: list[str] = []
        self.subscribed = threading.Event()
        settings = MqttSettings(mqtt_port=port, mqtt_username=username, mqtt_password=password)
        self.client = make_client(settings, client_id or f"test-{username}")
        self.client.on_connect = lambda c, u, f, rc, p: self.connected.append(str(rc))
        self.client.on_disconnect = lambda c, u, f, rc, p: self.disconnected.append(str(rc))
        self.client.on_publish = lambda c, u, mid, rc, p: self.acks.__setitem__(mid, str(rc))
        self.client.on_message = lambda c, u, m: self.received.append(m.topic)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.connect("localhost", port)
        self.client.loop_start()
        wait_until(lambda: self.connected, 10, f"{username}'s CONNACK")

    def publish(self, topic: str) -> Any:
        return self.client.publish(topic, b'{"x": 1}', qos=1).mid

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.mark.integration
def test_a_station_publishing_on_another_stations_topic_is_refused(secured_broker: int) -> None:
    bridge = Client(secured_broker, BRIDGE.username, BRIDGE.password, client_id=BRIDGE.username)
    bridge.client.subscribe("$share/envalert/env/v1/+/+", qos=1)
    assert bridge.subscribed.wait(10)
    station = Client(secured_broker, "ZZ-AIR-JS01", station_password(SECRET, "ZZ-AIR-JS01"), "ZZ-AIR-JS01")
    own, other = station.publish("env/v1/air/ZZ-AIR-JS01"), station.publish("env/v1/air/ZZ-AIR-ZY01")
    wait_until(lambda: len(station.acks) == 2, 10, "both PUBACKs")
    assert (station.acks[own], station.acks[other]) == ("Success", "Not authorized")
    wait_until(lambda: bridge.received, 10, "the bridge to receive the station's own message")
    assert bridge.received == ["env/v1/air/ZZ-AIR-JS01"]
    impostor = Client(secured_broker, "ZZ-AIR-JS01", "guessed")
    anonymous = Client(secured_broker, None, None)
    assert impostor.connected == anonymous.connected == ["Not authorized"], "a wrong password, no account"
    for client in (bridge, station, impostor, anonymous):
        client.close()


@pytest.mark.integration
def test_a_publisher_without_an_account_is_told_what_to_do(secured_broker: int) -> None:
    with pytest.raises(ConnectionError) as refused:
        WindowedPublisher(MqttSettings(mqtt_port=secured_broker), "no-account")
    assert str(refused.value) == (
        f"mqtt://localhost:{secured_broker} refused the connection: Not authorized (user anonymous); "
        "with the local stack, `envalert stack accounts` prints the settings to use"
    )


@pytest.mark.integration
@pytest.mark.hostile
def test_a_station_cannot_take_the_bridge_s_client_id_and_its_session(secured_broker: int) -> None:
    """Any station account once connected as the bridge's client id and kicked the bridge off,
    discarding its queued session."""
    bridge = Client(secured_broker, BRIDGE.username, BRIDGE.password, client_id=BRIDGE.username)
    assert bridge.connected == ["Success"]
    password = station_password(SECRET, "ZZ-AIR-JS01")
    impostor = Client(secured_broker, "ZZ-AIR-JS01", password, client_id=BRIDGE.username)
    assert impostor.connected != ["Success"], "a station may not connect as the bridge"
    itself = Client(secured_broker, "ZZ-AIR-JS01", password, client_id="ZZ-AIR-JS01")
    assert itself.connected == ["Success"], "a station connects with its own id"
    elsewhere = Client(secured_broker, "ZZ-AIR-JS01", password, client_id="ZZ-AIR-JS01-b")
    assert elsewhere.connected != ["Success"], "and only with it"
    assert bridge.disconnected == [], "the bridge was never kicked off"
    for client in (bridge, impostor, itself, elsewhere):
        client.close()


@pytest.mark.hostile
def test_a_deployment_s_broker_accounts_need_every_secret_and_bind_each_client_id(tmp_path: Path) -> None:
    out = tmp_path / "security" / "dynamic-security.json"
    secrets = {
        "ENVALERT_MQTT_BRIDGE_PASSWORD": "b" * 20,
        "ENVALERT_MQTT_GATEWAY_PASSWORD": "g" * 20,
        "ENVALERT_MQTT_STATION_SECRET": "short",
    }
    env = {key: value for key, value in os.environ.items() if not key.startswith("ENVALERT_MQTT_")}
    refused = envalert("broker-accounts", "--out", str(out), env={**env, **secrets})
    assert refused.returncode == 1 and "ENVALERT_MQTT_STATION_SECRET" in refused.stderr
    assert not out.exists() and "Traceback" not in refused.stderr
    made = envalert(
        "broker-accounts", "--out", str(out), env={**env, **secrets, "ENVALERT_MQTT_STATION_SECRET": "s" * 20}
    )
    assert made.returncode == 0, made.stderr
    clients = {c["username"]: c for c in json.loads(out.read_text())["clients"]}
    assert len(clients) == len(STATIONS) + 2
    assert clients["envalert-bridge"]["clientid"] == "envalert-bridge"
    assert (
        clients["ZZ-AIR-JS01"]["clientid"] == "ZZ-AIR-JS01" and "clientid" not in clients["envalert-gateway"]
    )
    assert "b" * 20 not in out.read_text(), "hashes only"
