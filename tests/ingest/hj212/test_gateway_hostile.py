"""The HJ 212 gateway under faults and attacks: a broker that refuses or is away, password
guessing, slow and greedy connections (docs/SECURITY.md)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import time
from datetime import timedelta
from pathlib import Path

import pytest

from envalert.command.host import free_port
from envalert.command.stack import ManagedService, Mosquitto
from envalert.core.stations import DEFAULT_STATIONS, load_stations
from ingest.access import Account, Grant
from ingest.hj212.frame import FrameReader, build_frame
from ingest.hj212.gateway import GatewayConfigError, loggers
from ingest.hj212.packet import parse_segment
from tests.conftest import Services, broker_env, envalert, guarded_mosquitto, wait_until, write_catalogue
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
    read_only = Grant(Account("reader", "r-secret"), read=("env/v1/#",))
    with guarded_mosquitto(tmp_path / "broker", read_only) as broker:
        account = broker_env(broker, read_only.account)
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


def test_no_logger_password_is_shipped(tmp_path: Path) -> None:
    """Every logger of the shipped fleet once fell back to 212212."""
    stations = load_stations(DEFAULT_STATIONS)
    assert any(station.hj212 for station in stations.values())
    with pytest.raises(GatewayConfigError, match="ENVALERT_HJ212_PASSWORD is not set"):
        loggers(stations, environ={})
    env = {key: value for key, value in os.environ.items() if key != "ENVALERT_HJ212_PASSWORD"}
    env["ENVALERT_STACK_DIR"] = str(tmp_path / "no-local-stack")
    started = envalert("hj212", env=env, timeout=30)
    assert started.returncode == 1
    assert "ENVALERT_HJ212_PASSWORD is not set" in started.stderr and "Traceback" not in started.stderr


def guess(port: int, password: str, source: str = "127.0.0.1", timeout: float = 10) -> str:
    """One password guess on a fresh connection: "answered", "dropped" (the gateway closed the
    connection without an answer) or "silent" (still open, no answer, after ``timeout``)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0)) as sock:
        with contextlib.suppress(ConnectionError):
            sock.sendall(data_frame(START, 1.0, pw=password))
        try:
            reply = sock.recv(1024)
        except ConnectionResetError:
            return "dropped"
        except TimeoutError:
            return "silent"
    return "answered" if reply else "dropped"


def test_password_guesses_are_slowed_dropped_and_locked_out(services: Services, tmp_path: Path) -> None:
    """Once 11,700 guesses a second on one connection, each told apart by the reply."""
    catalogue = write_catalogue(tmp_path / "stations.yaml", STATIONS)
    with gateway(services, catalogue, tmp_path / "gw") as gw:
        outcomes: list[tuple[str, float]] = []
        started = time.monotonic()
        while time.monotonic() - started < 8:
            began = time.monotonic()
            outcomes.append((guess(gw.port, f"{len(outcomes):06d}"), time.monotonic() - began))
        rate = len(outcomes) / (time.monotonic() - started)
        wrong = [took for outcome, took in outcomes if outcome == "dropped"]
        assert {outcome for outcome, _ in outcomes} == {"dropped"}
        assert all(took >= 0.9 for took in wrong[:5]), "each of the first five delayed a second"
        assert all(took < 0.5 for took in wrong[5:]), "then the address is locked out at once"
        assert guess(gw.port, PASSWORD) == "dropped", "locked out even with the right password"
        assert guess(gw.port, PASSWORD, source="127.0.0.2") == "answered", "other addresses are served"
        log = gw.log.read_text()
    assert "127.0.0.1 locked out for 900 s after 5 failed sign-ins" in log
    print(f"\npassword guessing: {len(outcomes)} guesses in 8 s ({rate:.1f}/s), 5 of them checked")


