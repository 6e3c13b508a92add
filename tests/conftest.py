"""Fixtures that start the real services on free ports, and the pipeline's real processes."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka.admin import AIOKafkaAdminClient

from envalert.command import processes
from envalert.command.host import free_port
from envalert.command.kafka_local import Kafka
from envalert.command.stack import Influxd, ManagedService, Mosquitto
from envalert.core import compat
from envalert.core.contract import EXCERPT_BYTES, Kind
from envalert.core.influx import influxql
from envalert.core.kafka import read_topic
from ingest.access import Account, BrokerAccess, Grant
from ingest.settings import MqttSettings
from notifiers.sinks import Inbox, MailSink, WebhookSink
from rules.evaluator import Transition
from rules.events import AlertEvent

# The clients the tests make in this process get what every envalert command applies at start.
compat.apply()


def envalert(
    *args: str, env: dict[str, str], cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a user would, to its end, with its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "envalert.command.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


#: A transition as the offline and the live judgements are compared: rule, subject, state,
#: severity, time, value.
JudgedKey = tuple[object, ...]


def judged_offline(transitions: Iterable[Transition]) -> set[JudgedKey]:
    return {(t.rule, t.subject, t.state, t.severity, t.at, t.value) for t in transitions}


def judged_live(services: Services) -> set[JudgedKey]:
    """The transitions on Kafka ``alerts``, as ``judged_offline`` gives them."""
    return {(e.rule, e.subject, e.state, e.severity, e.event_time, e.value) for e in services.alert_events()}


def wait_until(condition: Callable[[], Any], timeout: float, what: str, poll: float = 0.2) -> Any:
    """Poll ``condition`` until it returns something truthy; fail naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {result!r})")
        time.sleep(poll)


Kept = tuple[bytes, str, int]


def kept(record: dict[str, Any]) -> Kept:
    """What a dead-letter record keeps of its payload: the excerpt, the digest, the length."""
    return base64.b64decode(record["excerpt_base64"]), record["payload_sha256"], record["payload_length"]


def keeps(payload: bytes) -> Kept:
    """What a dead-letter record of ``payload`` must keep (see ``kept``)."""
    return payload[:EXCERPT_BYTES], hashlib.sha256(payload).hexdigest(), len(payload)


@contextmanager
def guarded_mosquitto(folder: Path, *grants: Grant) -> Iterator[ManagedService]:
    """A mosquitto of its own that takes only these accounts, each within its grant."""
    access = BrokerAccess({grant.account.username: grant for grant in grants})
    broker = ManagedService(Mosquitto(free_port(), access=access), folder)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def broker_env(broker: ManagedService, account: Account) -> dict[str, str]:
    """The settings that reach ``broker`` with ``account``, as a process's environment."""
    return {
        "ENVALERT_MQTT_PORT": str(broker.spec.port),
        "ENVALERT_MQTT_USERNAME": account.username,
        "ENVALERT_MQTT_PASSWORD": account.password,
    }


@dataclass
class Services:
    root: Path
    mosquitto: ManagedService
    kafka: ManagedService
    influxd: ManagedService
    database: str = "envalert"

    @property
    def mqtt_port(self) -> int:
        return self.mosquitto.spec.port

    @property
    def kafka_bootstrap(self) -> str:
        return f"localhost:{self.kafka.spec.port}"

    @property
    def influx_url(self) -> str:
        return f"http://127.0.0.1:{self.influxd.spec.port}"

    def mqtt_settings(self, **overrides: Any) -> MqttSettings:
        return MqttSettings(**{"mqtt_port": self.mqtt_port, **overrides})

    def influx_query(self, query: str) -> list[dict[str, Any]]:
        return influxql(self.influx_url, self.database, query)

    def points(self) -> list[dict[str, Any]]:
        """Every stored reading point (InfluxDB keeps one per series and time); [] while it is down."""
        measurements = ",".join(kind.value for kind in Kind)
        try:
            return self.influx_query(f"SELECT * FROM {measurements}")
        except OSError:
            return []

    def alert_events(self) -> list[AlertEvent]:
        """The transitions on Kafka ``alerts`` so far, in order."""
        records = kafka_records(self.kafka_bootstrap, "alerts")
        return [AlertEvent.model_validate_json(value or b"") for _, value in records]

    def rejected(self) -> list[dict[str, Any]]:
        """The dead-letter records so far, decoded."""
        records = kafka_records(self.kafka_bootstrap, "readings.rejected")
        return [json.loads(value or b"") for _, value in records]


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedService]:
    """One Kafka broker for the whole run: it takes seconds to start where mosquitto and influxd
    take milliseconds. ``running_services`` hands it to each test empty."""
    broker = ManagedService(Kafka(free_port(), free_port()), tmp_path_factory.mktemp("kafka"))
    broker.start()
    yield broker
    broker.stop()


