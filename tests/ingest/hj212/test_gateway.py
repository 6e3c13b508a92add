"""The HJ 212-2017 gateway as a real process: data loggers over TCP, readings on the real
mosquitto; a fuzzed stream on one connection; and an ammonia-slip exceedance end to end."""

from __future__ import annotations

import ast
import os
import random
import re
import socket
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from envalert.command.host import free_port
from envalert.core.contract import CHINA_STANDARD_TIME
from ingest.hj212.frame import Frame, FrameReader, build_frame
from ingest.hj212.gateway import READY
from ingest.hj212.packet import parse_segment
from ingest.mqtt import make_client
from tests.conftest import Pipeline, Services, wait_until, write_catalogue
from tests.streams.test_alerting import SCR

pytestmark = pytest.mark.integration

MN, PASSWORD = "ZZNH3T01", "204813"
#: The ammonia station of the stream's tests, with an HJ 212 data logger.
STATIONS = {"NH3-1": {**SCR["NH3-1"], "hj212": {"mn": MN, "password": "${HJ212_PW}"}}}
START = datetime(2026, 11, 27, 8, 0, tzinfo=CHINA_STANDARD_TIME)


def data_frame(at: datetime, nh3: float, *, cn: str = "2051", mn: str = MN, pw: str = PASSWORD) -> bytes:
    part = "Rtd" if cn == "2011" else "Avg"
    segment = (
        f"QN={at:%Y%m%d%H%M%S}000;ST=31;CN={cn};PW={pw};MN={mn};Flag=5;"
        f"CP=&&DataTime={at:%Y%m%d%H%M%S};a21001-{part}={nh3},a21001-Flag=N&&"
    )
    return build_frame(segment)


@dataclass
class RunningGateway:
    port: int
    log: Path
    process: subprocess.Popen[bytes]

    def refusals(self) -> Counter[str]:
        """Refusals by reason: those logged one by one, and those a closed connection summed up."""
        text = self.log.read_text(errors="replace")
        found = Counter(re.findall(r"refused from \S+ \((\w+)\)", text))
        for summary in re.findall(r"more refusals from \S+ not logged: (\{.*\})", text):
            found.update(ast.literal_eval(summary))
        return found