def test_connections_are_capped_per_address_and_in_all(services: Services, tmp_path: Path) -> None:
    catalogue = write_catalogue(tmp_path / "stations.yaml", STATIONS)
    caps = {"ENVALERT_HJ212_MAX_CONNECTIONS": "6", "ENVALERT_HJ212_MAX_CONNECTIONS_PER_ADDRESS": "4"}
    with gateway(services, catalogue, tmp_path / "gw", **caps) as gw:
        held = [socket.create_connection(("127.0.0.1", gw.port)) for _ in range(4)]
        wait_until(lambda: gw.log.read_text().count("connection from") == 4, 10, "four connections")
        assert guess(gw.port, PASSWORD) == "dropped", "a fifth from one address"
        held += [
            socket.create_connection(("127.0.0.1", gw.port), source_address=("127.0.0.2", 0))
            for _ in range(2)
        ]
        wait_until(lambda: gw.log.read_text().count("connection from") == 6, 10, "six connections")
        assert guess(gw.port, PASSWORD, source="127.0.0.3") == "dropped", "a seventh in all"
        held.pop().close()
        wait_until(lambda: gw.log.read_text().count("disconnected") >= 1, 10, "a connection closed")
        assert guess(gw.port, PASSWORD, source="127.0.0.3") == "answered"
        for connection in held:
            connection.close()
        log = gw.log.read_text()
    assert "turned away 127.0.0.1: it has 4 open, at most 4 per address" in log
    assert "turned away 127.0.0.3: 6 open, at most 6 in all" in log


def test_slow_and_silent_connections_are_closed_by_whole_frame_deadlines(
    services: Services, tmp_path: Path
) -> None:
    """The idle timeout once applied to each read: a byte every few seconds held a connection."""
    catalogue = write_catalogue(tmp_path / "stations.yaml", STATIONS)
    with gateway(services, catalogue, tmp_path / "gw", ENVALERT_HJ212_FRAME_SECONDS="2") as gw:
        with socket.create_connection(("127.0.0.1", gw.port)) as silent:
            silent.settimeout(6)
            started = time.monotonic()
            assert silent.recv(10) == b""
            assert 1.5 < time.monotonic() - started < 4, "a silent new connection closed after 2 s"
        frame = data_frame(START, 1.0)
        with socket.create_connection(("127.0.0.1", gw.port)) as slow:
            started, sent, closed = time.monotonic(), 0, False
            while not closed and time.monotonic() - started < 8:
                try:
                    slow.sendall(frame[sent % len(frame) : sent % len(frame) + 1])
                except (BrokenPipeError, ConnectionResetError):
                    closed = True
                sent += 1
                time.sleep(0.3)
            assert closed and time.monotonic() - started < 4, "a frame a byte at a time closed after 2 s"
        with socket.create_connection(("127.0.0.1", gw.port)) as logger:
            logger.sendall(frame)
            assert answers(logger, FrameReader(), 1, 5), "a signed-in logger is answered"
            time.sleep(3)  # longer than a frame may take: a signed-in logger may idle between frames
            logger.sendall(data_frame(START + timedelta(minutes=1), 1.0))
            assert answers(logger, FrameReader(), 1, 5), "and is answered after it"
        log = gw.log.read_text()
    assert "no whole frame in 2 s" in log


def test_a_flood_of_bad_frames_is_logged_in_a_few_lines_without_passwords(
    services: Services, tmp_path: Path
) -> None:
    """64 KB of "##" once wrote 32,766 warning lines; refused frames were logged with their PW."""
    catalogue = write_catalogue(tmp_path / "stations.yaml", STATIONS)
    with gateway(services, catalogue, tmp_path / "gw") as gw:
        with socket.create_connection(("127.0.0.1", gw.port)) as connection:
            connection.sendall(data_frame(START, 1.0, pw="s3cret")[:-6] + b"0000\r\n")  # bad CRC
            connection.sendall(b"##" * 32_768)
            connection.sendall(data_frame(START, 1.0))
            assert answers(connection, FrameReader(), 1, 10), "the good frame after the flood"
        wait_until(lambda: "disconnected" in gw.log.read_text(), 10, "the connection closed")
        log = gw.log.read_text()
    assert "s3cret" not in log and f"PW={PASSWORD}" not in log
    assert "PW=***" in log
    assert log.count("\n") < 40, f"{log.count(chr(10))} log lines"
    assert re.search(r"\d{4,} more refusals? from 127\.0\.0\.1:\d+ not logged", log), log