@contextmanager
def running_services(root: Path, kafka: ManagedService) -> Iterator[Services]:
    """mosquitto and influxd on free ports under ``root`` and the shared Kafka broker, stopped and
    emptied on the way out."""
    started = Services(
        root,
        ManagedService(Mosquitto(free_port()), root),
        kafka,
        ManagedService(Influxd(free_port(), free_port()), root),
    )
    own = (started.mosquitto, started.influxd)
    try:
        kafka.start()  # a test that stopped it hands it on running
        for service in own:
            service.start()
        yield started
    finally:
        for service in own:
            service.stop()
        kafka.start()  # a test that failed with it stopped must not leave its topics to the next
        asyncio.run(empty_kafka(started.kafka_bootstrap))


def kill(service: ManagedService) -> None:
    """SIGKILL a service of the stack: it gets no chance to flush or close anything."""
    pid = service.pid
    assert pid, f"{service.spec.name} is not running"
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)  # our child: reaped, so that its pid file no longer names a live process
    service.pid_file.unlink()


async def empty_kafka(bootstrap: str, timeout: float = 30) -> None:
    """Delete every topic a test made, and so every offset committed on them: the next test's
    worker and notifier start from the beginning of their own records."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        async with asyncio.timeout(timeout):
            if made := [topic for topic in await admin.list_topics() if not topic.startswith("__")]:
                await admin.delete_topics(made)
            while [topic for topic in await admin.list_topics() if not topic.startswith("__")] or [
                group for group, *_ in await admin.list_consumer_groups()
                if await admin.list_consumer_group_offsets(group)
            ]:  # fmt: skip
                await asyncio.sleep(0.05)
    finally:
        await admin.close()


@pytest.fixture
def services(tmp_path: Path, kafka_broker: ManagedService) -> Iterator[Services]:
    with running_services(tmp_path / "stack", kafka_broker) as started:
        yield started


def write_catalogue(path: Path, stations: dict[str, dict[str, Any]]) -> Path:
    path.write_text(
        yaml.safe_dump(
            {"stations": [{"id": sid, **attrs} for sid, attrs in stations.items()]}, allow_unicode=True
        )
    )
    return path


@dataclass
class Pipeline:
    """The bridge, the worker and the notifier as real processes, each restartable and killable."""

    services: Services
    folder: Path
    stations_file: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    web_port: int = field(default_factory=free_port)
    board_port: int = field(default_factory=free_port)

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "ENVALERT_MQTT_PORT": str(self.services.mqtt_port),
            "ENVALERT_MQTT_CLIENT_ID": "test-bridge",
            "ENVALERT_KAFKA_BOOTSTRAP": self.services.kafka_bootstrap,
            "ENVALERT_INFLUX_URL": self.services.influx_url,
            "ENVALERT_INFLUX_DATABASE": self.services.database,
            "ENVALERT_STATIONS_FILE": str(self.stations_file),
            "ENVALERT_WORKER_WEB_PORT": str(self.web_port),
            "ENVALERT_BOARD_PORT": str(self.board_port),
            "ENVALERT_WORKER_DATA_DIR": str(self.folder / "worker-data"),
            "ENVALERT_WRITE_RETRY_MAX_SECONDS": "2",
            "ENVALERT_WRITE_BATCH_SECONDS": "0.5",
            # Kafka's shortest: a process killed by a test is taken for dead 4 s sooner.
            "ENVALERT_KAFKA_SESSION_SECONDS": "6",
            **self.extra_env,
        }

    @property
    def board(self) -> str:
        """The notifier's board, once the notifier runs."""
        return f"http://127.0.0.1:{self.board_port}"

    def log(self, name: str) -> Path:
        return self.folder / f"{name}.log"

    def launch(self, name: str) -> subprocess.Popen[bytes]:
        """Start ``name`` (bridge, worker or notifier) without waiting for it."""
        self.processes[name] = processes.launch(name, self.log(name), self.env())
        return self.processes[name]

    def start(self, name: str) -> None:
        """Start ``name`` and wait until it says it is ready."""
        before = processes.count_marker(self.log(name), name)
        processes.wait_ready(name, self.launch(name), self.log(name), before)

    def start_all(self) -> None:
        """The worker first, so that it is consuming when the bridge forwards the first reading."""
        self.start("worker")
        self.start("bridge")

    def kill(self, name: str) -> None:
        """SIGKILL: no chance to flush, ack or commit anything."""
        process = self.processes.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self) -> None:
        processes.stop(list(self.processes.values()))
        self.processes.clear()


