"""The HJ 212 gateway under faults and attacks: a broker that refuses or is away, password
guessing, slow and greedy connections (docs/SECURITY.md)."""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path

import pytest

from ingest.hj212.frame import FrameReader, build_frame
from ingest.hj212.packet import parse_segment
from streams.host import free_port
from streams.stack import ManagedService, Mosquitto
from tests.conftest import Services, guarded_mosquitto, wait_until, write_catalogue
from tests.ingest.hj212.test_gateway import MN, PASSWORD, START, STATIONS, answers, data_frame, gateway

pytestmark = [pytest.mark.integration, pytest.mark.hostile]

#: Room for the many connections these tests open from one address.
MANY_CONNECTIONS = {
    "ENVALERT_HJ212_MAX_CONNECTIONS": "5000",
    "ENVALERT_HJ212_MAX_CONNECTIONS_PER_ADDRESS": "5000",
}


def test_a_reading_the_broker_refuses_is_not_answered_and_daily_data_is_counted(
    services: Services, tmp_path: Path
) -> None:
    """A refused publish was answered 9014: the logger then deleted data never stored."""
    catalogue = write_catalogue(tmp_path / "stations.yaml", STATIONS)
    daily = build_frame(
        f"QN=20261127080100000;ST=31;CN=2031;PW={PASSWORD};MN={MN};Flag=5;"
        "CP=&&DataTime=20261126000000;a21001-Avg=2.1,a21001-Flag=N&&"
    )
    read_only = {"reader": "r-secret"}
    with guarded_mosquitto(tmp_path / "broker", read_only, ["user reader", "topic read env/v1/#"]) as broker:
        account = {
            "ENVALERT_MQTT_PORT": str(broker.spec.port),
            "ENVALERT_MQTT_USERNAME": "reader",
            "ENVALERT_MQTT_PASSWORD": "r-secret",
        }
        with gateway(services, catalogue, tmp_path / "gw", **account) as gw:
            with socket.create_connection(("127.0.0.1", gw.port)) as connection:
                connection.sendall(data_frame(START, 2.0) + daily)
                replies = [parse_segment(r.segment) for r in answers(connection, FrameReader(), 1, 10)]
                wait_until(lambda: gw.refusals()["refused_by_broker"] == 1, 10, "the broker's refusal")
            log = gw.log.read_text()
    assert [(r.cn, r.qn) for r in replies] == [("9014", "20261127080100000")], "only the daily data answered"
    assert "Not authorized" in log
    assert "CN=2031 (daily data) answered, not published" in log


def test_with_the_broker_away_and_its_window_full_the_gateway_still_serves_and_stops(
    services: Services, tmp_path: Path
) -> None:
    """The publisher once blocked the event loop on a full window: no connection was served any
    more and SIGTERM was never handled."""
    catalogue = write_catalogue(tmp_path / "stations.yaml", STATIONS)
    broker = ManagedService(Mosquitto(free_port()), tmp_path / "broker")
    broker.start()
    connections: list[socket.socket] = []
    try:
        with gateway(
            services, catalogue, tmp_path / "gw", ENVALERT_MQTT_PORT=str(broker.spec.port), **MANY_CONNECTIONS
        ) as gw:
            broker.stop()
            for n in range(1001):  # one more than the publisher's window
                connection = socket.create_connection(("127.0.0.1", gw.port))
                connection.sendall(data_frame(START, 1.0 + n / 1000))
                connections.append(connection)
            wait_until(
                lambda: gw.log.read_text().count("connection from") == len(connections),
                30,
                "every connection accepted",
            )
            with socket.create_connection(("127.0.0.1", gw.port)):
                wait_until(
                    lambda: gw.log.read_text().count("connection from") > len(connections),
                    10,
                    "a connection accepted while the window is full",
                )
            process = gw.process
            process.send_signal(signal.SIGTERM)
            started = time.monotonic()
            wait_until(lambda: process.poll() is not None, 10, "the gateway stopping on SIGTERM")
            assert time.monotonic() - started < 10
    finally:
        for connection in connections:
            connection.close()
        broker.stop()
