"""The local stack without Docker: mosquitto, Apache Kafka and influxd.

Each service runs from its own folder (config, data, log, pid file) on the project's own
ports, so it never touches a system-wide instance. The same code starts the stack for
``envalert stack up`` and for the integration tests' fixtures.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from envalert.command.host import StackError, apt_install, port_open
from envalert.command.kafka_local import Kafka
from ingest.access import BrokerAccess, dynamic_security


def dynamic_security_plugin() -> Path:
    """mosquitto's plugin that binds client ids to accounts; Debian's mosquitto package ships it
    in the architecture's library folder."""
    found = sorted(Path("/usr/lib").glob("*/mosquitto_dynamic_security.so"))
    found += sorted(Path("/usr/lib").glob("mosquitto_dynamic_security.so"))
    if not found:
        raise StackError("mosquitto's dynamic-security plugin is missing; fix: apt-get install mosquitto")
    return found[0]


class ServiceSpec(Protocol):
    name: str
    port: int

    def command(self, folder: Path) -> list[str]:
        """Write the service's config under ``folder`` and return how to start it."""

    def healthy(self) -> bool: ...

    def address(self) -> str: ...


@dataclass
class Mosquitto:
    port: int
    name: str = "mosquitto"
    #: The accounts and what each may do; None means anonymous access (tests' brokers).
    access: BrokerAccess | None = None
    tls_port: int | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None

    def command(self, folder: Path) -> list[str]:
        binary = apt_install("mosquitto")
        lines = [
            "user root",  # as root it would otherwise drop to user mosquitto and lose its files
            "per_listener_settings false",
            f"persistence true\npersistence_location {folder}/",
            "max_queued_messages 200000",  # default 1000: an offline session silently loses the rest
            "max_inflight_messages 1000",
            f"listener {self.port} 127.0.0.1",
        ]
        if self.tls_port and self.tls_cert and self.tls_key:
            lines += [
                f"listener {self.tls_port} 127.0.0.1",
                f"certfile {self.tls_cert}\nkeyfile {self.tls_key}",
            ]
        if self.access:
            config = folder / "dynamic-security.json"
            config.touch(mode=0o600)
            config.write_text(json.dumps(dynamic_security(self.access), indent=1))
            lines += [
                "allow_anonymous false",
                f"plugin {dynamic_security_plugin()}",
                f"plugin_opt_config_file {config}",
            ]
        else:
            lines.append("allow_anonymous true")
        config = folder / "mosquitto.conf"
        config.write_text("\n".join(lines) + "\n")
        return [binary, "-c", str(config)]

    def healthy(self) -> bool:
        return port_open(self.port)

    def address(self) -> str:
        return f"mqtt://localhost:{self.port}"


@dataclass
class Influxd:
    port: int
    rpc_port: int
    name: str = "influxd"

    def command(self, folder: Path) -> list[str]:
        binary = apt_install("influxd")
        config = folder / "influxdb.conf"
        config.write_text(
            f'reporting-disabled = true\nbind-address = "127.0.0.1:{self.rpc_port}"\n'
            f'[meta]\n  dir = "{folder}/meta"\n'
            f'[data]\n  dir = "{folder}/data"\n  wal-dir = "{folder}/wal"\n'
            "  query-log-enabled = false\n"
            "[monitor]\n  store-enabled = false\n"
            f'[http]\n  bind-address = "127.0.0.1:{self.port}"\n  log-enabled = false\n'
            "[ifql]\n  enabled = false\n"
            "[continuous_queries]\n  enabled = false\n"
        )
        return [binary, "run", "-config", str(config)]

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/ping", timeout=1) as reply:
                return bool(reply.status == 204)
        except (urllib.error.URLError, OSError):
            return False

    def address(self) -> str:
        return f"http://localhost:{self.port} (InfluxDB 1.x API)"


class ManagedService:
    """One service process started from its own folder, found again through its pid file."""

    def __init__(self, spec: ServiceSpec, root: Path) -> None:
        self.spec = spec
        self.folder = root / spec.name
        self.pid_file = self.folder / "pid"
        self.log_file = self.folder / "log"

    @property
    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text())
            os.kill(pid, 0)
        except (OSError, ValueError):
            return None
        return pid

    def start(self, timeout: float = 90.0) -> None:
        if self.pid:
            return
        if port_open(self.spec.port):
            raise StackError(
                f"port {self.spec.port} for {self.spec.name} is taken by another program: "
                "stop it, or choose other ports with the ENVALERT_* settings"
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        command = self.spec.command(self.folder)
        with self.log_file.open("ab") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.pid_file.write_text(str(process.pid))
        deadline = time.monotonic() + timeout
        while not self.spec.healthy():
            if process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise StackError(
                    f"{self.spec.name} did not become healthy; the end of {self.log_file}:\n"
                    + self.log_tail()
                )
            time.sleep(0.05)

    def stop(self, timeout: float = 15.0) -> None:
        pid = self.pid
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.pid and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.05)
        if self.pid:
            os.kill(pid, signal.SIGKILL)
            _reap(pid)
        self.pid_file.unlink(missing_ok=True)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def status(self) -> str:
        pid = self.pid
        if pid is None:
            return f"{self.spec.name:10} stopped"
        health = "healthy" if self.spec.healthy() else "NOT answering"
        return f"{self.spec.name:10} {health:14} pid {pid:<8} {self.spec.address()}"


def _reap(pid: int) -> None:
    """Collect our own child's exit status, so it does not linger as a zombie that looks alive."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def local_stack(
    folder: Path,
    mqtt_port: int,
    kafka_port: int,
    influx_port: int,
    *,
    access: BrokerAccess | None = None,
    kafka_overrides: dict[str, str] | None = None,
) -> list[ManagedService]:
    """The three services, in start order; Kafka's controller listens on its port + 1 and influxd's
    RPC on its HTTP port + 2, as 9092/9093 and 8086/8088. With ``access``, mosquitto takes only
    those accounts, each within its ACL; ``kafka_overrides`` replace broker settings."""
    specs: list[ServiceSpec] = [
        Mosquitto(mqtt_port, access=access),
        Kafka(kafka_port, kafka_port + 1, overrides=kafka_overrides or {}),
        Influxd(influx_port, influx_port + 2),
    ]
    return [ManagedService(spec, folder.resolve()) for spec in specs]