@pytest.fixture
def pipeline_factory(services: Services, tmp_path: Path) -> Iterator[Callable[..., Pipeline]]:
    made: list[Pipeline] = []

    def make(stations: dict[str, dict[str, Any]], **extra_env: str) -> Pipeline:
        catalogue = write_catalogue(tmp_path / "stations.yaml", stations)
        pipeline = Pipeline(services, tmp_path / "pipeline", catalogue, extra_env)
        made.append(pipeline)
        return pipeline

    yield make
    for pipeline in made:
        pipeline.stop()
    for pipeline in made:
        for name in processes.COMMANDS:
            log = pipeline.log(name)
            lines = log.read_text(errors="replace").splitlines() if log.exists() else []
            crashes = [line for line in lines if "Crashed reason=" in line or "Traceback" in line]
            assert not crashes, f"the {name} crashed: see {log}; first: {crashes[0]}"


def kafka_records(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes | None]]:
    return [(record.key, record.value) for record in asyncio.run(read_topic(bootstrap, topic))]


@dataclass
class Sinks:
    """A real SMTP server and a real HTTP webhook on free ports, and the directory's env for them."""

    inbox: Inbox
    mail: MailSink
    webhook: WebhookSink

    @property
    def env(self) -> dict[str, str]:
        return {
            "ENVALERT_SMTP": self.mail.address,
            "ENVALERT_WEBHOOK": self.webhook.address,
            "ENVALERT_SMS_GATEWAY": self.webhook.address,
        }

    def notices(self, channel: str) -> Counter[str]:
        """How many times each notice arrived on ``channel`` (mail: by the id in its body)."""
        found: Counter[str] = Counter()
        for item in self.inbox.snapshot(channel):
            found[item.notice or NOTICE_ID.findall(item.body)[-1]] += 1
        return found


NOTICE_ID = re.compile(r"通知编号 (\S+#\d+)")


@pytest.fixture
def sinks() -> Iterator[Sinks]:
    inbox = Inbox()
    made = Sinks(inbox, MailSink(inbox, free_port()), WebhookSink(inbox, free_port()))
    made.mail.start()
    made.webhook.start()
    yield made
    made.mail.stop()
    made.webhook.stop()


#: Quick timings, so that the tests wait seconds, not minutes.
QUICK = {"group_wait": "1s", "group_interval": "2s", "repeat_interval": "1h", "escalate_after": "1h"}


def quick_notifier_env(folder: Path, sinks: Sinks) -> dict[str, str]:
    """The notifier's settings for a test: the shipped routing with quick timings, quick retries,
    the sinks as every contact's address, its database in ``folder``."""
    routing = folder / "routing.yaml"
    shipped = yaml.safe_load(Path("notifiers/routing.yaml").read_text(encoding="utf-8"))
    routing.write_text(yaml.safe_dump({**shipped, "timings": QUICK}, allow_unicode=True), encoding="utf-8")
    return {
        **sinks.env,
        "ENVALERT_ROUTING_FILE": str(routing),
        "ENVALERT_NOTIFIER_DB": str(folder / "notifier.db"),
        "ENVALERT_NOTIFY_RETRY_FIRST_SECONDS": "0.5",
        "ENVALERT_NOTIFY_RETRY_MAX_SECONDS": "2",
        "ENVALERT_NOTIFIER_TICK_SECONDS": "0.2",
        "ENVALERT_BOARD_URL": "http://board.example",
    }


def outbox(db: str) -> dict[str, int]:
    """The notifier's outbox: messages delivered, still waiting, and attempts made."""
    with sqlite3.connect(db) as connection:
        rows = connection.execute(
            "SELECT count(*) FILTER (WHERE delivered_at IS NOT NULL),"
            " count(*) FILTER (WHERE delivered_at IS NULL), sum(attempts) FROM outbox"
        ).fetchone()
    return {"delivered": rows[0], "waiting": rows[1], "attempts": rows[2] or 0}
