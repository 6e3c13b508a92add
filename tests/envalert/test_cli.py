"""`envalert demo` and `envalert run`, as a user runs them, on free ports in a scratch folder."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from envalert.command import processes
from envalert.command.host import free_port
from envalert.core.contract import Kind, Reading
from envalert.core.stations import DEFAULT_STATIONS, load_stations
from ingest.publisher import publish_readings
from simulators.scenarios import load_scenario
from tests.conftest import Services, envalert, wait_until

pytestmark = pytest.mark.integration


def test_the_demo_shows_every_alert_family_judged_and_delivered(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "ENVALERT_STACK_DIR": str(tmp_path / "stack"),
        "ENVALERT_MQTT_PORT": str(free_port()),
        "ENVALERT_KAFKA_BOOTSTRAP": f"localhost:{free_port()}",
        "ENVALERT_INFLUX_URL": f"http://localhost:{free_port()}",
        "ENVALERT_WORKER_WEB_PORT": str(free_port()),
    }
    demo = envalert("demo", env=env, cwd=tmp_path, timeout=280)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    expects = load_scenario("demo").expects
    readings = len(load_scenario("demo").readings(load_stations(DEFAULT_STATIONS)))
    assert f"{readings} of {readings} readings stored" in demo.stdout
    assert "readings.rejected: 3 refused messages" in demo.stdout
    assert f"alert transitions of {len(expects)} rules; the first of each rule:" in demo.stdout
    for rule in expects:
        assert f"{rule} firing" in demo.stdout, rule
    assert "✉ mail    shangjie-cluster.duty@zzhb.example: 上街区装备产业集聚区管委会：" in demo.stdout
    assert "⇢ webhook /sms/shangjie-cluster: 上街区装备产业集聚区管委会环境告警" in demo.stdout, (
        "critical VOCs"
    )
    delivered = re.search(r"Notifications delivered: (\d+) \((\d+) by mail", demo.stdout)
    assert delivered and int(delivered[2]) >= 10, demo.stdout
    assert demo.stdout.rstrip().endswith("mosquitto  stopped"), "the demo cleans up after itself"
    accounts = (tmp_path / "stack" / "mqtt-accounts.json").stat()
    assert accounts.st_mode & 0o077 == 0, "the broker's accounts are readable by their owner only"


@pytest.mark.parametrize(
    "signum",
    [signal.SIGINT, signal.SIGTERM],
    ids=["SIGINT, started where SIGINT is ignored", "SIGTERM"],
)
def test_run_starts_bridge_worker_and_notifier_and_stops_them_on_a_signal(
    services: Services, tmp_path: Path, signum: signal.Signals
) -> None:
    env = {
        **os.environ,
        "ENVALERT_MQTT_PORT": str(services.mqtt_port),
        "ENVALERT_KAFKA_BOOTSTRAP": services.kafka_bootstrap,
        "ENVALERT_INFLUX_URL": services.influx_url,
        "ENVALERT_WORKER_WEB_PORT": str(free_port()),
    }
    # SIGINT ignored, as a shell starts a background job: Python then raises no KeyboardInterrupt.
    command = f"trap '' INT; exec {shlex.quote(sys.executable)} -m envalert.command.cli run"
    run = subprocess.Popen(["sh", "-c", command], env=env, cwd=tmp_path, start_new_session=True)
    try:
        logs = tmp_path / ".envalert" / "logs"
        for name in processes.COMMANDS:
            processes.wait_ready(name, run, logs / f"{name}.log", seen_before=0)
        reading = Reading(
            station="ZZ-AIR-JS01", kind=Kind.AIR, ts=datetime(2026, 11, 28, tzinfo=UTC), values={"pm25": 80.0}
        )
        publish_readings(services.mqtt_settings(), [reading])
        wait_until(lambda: len(services.points()) == 1, 30, "the reading stored")

        run.send_signal(signum)
        assert run.wait(timeout=60) == 0
    finally:  # whatever failed, no process of this run may stay in the next tests' consumer groups
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGKILL)
        run.wait()
    assert "bridge stopped: forwarded=1 rejected=0" in (logs / "bridge.log").read_text()
    assert "Closing event loop" in (logs / "worker.log").read_text()
    assert (
        "notifier stopped: outbox {'delivered': 0, 'gave_up': 0, 'waiting': 0}"
        in (logs / "notifier.log").read_text()
    )


@pytest.mark.parametrize(
    ("variable", "text", "named"),
    [
        ("ENVALERT_RULES_FILE", "rules:\n  - id: x\n    compute: {function: mean}\n", "rules[x]"),
        ("ENVALERT_STATIONS_FILE", "stations:\n  - {id: A, kind: air}\n", "stations[A]"),
    ],
)
def test_the_worker_refuses_to_start_with_an_invalid_catalogue(
    tmp_path: Path, variable: str, text: str, named: str
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(text)
    env = {**os.environ, variable: str(broken), "ENVALERT_WORKER_DATA_DIR": str(tmp_path / "data")}
    worker = envalert("worker", env=env, cwd=tmp_path, timeout=60)
    assert worker.returncode != 0
    assert str(broken) in worker.stderr and named in worker.stderr and "fix:" in worker.stderr, worker.stderr


@pytest.mark.parametrize("command", [["bridge"], ["notify", "run"], ["worker"]])
def test_a_process_started_without_kafka_says_so_without_a_traceback(
    tmp_path: Path, command: list[str]
) -> None:
    nowhere = f"localhost:{free_port()}"
    env = {
        **os.environ,
        "ENVALERT_KAFKA_BOOTSTRAP": nowhere,
        "ENVALERT_WORKER_DATA_DIR": str(tmp_path / "data"),
    }
    started = envalert(*command, env=env, cwd=tmp_path, timeout=60)
    assert started.returncode == 1
    assert f"Error: Kafka at {nowhere}:" in started.stderr, started.stderr
    assert "Traceback" not in started.stderr