@contextmanager
def gateway(services: Services, catalogue: Path, folder: Path, **settings: str) -> Iterator[RunningGateway]:
    """``envalert hj212`` on a free port, publishing to the test's mosquitto."""
    port, log = free_port(), folder / "hj212.log"
    folder.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "ENVALERT_MQTT_PORT": str(services.mqtt_port),
        "ENVALERT_STATIONS_FILE": str(catalogue),
        "ENVALERT_HJ212_PORT": str(port),
        "ENVALERT_STACK_DIR": str(folder / "no-local-stack"),
        "HJ212_PW": PASSWORD,
        **settings,
    }
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "envalert.command.cli", "hj212"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        wait_until(lambda: READY in log.read_text() or process.poll() is not None, 30, "the gateway ready")
        assert process.poll() is None, log.read_text()
        yield RunningGateway(port, log, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        finally:
            process.kill()  # nothing once it has exited; a gateway that hangs stays in no later test
            process.wait()
        text = log.read_text(errors="replace")
        assert "Traceback" not in text, f"the gateway crashed: see {log}"


@contextmanager
def mqtt_messages(services: Services) -> Iterator[list[tuple[str, bytes]]]:
    received: list[tuple[str, bytes]] = []
    lock = threading.Lock()
    client = make_client(services.mqtt_settings(), "hj212-test-listener")

    def on_message(_: mqtt.Client, __: Any, message: mqtt.MQTTMessage) -> None:
        with lock:
            received.append((message.topic, message.payload))

    client.on_message = on_message
    client.on_connect = lambda c, *_: c.subscribe("env/v1/#", qos=1)
    client.connect("localhost", services.mqtt_port)
    client.loop_start()
    try:
        yield received
    finally:
        client.loop_stop()
        client.disconnect()


def answers(connection: socket.socket, reader: FrameReader, want: int, timeout: float) -> list[Frame]:
    """Read the gateway's answers until ``want`` have come (or fail after ``timeout`` s)."""
    got: list[Frame] = []
    connection.settimeout(0.5)

    def more() -> bool:
        try:
            data = connection.recv(65536)
        except TimeoutError:
            return len(got) >= want
        got.extend(item for item in reader.feed(data) if isinstance(item, Frame))
        return len(got) >= want or not data

    wait_until(more, timeout, f"{want} answers from the gateway")
    return got


def test_a_fuzzed_stream_on_one_connection_delivers_every_good_frame_and_logs_every_bad_one(
    services: Services, tmp_path: Path
) -> None:
    catalogue = write_catalogue(tmp_path / "stations.yaml", STATIONS)
    good = [data_frame(START + timedelta(minutes=i), 1.0 + i / 100, cn="2011") for i in range(60)]
    # An unknown MN or a wrong password closes the connection (test_gateway_hostile.py).
    valid_but_refused = {
        "bad_value": build_frame(
            f"QN=1;ST=31;CN=2011;PW={PASSWORD};MN={MN};Flag=5;CP=&&DataTime=20261127080000;a21001-Rtd=x&&"
        ),
        "bad_time": build_frame(
            f"QN=1;ST=31;CN=2011;PW={PASSWORD};MN={MN};Flag=5;CP=&&DataTime=yesterday;a21001-Rtd=1&&"
        ),
        "no_cp": build_frame(f"QN=1;ST=31;CN=2011;PW={PASSWORD};MN={MN};Flag=5"),
    }
    broken = {
        "bad_crc": data_frame(START, 9.9, cn="2011")[:-6] + b"0000\r\n",
        "bad_length": b"##0010" + data_frame(START, 9.9)[6:],
        "oversized": b"##9999" + b"x" * 20,
    }
    rng = random.Random(212)
    bad = [frame for frame in [*valid_but_refused.values(), *broken.values()] for _ in range(3)]
    stream_items = (
        good
        + bad
        + [
            b"\x00\xff garbage \r\n",
            b"AT+CSQ\r\n",
            bytes(rng.randrange(256) for _ in range(50)).replace(b"#", b""),
        ]
    )
    rng.shuffle(stream_items)
    # Good frames must stay in order: they carry the minutes in order; bad ones go anywhere.
    order = iter(good)
    stream = b"".join(next(order) if item in good else item for item in stream_items)

    with mqtt_messages(services) as received, gateway(services, catalogue, tmp_path / "gw") as gw:
        with socket.create_connection(("127.0.0.1", gw.port)) as connection:
            position = 0
            while position < len(stream):
                step = rng.randrange(1, 700)
                connection.sendall(stream[position : position + step])
                position += step
            replies = answers(connection, FrameReader(), len(good), 30)
        wait_until(lambda: len(received) >= len(good), 15, "the good readings on MQTT")
        wait_until(lambda: "disconnected" in gw.log.read_text(), 10, "the connection closed")
        refusals = gw.refusals()

    assert len(received) == len(good), "each good frame published once, no bad one"
    stamps = [int(re.search(rb'"ts": (\d+)', payload)[1]) for _, payload in received]  # type: ignore[index]
    assert stamps == [int((START + timedelta(minutes=i)).timestamp() * 1000) for i in range(60)]
    assert {topic for topic, _ in received} == {"env/v1/ammonia/NH3-1"}
    assert len(replies) == len(good) and {parse_segment(r.segment).cn for r in replies} == {"9014"}
    for reason in valid_but_refused:
        assert refusals[reason] == 3, (reason, refusals)
    for reason in broken:
        assert refusals[reason] >= 3, (reason, refusals)
    assert refusals["garbage"] >= 3
    print(f"\nfuzzed stream: {len(good)} good frames published and answered; refused {dict(refusals)}")


def test_an_ammonia_slip_exceedance_over_hj212_reaches_influxdb_and_raises_its_alert(
    services: Services, pipeline_factory: Callable[..., Pipeline], tmp_path: Path
) -> None:
    """HJ 212 station → gateway → MQTT → bridge → Kafka → worker → InfluxDB and alerts."""
    pipeline = pipeline_factory(STATIONS)
    pipeline.start_all()
    means = [2.4, 6.0, 6.2, 1.0]
    frames = [
        data_frame(START + timedelta(hours=hour, minutes=15 * quarter), value)
        for hour, value in enumerate(means)
        for quarter in range(4)
    ] + [data_frame(START + timedelta(hours=len(means), minutes=5), 1.0)]
    with gateway(services, pipeline.stations_file, tmp_path / "gw") as gw:
        with socket.create_connection(("127.0.0.1", gw.port)) as connection:
            connection.sendall(b"".join(frames))
            answers(connection, FrameReader(), len(frames), 30)
        wait_until(lambda: len(services.points()) == len(frames), 60, "every HJ 212 reading in InfluxDB")

        def slip() -> list[tuple[str, str | None]]:
            return [
                (e.state, e.severity.value if e.severity else None)
                for e in services.alert_events()
                if e.rule == "ammonia.slip.1h" and e.state != "pending"
            ]

        wait_until(
            lambda: ("resolved", "critical") in slip() or ("resolved", "warning") in slip(), 90, "the alert"
        )
    assert ("firing", "critical") in slip(), slip()
    hours = sorted({row["time"] for row in services.points()})
    assert len(hours) == len(frames) and all(row["nh3_flag"] == "N" for row in services.points())
    print(f"\nammonia over HJ 212: {len(frames)} readings stored, transitions {slip()}")


def test_a_bad_crc_can_be_tolerated_notifications_get_9013_and_idle_loggers_are_dropped(
    services: Services, tmp_path: Path
) -> None:
    """Some field equipment computes the CRC wrongly: with the setting on, its data is taken."""
    catalogue = write_catalogue(tmp_path / "stations.yaml", STATIONS)
    wrong_crc = data_frame(START, 2.2, cn="2011")[:-6] + b"BEEF\r\n"
    notification = build_frame(f"QN=20261127080001000;ST=31;CN=3020;PW={PASSWORD};MN={MN};Flag=5;CP=&&&&")
    settings = {"ENVALERT_HJ212_ACCEPT_BAD_CRC": "true", "ENVALERT_HJ212_IDLE_SECONDS": "2"}
    with mqtt_messages(services) as received, gateway(services, catalogue, tmp_path / "gw", **settings) as gw:
        with socket.create_connection(("127.0.0.1", gw.port)) as connection:
            connection.sendall(wrong_crc + notification)
            replies = [parse_segment(r.segment) for r in answers(connection, FrameReader(), 2, 10)]
            assert [(r.cn, r.qn) for r in replies] == [
                ("9014", "20261127080000000"),
                ("9013", "20261127080001000"),
            ]
            connection.settimeout(10)
            assert connection.recv(100) == b"", "an idle logger is disconnected"
        wait_until(lambda: len(received) == 1, 10, "the reading with a tolerated CRC")
        log = gw.log.read_text()
    assert "with a wrong CRC (CRC 'BEEF'" in log and "ENVALERT_HJ212_ACCEPT_BAD_CRC is on" in log
    assert "nothing for 2 s" in log


def test_a_split_message_is_published_whole_once_and_each_part_answered(
    services: Services, tmp_path: Path
) -> None:
    """HJ 212-2017 split packets (PNUM/PNO, Flag bit D): the reading is published once all its
    parts have come, and only then is each part answered. An information upload that repeats a
    group per pollutant (PolId=…) is answered, not refused."""
    catalogue = write_catalogue(tmp_path / "stations.yaml", STATIONS)
    head = f"QN=20261127080000000;PNUM=2;PNO={{}};ST=31;CN=2051;PW={PASSWORD};MN={MN};Flag=7"
    first = build_frame(head.format(1) + f";CP=&&DataTime={START:%Y%m%d%H%M%S};a21001-Avg=2.2&&")
    second = build_frame(head.format(2) + ";CP=&&a21001-Flag=N&&")
    info = build_frame(
        f"QN=20261127080001000;ST=31;CN=3020;PW={PASSWORD};MN={MN};Flag=5;"
        f"CP=&&DataTime={START:%Y%m%d%H%M%S};PolId=a21001;PolId=a24088&&"
    )
    with mqtt_messages(services) as received, gateway(services, catalogue, tmp_path / "gw") as gw:
        with socket.create_connection(("127.0.0.1", gw.port)) as connection:
            connection.sendall(first + info)
            reader = FrameReader()
            (early,) = [parse_segment(r.segment) for r in answers(connection, reader, 1, 10)]
            assert (early.cn, early.qn) == ("9013", "20261127080001000"), (
                "the first part waits for the second"
            )
            assert received == []
            connection.sendall(second)
            replies = [parse_segment(r.segment) for r in answers(connection, reader, 2, 10)]
            assert [(r.cn, r.qn) for r in replies] == [("9014", "20261127080000000")] * 2
        wait_until(lambda: len(received) == 1, 10, "the whole reading on MQTT")
    ((topic, payload),) = received
    assert topic == "env/v1/ammonia/NH3-1" and b'"nh3":2.2' in payload.replace(b" ", b"")
    assert gw.refusals() == Counter()
