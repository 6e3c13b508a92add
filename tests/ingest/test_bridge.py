"""The bridge on real services: bad input to the dead-letter topic, credentials and TLS."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import random
import subprocess
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka.errors import InvalidTimestampError

from envalert.command.host import free_port
from envalert.command.stack import ManagedService, Mosquitto
from envalert.core.contract import EXCERPT_BYTES, Kind, Reading, RejectedMessage, topic_for
from envalert.core.kafka import REFUSED_BY_KAFKA
from ingest.access import Account, BrokerAccess, Grant
from ingest.bridge import Bridge
from ingest.publisher import WindowedPublisher, publish_readings, station_payload
from ingest.settings import BridgeSettings
from ingest.validation import MAX_PAYLOAD_BYTES, RejectReason
from tests.conftest import Pipeline, Services, keeps, kept, wait_until
from tests.streams.test_pipeline import assert_all_stored, fleet, readings

pytestmark = pytest.mark.integration


def bad_messages(now: datetime) -> list[tuple[str, bytes, RejectReason]]:
    """One message per reason a station's message can be refused once it reaches the bridge."""

    def body(ts: object = None, **changes: object) -> bytes:
        stamp = now.isoformat() if ts is None else ts
        message = {"station": "T-000", "ts": stamp, "values": {"pm25": 50.0}, **changes}
        return json.dumps(message, ensure_ascii=False).encode()

    air = "env/v1/air/T-000"
    return [
        (air, b"x" * (MAX_PAYLOAD_BYTES + 1), RejectReason.TOO_LARGE),
        ("env/v1/air/", body(), RejectReason.BAD_TOPIC),
        ("env/v1/rain/T-000", body(), RejectReason.UNKNOWN_KIND),
        (air, b'{"station": "\xff\xfe"}', RejectReason.NOT_UTF8),
        (air, b"PM2.5=75;PM10=120", RejectReason.NOT_JSON),
        (air, body(values={"pm25": "75"}), RejectReason.WRONG_TYPE),
        (air, body(ts="yesterday"), RejectReason.BAD_TIMESTAMP),
        ("env/v1/air/T-005", body(), RejectReason.STATION_MISMATCH),
        (air, body(values={}), RejectReason.NO_VALUES),
        (air, body(values={"nh3": 2.0}), RejectReason.UNKNOWN_METRIC),
        (air, b'{"station": "T-000", "ts": 1795852740123, "values": {"pm25": NaN}}', RejectReason.NOT_FINITE),
        (air, body(values={"pm25": 99999.0}), RejectReason.OUT_OF_RANGE),
        (air, body(ts=(now + timedelta(hours=2)).isoformat()), RejectReason.IN_FUTURE),
        (air, body(ts=0), RejectReason.TOO_OLD),
        ("env/v1/air/INVENTED-1", body(station="INVENTED-1"), RejectReason.UNKNOWN_STATION),
        ("env/v1/noise/T-000", body(values={"laeq": 50.0}), RejectReason.KIND_MISMATCH),
    ]


@pytest.mark.hostile
def test_a_malformed_burst_goes_to_the_dead_letter_topic_and_good_readings_flow_on(
    services: Services, pipeline_factory: Callable[..., Pipeline]
) -> None:
    stations = fleet(20)
    pipeline = pipeline_factory(stations)
    pipeline.start_all()
    good = readings(stations, per_station=50)
    bad = bad_messages(datetime.now(UTC)) * 3
    assert {reason for *_, reason in bad} == set(RejectReason)

    mixed = [(topic_for(r.kind, r.station), station_payload(r)) for r in good]
    mixed += [(topic, payload) for topic, payload, _ in bad]
    random.Random(3).shuffle(mixed)
    publisher = WindowedPublisher(services.mqtt_settings(), "mixed-station")
    for topic, payload in mixed:
        publisher.publish(topic, payload)
    publisher.close()

    records = wait_until(
        lambda: (found := services.rejected()) and len(found) >= len(bad) and found,
        60,
        f"{len(bad)} records on readings.rejected",
    )
    assert Counter(record["reason"] for record in records) == Counter(reason.value for *_, reason in bad)
    sent = Counter((topic, keeps(payload)) for topic, payload, _ in bad)
    found = Counter((record["topic"], kept(record)) for record in records)
    assert found == sent, "the dead-letter records must keep each topic and payload byte for byte"
    assert all(record["detail"] and record["source"].startswith("bridge:") for record in records)

    wait_until(lambda: len(services.points()) >= len(good), 60, "every good reading in InfluxDB")
    assert_all_stored(services, good, stations)
    wait_until(
        lambda: f"rejected={len(bad)}" in pipeline.log("bridge").read_text(),
        20,
        "the bridge's count of rejections in its log",
    )


