"""A throwaway local stack for a benchmark: mosquitto, Tansu and influxd on free ports."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from streams import processes
from streams.stack import ManagedService, free_port, local_stack


@dataclass(frozen=True)
class BenchStack:
    root: Path
    mqtt_port: int
    kafka_bootstrap: str
    influx_url: str

    def env(self) -> dict[str, str]:
        """The settings every envalert process of the benchmark runs with."""
        return {
            "ENVALERT_MQTT_PORT": str(self.mqtt_port),
            "ENVALERT_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "ENVALERT_INFLUX_URL": self.influx_url,
        }


@contextmanager
def bench_stack() -> Iterator[BenchStack]:
    with tempfile.TemporaryDirectory(prefix="envalert-bench-") as folder:
        root = Path(folder)
        mqtt, kafka, influx = free_port(), free_port(), free_port()
        services: list[ManagedService] = local_stack(root, mqtt, kafka, influx)
        try:
            for service in services:
                service.start()
            yield BenchStack(root, mqtt, f"localhost:{kafka}", f"http://127.0.0.1:{influx}")
        finally:
            for service in reversed(services):
                service.stop()


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
