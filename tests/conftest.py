"""Fixtures that start the real services on free ports, and the pipeline's real processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition

from ingest.contract import Kind
from ingest.settings import MqttSettings
from streams.stack import Influxd, ManagedService, Mosquitto, Tansu, free_port


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


@dataclass
class Services:
    root: Path
    mosquitto: ManagedService
    tansu: ManagedService
    influxd: ManagedService
    database: str = "envalert"

    @property
    def mqtt_port(self) -> int:
        return self.mosquitto.spec.port

    @property
    def kafka_bootstrap(self) -> str:
        return f"localhost:{self.tansu.spec.port}"

    @property
    def influx_url(self) -> str:
        return f"http://127.0.0.1:{self.influxd.spec.port}"

    def mqtt_settings(self, **overrides: Any) -> MqttSettings:
        return MqttSettings(**{"mqtt_port": self.mqtt_port, **overrides})

    def influx_query(self, query: str) -> list[dict[str, Any]]:
        """Rows of an InfluxQL query as dicts, times in epoch nanoseconds."""
        params = urllib.parse.urlencode({"db": self.database, "q": query, "epoch": "ns"})
        with urllib.request.urlopen(f"{self.influx_url}/query?{params}", timeout=10) as reply:
            body = json.load(reply)
        rows = []
        for result in body["results"]:
            if "error" in result:
                raise AssertionError(f"InfluxDB: {result['error']}")
            for series in result.get("series", []):
                for values in series["values"]:
                    row = dict(zip(series["columns"], values, strict=True))
                    row["measurement"] = series["name"]
                    rows.append(row)
        return rows

    def points(self) -> list[dict[str, Any]]:
        """Every stored reading point (InfluxDB keeps one per series and time); [] while it is down."""
        measurements = ",".join(kind.value for kind in Kind)
        try:
            return self.influx_query(f"SELECT * FROM {measurements}")
        except OSError:
            return []


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    root = tmp_path / "stack"
    started = Services(
        root,
        ManagedService(Mosquitto(free_port()), root),
        ManagedService(Tansu(free_port()), root),
        ManagedService(Influxd(free_port(), free_port()), root),
    )
    try:
        for service in (started.mosquitto, started.tansu, started.influxd):
            service.start()
        yield started
    finally:
        for service in (started.mosquitto, started.tansu, started.influxd):
            service.stop()


def write_catalogue(path: Path, stations: dict[str, dict[str, Any]]) -> Path:
    path.write_text(
        yaml.safe_dump({"stations": [{"id": sid, **attrs} for sid, attrs in stations.items()]},
                       allow_unicode=True)
    )
    return path


READY_MARKERS = {"bridge": "subscribed to", "worker": "Worker ready"}


@dataclass
class Pipeline:
    """The bridge and the worker as real processes, each restartable and killable."""

    services: Services
    folder: Path
    stations_file: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    web_port: int = field(default_factory=free_port)

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
            "ENVALERT_WORKER_DATA_DIR": str(self.folder / "worker-data"),
            "ENVALERT_WRITE_RETRY_MAX_SECONDS": "2",
            "ENVALERT_WRITE_BATCH_SECONDS": "0.5",
            **self.extra_env,
        }

    def log(self, name: str) -> Path:
        return self.folder / f"{name}.log"

    def _marker_count(self, name: str) -> int:
        try:
            return self.log(name).read_text(errors="replace").count(READY_MARKERS[name])
        except FileNotFoundError:
            return 0

    def launch(self, name: str) -> subprocess.Popen[bytes]:
        """Start ``name`` (bridge or worker) without waiting for it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with self.log(name).open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "streams.cli", name],
                stdout=log, stderr=subprocess.STDOUT, env=self.env(),
            )
        self.processes[name] = process
        return process

    def start(self, name: str) -> None:
        """Start ``name`` and wait until it says it is ready."""
        before = self._marker_count(name)
        process = self.launch(name)

        def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"the {name} exited ({process.returncode}):\n{self.tail(name)}")
            return self._marker_count(name) > before

        wait_until(ready, 90, f"the {name} to be ready")

    def kill(self, name: str) -> None:
        """SIGKILL: no chance to flush, ack or commit anything."""
        process = self.processes.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self) -> None:
        for process in self.processes.values():
            process.send_signal(signal.SIGTERM)
        for name, process in list(self.processes.items()):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            self.processes.pop(name)

    def tail(self, name: str, lines: int = 40) -> str:
        return "\n".join(self.log(name).read_text(errors="replace").splitlines()[-lines:])


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


def kafka_records(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes | None]]:
    """Every record of a topic, (key, value), read from the beginning to the current end."""

    async def read() -> list[tuple[bytes | None, bytes | None]]:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            records = []
            while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
                batch = await consumer.getmany(timeout_ms=1000)
                records += [(r.key, r.value) for rs in batch.values() for r in rs]
            return records
        finally:
            await consumer.stop()

    return asyncio.run(read())