@pytest.fixture
def secured_broker(tmp_path: Path) -> Iterator[tuple[ManagedService, Path]]:
    """A second mosquitto that wants TLS and a password, with a certificate made for localhost."""
    cert, key = tmp_path / "broker.crt", tmp_path / "broker.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    spec = Mosquitto(
        free_port(),
        access=BrokerAccess(
            {
                "bridge": Grant(Account("bridge", "b-secret"), read=("env/v1/#",)),
                "T-000": Grant(Account("T-000", "s-secret", client_id="T-000"), write=("env/v1/air/T-000",)),
            }
        ),
        tls_port=free_port(),
        tls_cert=cert,
        tls_key=key,
    )
    broker = ManagedService(spec, tmp_path / "secured")
    broker.start()
    yield broker, cert
    broker.stop()


def test_the_bridge_uses_tls_and_a_password_and_is_refused_a_wrong_one(
    services: Services,
    pipeline_factory: Callable[..., Pipeline],
    secured_broker: tuple[ManagedService, Path],
) -> None:
    broker, ca = secured_broker
    tls = {"mqtt_tls": True, "mqtt_ca_file": ca, "mqtt_port": broker.spec.tls_port}  # type: ignore[attr-defined]
    stations = fleet(1)
    secured_env = {f"ENVALERT_{key.upper()}": str(value) for key, value in tls.items()}
    wrong = pipeline_factory(
        stations, ENVALERT_MQTT_USERNAME="bridge", ENVALERT_MQTT_PASSWORD="guess", **secured_env
    )
    wrong.folder = wrong.folder.with_name("wrong")
    process = wrong.launch("bridge")
    wait_until(
        lambda: "refused the bridge: Not authorized" in wrong.log("bridge").read_text(),
        30,
        "the broker refusing a wrong password",
    )
    assert process.poll() is None, "a refused login must not crash the bridge"
    assert "subscribed to" not in wrong.log("bridge").read_text()
    wrong.stop()

    pipeline = pipeline_factory(
        stations, ENVALERT_MQTT_USERNAME="bridge", ENVALERT_MQTT_PASSWORD="b-secret", **secured_env
    )
    pipeline.start_all()
    sent: list[Reading] = readings(stations, per_station=5)
    station = services.mqtt_settings(mqtt_username="T-000", mqtt_password="s-secret", **tls)
    publish_readings(station, sent, client_id="T-000")
    wait_until(lambda: len(services.points()) >= len(sent), 60, "the readings sent over TLS")
    assert_all_stored(services, sent, stations)


def kinds(stations: dict[str, dict[str, Any]]) -> dict[str, Kind]:
    """The bridge's catalogue of a test fleet: station id → kind."""
    return {station: Kind(attrs["kind"]) for station, attrs in stations.items()}


class HeldProducer:
    """Stands in for Kafka: records what it is given, and acknowledges only when let go."""

    def __init__(self, *, holding: bool) -> None:
        self.pending = 0
        self.peak = 0
        self.acked: list[bytes] = []
        self.let_go = asyncio.Event()
        if not holding:
            self.let_go.set()

    async def send(
        self, topic: str, *, value: bytes, key: bytes, timestamp_ms: int
    ) -> Coroutine[None, None, None]:
        """Takes the record at once; the returned awaitable is the broker's ack."""
        self.pending += 1
        self.peak = max(self.peak, self.pending)
        return self._ack(value)

    async def _ack(self, value: bytes) -> None:
        try:
            await self.let_go.wait()
        finally:
            self.pending -= 1
        self.acked.append(value)


async def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)
    assert condition(), what


def test_in_flight_work_is_bounded_and_nothing_is_acked_before_kafka(
    services: Services,
) -> None:
    settings = BridgeSettings(
        mqtt_port=services.mqtt_port, mqtt_client_id="held-bridge", bridge_max_inflight=10
    )
    stations = fleet(5)
    sent = readings(stations, per_station=10)

    async def scenario() -> list[bytes]:
        stop = asyncio.Event()
        held = HeldProducer(holding=True)
        first = Bridge(settings, held, kinds(stations), drain_seconds=0.1)  # type: ignore[arg-type]
        running = asyncio.create_task(first.run(stop))
        await wait_for(first.connected.is_set, 10, "the first bridge connecting")
        await asyncio.to_thread(publish_readings, services.mqtt_settings(), sent)
        await wait_for(lambda: held.pending == 10, 10, "ten messages in flight")
        with contextlib.suppress(TimeoutError):  # more than ten in flight would be the failure
            await wait_for(lambda: held.pending > 10, 1, "")
        assert held.peak == 10
        stop.set()
        await running  # leaves without acking: Kafka never answered

        stop = asyncio.Event()
        kafka = HeldProducer(holding=False)
        second = Bridge(settings, kafka, kinds(stations))  # type: ignore[arg-type]
        running = asyncio.create_task(second.run(stop))
        await wait_for(lambda: len(set(kafka.acked)) >= len(sent), 20, "the broker redelivering all")
        stop.set()
        await running
        return kafka.acked

    delivered = {json.loads(value)["ts"] + json.loads(value)["station"] for value in asyncio.run(scenario())}
    assert delivered == {reading.ts.isoformat().replace("+00:00", "Z") + reading.station for reading in sent}


