"""A throwaway local stack for a benchmark: mosquitto, Kafka and influxd on free ports."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from envalert.command import processes
from envalert.command.host import free_port
from envalert.command.stack import local_stack


@dataclass(frozen=True)
class BenchStack:
    root: Path
    mqtt_port: int
    kafka_bootstrap: str
    influx_url: str
    #: The services' processes by name (mosquitto, kafka, influxd), for their CPU time.
    pids: dict[str, int]

    def env(self) -> dict[str, str]:
        """The settings every envalert process of the benchmark runs with."""
        return {
            "ENVALERT_MQTT_PORT": str(self.mqtt_port),
            "ENVALERT_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "ENVALERT_INFLUX_URL": self.influx_url,
        }

    def pipeline_env(self, stations_file: Path, name: str) -> dict[str, str]:
        """The environment of a bridge and worker judging ``stations_file``; ``name`` keeps one
        run's worker data and MQTT client apart from another's."""
        return {
            **os.environ,
            **self.env(),
            "ENVALERT_STATIONS_FILE": str(stations_file),
            "ENVALERT_WORKER_WEB_PORT": str(free_port()),
            "ENVALERT_WORKER_DATA_DIR": str(self.root / f"worker-{name}"),
            "ENVALERT_MQTT_CLIENT_ID": f"bench-bridge-{name}",
        }


@contextmanager
def bench_stack(kafka_overrides: dict[str, str] | None = None) -> Iterator[BenchStack]:
    with tempfile.TemporaryDirectory(prefix="envalert-bench-") as folder:
        root = Path(folder)
        mqtt, kafka, influx = free_port(), free_port(), free_port()
        services = local_stack(root, mqtt, kafka, influx, kafka_overrides=kafka_overrides)
        try:
            for service in services:
                service.start()
            pids = {service.spec.name: pid for service in services if (pid := service.pid)}
            yield BenchStack(root, mqtt, f"localhost:{kafka}", f"http://127.0.0.1:{influx}", pids)
        finally:
            for service in reversed(services):
                service.stop()


#: Where a failed run's logs are kept: its stack's folder is deleted on the way out.
FAILED_LOGS = Path("bench/failed")


def kept(logs: Path) -> Path:
    """A copy of ``logs`` that outlives the throwaway stack, for a failure to point at."""
    copy = FAILED_LOGS / f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{logs.name}"
    shutil.copytree(logs, copy)
    return copy


@contextmanager
def running(names: list[str], env: dict[str, str], logs: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """envalert's processes ``names``, each started once the one before is ready; stopped after."""
    started: list[subprocess.Popen[bytes]] = []
    try:
        for name in names:
            log = logs / f"{name}.log"
            started.append(processes.launch(name, log, env))
            processes.wait_ready(name, started[-1], log, 0)
        yield started
    finally:
        processes.stop(started)
