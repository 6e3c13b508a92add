"""`envalert stack up | status | down` on real services, on free ports in a scratch folder."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from envalert.command.host import connected_to_itself, free_port, port_open
from tests.conftest import envalert

pytestmark = pytest.mark.integration


@pytest.fixture
def stack_env(tmp_path: Path) -> Iterator[tuple[dict[str, str], list[int]]]:
    ports = [free_port(), free_port(), free_port()]
    env = {
        **os.environ,
        "ENVALERT_STACK_DIR": str(tmp_path / "stack"),
        "ENVALERT_MQTT_PORT": str(ports[0]),
        "ENVALERT_KAFKA_BOOTSTRAP": f"localhost:{ports[1]}",
        "ENVALERT_INFLUX_URL": f"http://localhost:{ports[2]}",
    }
    yield env, ports
    envalert("stack", "down", env=env)


def test_up_status_down(stack_env: tuple[dict[str, str], list[int]]) -> None:
    env, ports = stack_env
    up = envalert("stack", "up", env=env)
    assert up.returncode == 0, up.stderr
    for expected in (f"mqtt://localhost:{ports[0]}", f"localhost:{ports[1]}", f"http://localhost:{ports[2]}"):
        assert expected in up.stdout
    assert all(port_open(port) for port in ports)

    again = envalert("stack", "up", env=env)
    assert again.returncode == 0, "a second `up` leaves the running stack alone"
    status = envalert("stack", "status", env=env)
    assert status.returncode == 0 and status.stdout.count("healthy") == 3, status.stdout

    down = envalert("stack", "down", env=env)
    assert down.returncode == 0, down.stderr
    assert not any(port_open(port) for port in ports)
    stopped = envalert("stack", "status", env=env)
    assert stopped.returncode == 1 and stopped.stdout.count("stopped") == 3


def test_a_taken_port_is_named_with_the_way_out(stack_env: tuple[dict[str, str], list[int]]) -> None:
    env, ports = stack_env
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", ports[0]))
        squatter.listen()
        up = envalert("stack", "up", env=env)
    assert up.returncode == 1
    assert f"port {ports[0]} for mosquitto is taken by another program" in up.stderr
    assert "ENVALERT_" in up.stderr


def test_a_probe_that_connected_to_itself_finds_nobody_listening() -> None:
    """The kernel may give a probe of a free port that very port as its own: the connection then
    succeeds with nobody listening (TCP simultaneous open), made happen here on purpose."""
    port = free_port()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))
        assert probe.connect_ex(("127.0.0.1", port)) == 0
        assert connected_to_itself(probe)
    with socket.socket() as listener, socket.socket() as probe:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        assert probe.connect_ex(listener.getsockname()) == 0
        assert not connected_to_itself(probe)