@pytest.mark.hostile
def test_messages_too_large_for_kafka_are_dead_lettered_in_part_and_acked(
    services: Services, pipeline_factory: Callable[..., Pipeline]
) -> None:
    """900 KB payloads once made dead-letter records over Kafka's 1 MiB limit: the bridge retried
    them forever, each holding memory and an in-flight slot, until good readings stopped."""
    stations = fleet(5)
    pipeline = pipeline_factory(stations)
    pipeline.start_all()
    first, second = list(stations)[:2]
    huge = [(f"env/v1/air/{first}", random.Random(n).randbytes(900_000)) for n in range(31)]
    huge += [(f"env/v1/air/{second}", "读数".encode() * 75_000)]
    good, late = readings(stations, per_station=20), readings(stations, per_station=21)[-len(stations) :]
    publisher = WindowedPublisher(services.mqtt_settings(), "oversized-station")
    for topic, payload in huge:
        publisher.publish(topic, payload)
    for reading in good:
        publisher.publish(topic_for(reading.kind, reading.station), station_payload(reading))
    publisher.close()

    wait_until(lambda: len(services.points()) >= len(good), 60, "every good reading in InfluxDB")
    assert_all_stored(services, good, stations)
    records = wait_until(
        lambda: (found := services.rejected()) and len(found) >= len(huge) and found,
        30,
        f"{len(huge)} records on readings.rejected",
    )
    assert len(records) == len(huge)
    found = Counter((record["topic"], kept(record), record["reason"]) for record in records)
    assert found == Counter((topic, keeps(payload), RejectReason.TOO_LARGE.value) for topic, payload in huge)
    assert all(len(kept(record)[0]) == EXCERPT_BYTES for record in records)
    assert "retrying" not in pipeline.log("bridge").read_text()

    pipeline.stop()  # nothing may come back: every one of them was acked
    pipeline.start_all()
    publish_readings(services.mqtt_settings(), late)
    wait_until(lambda: len(services.points()) >= len(good) + len(late), 60, "the readings after restart")
    assert len(services.rejected()) == len(huge)


class RefusingProducer:
    """Stands in for a Kafka that refuses every record of some topics for good."""

    def __init__(self, refused_topics: set[str]) -> None:
        self.refused_topics = refused_topics
        self.accepted: list[tuple[str, bytes]] = []

    async def send(
        self, topic: str, *, value: bytes, key: bytes, timestamp_ms: int
    ) -> Coroutine[None, None, None]:
        if topic in self.refused_topics:
            raise InvalidTimestampError(f"a record of {topic} refused")
        self.accepted.append((topic, value))
        return asyncio.sleep(0)


@pytest.mark.hostile
@pytest.mark.parametrize("refused", ["readings", "readings and readings.rejected"])
def test_a_reading_kafka_refuses_for_good_is_dead_lettered_and_acked_or_else_kept(
    services: Services, refused: str
) -> None:
    settings = BridgeSettings(mqtt_port=services.mqtt_port, mqtt_client_id=f"refused-{len(refused)}")
    stations = fleet(3)
    sent = readings(stations, per_station=2)

    async def scenario() -> tuple[RefusingProducer, Bridge, list[int]]:
        stop = asyncio.Event()
        kafka = RefusingProducer(set(refused.split(" and ")))
        bridge = Bridge(settings, kafka, kinds(stations))  # type: ignore[arg-type]
        acked: list[int] = []
        ack = bridge._client.ack
        bridge._client.ack = lambda mid, qos: acked.append(mid) or ack(mid, qos)  # type: ignore[method-assign]
        running = asyncio.create_task(bridge.run(stop))
        await wait_for(bridge.connected.is_set, 10, "the bridge connecting")
        await asyncio.to_thread(publish_readings, services.mqtt_settings(), sent)
        handled = lambda: sum(bridge.stats.rejected.values()) + bridge.stats.undeliverable  # noqa: E731
        await wait_for(lambda: handled() == len(sent), 10, "every reading handled")
        stop.set()
        await running
        return kafka, bridge, acked

    kafka, bridge, acked = asyncio.run(scenario())
    if refused == "readings":
        assert bridge.stats.rejected == {REFUSED_BY_KAFKA: len(sent)}
        assert len(acked) == len(sent)
        records = [RejectedMessage.model_validate_json(value) for _, value in kafka.accepted]
        assert {record.payload_sha256 for record in records} == {
            hashlib.sha256(station_payload(reading)).hexdigest() for reading in sent
        }
        assert all("Kafka refused the reading" in record.detail for record in records)
    else:
        assert (bridge.stats.undeliverable, acked, kafka.accepted) == (len(sent), [], [])


def test_a_connected_bridge_keeps_its_health_file_fresh(services: Services, tmp_path: Path) -> None:
    """What docker-compose.yml's healthcheck reads: touched at each report while connected."""
    alive = tmp_path / "bridge-alive"
    settings = BridgeSettings(
        mqtt_port=services.mqtt_port, mqtt_client_id="healthy", bridge_health_file=alive
    )

    async def scenario() -> None:
        stop = asyncio.Event()
        bridge = Bridge(settings, HeldProducer(holding=False), {})  # type: ignore[arg-type]
        running = asyncio.create_task(bridge.run(stop, report_every=0.1))
        await wait_for(alive.exists, 10, "the health file")
        stop.set()
        await running

    asyncio.run(scenario())
