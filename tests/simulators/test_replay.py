"""Record then replay, as a developer runs them, against the real mosquitto."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from envalert.command.stack import ManagedService
from envalert.core.contract import CHINA_STANDARD_TIME, Kind, Reading
from envalert.core.stations import DEFAULT_STATIONS, load_stations
from ingest.access import Account, Grant
from ingest.publisher import Message, WindowedPublisher, message_of
from simulators.recording import read_messages, recorded_line
from simulators.replay import progress_file
from tests.conftest import (
    Pipeline,
    Services,
    broker_env,
    envalert,
    guarded_mosquitto,
    running_services,
    wait_until,
    write_catalogue,
)

FULL_FLEET_VOCS = load_stations(DEFAULT_STATIONS)["ZZ-VOC-SJ01"].model_dump(
    mode="json", exclude={"id"}, exclude_defaults=True
)

pytestmark = pytest.mark.integration


def lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines()) if path.exists() else 0


@contextmanager
def recording(path: Path, env: dict[str, str], *options: str) -> Iterator[None]:
    recorder = subprocess.Popen(
        [sys.executable, "-m", "envalert.command.cli", "record", str(path), *options],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert recorder.stderr is not None
    assert "recording env/v1/#" in recorder.stderr.readline(), "the recorder is subscribed"
    try:
        yield
    finally:
        recorder.send_signal(signal.SIGTERM)
        try:
            assert recorder.wait(timeout=30) == 0
        finally:
            recorder.kill()  # nothing once it has exited; a recorder that hangs stays in no later test
            recorder.wait()


def test_record_then_replay_publishes_the_same_sequence_and_resumes(
    services: Services, tmp_path: Path
) -> None:
    env = {**os.environ, "ENVALERT_MQTT_PORT": str(services.mqtt_port)}
    first, again, rest = tmp_path / "first.jsonl", tmp_path / "again.jsonl", tmp_path / "rest.jsonl"
    with recording(first, env):
        simulated = envalert(
            "simulate", "--scenario", "station-silent", "--size", "3", "--speed", "0", env=env
        )
        assert simulated.returncode == 0, simulated.stderr
        assert "published 432 readings, all acked by the broker" in simulated.stdout
        broken = WindowedPublisher(services.mqtt_settings(), "broken-station")
        broken.publish("env/v1/air/ZZ-AIR-ZM01", b"\xff not a reading")
        broken.close()
        wait_until(lambda: lines(first) == 433, 30, "433 messages recorded")
    recorded = list(read_messages(first))

    with recording(again, env, "--for", "1h"):  # and a signal stops it before its time is up
        replayed = envalert("replay", str(first), "--speed", "0", env=env)
        assert replayed.returncode == 0, replayed.stderr
        wait_until(lambda: lines(again) == 433, 30, "433 messages recorded again")
    assert list(read_messages(again)) == recorded, "the same topics and payloads, in the same order"
    assert json.loads(progress_file(first).read_text()) == {"acked": 433, "total": 433}

    progress_file(first).write_text(json.dumps({"acked": 400, "total": 433}))
    with recording(rest, env):
        resumed = envalert("replay", str(first), "--speed", "0", "--resume", env=env)
        assert "published 33 messages after the 400 acked before" in resumed.stdout, resumed.stderr
        wait_until(lambda: lines(rest) == 33, 30, "the last 33 messages")
    assert list(read_messages(rest)) == recorded[400:]


T0 = datetime(2026, 10, 20, 8, 0, tzinfo=CHINA_STANDARD_TIME)


def leak_recording(path: Path) -> Path:
    """12 seconds of one VOCs station reporting every second, with a 3-second leak (36 mg/m³)."""
    readings = [
        Reading(
            station="ZZ-VOC-SJ01",
            kind=Kind.VOCS,
            ts=T0 + timedelta(seconds=index),
            values={"nmhc": 36.0 if 4 <= index <= 6 else 1.0 + index / 100, "tvoc": 1.6},
        )
        for index in range(13)
    ]
    path.write_text("".join(recorded_line(message_of(r), T0) + "\n" for r in readings), encoding="utf-8")
    return path


def test_a_replay_at_100x_raises_the_same_alerts_as_at_1x(
    tmp_path: Path, kafka_broker: ManagedService
) -> None:
    recording = leak_recording(tmp_path / "leak.jsonl")
    catalogue = write_catalogue(tmp_path / "stations.yaml", {"ZZ-VOC-SJ01": FULL_FLEET_VOCS})
    told: dict[int, list[tuple[object, ...]]] = {}
    for speed in (1, 100):
        with running_services(tmp_path / f"stack-{speed}", kafka_broker) as services:
            quick = {"ENVALERT_ALLOWED_LATENESS_SECONDS": "0", "ENVALERT_IDLE_SECONDS": "2"}
            pipeline = Pipeline(services, tmp_path / f"pipeline-{speed}", catalogue, quick)
            try:
                pipeline.start_all()
                env = {**os.environ, "ENVALERT_MQTT_PORT": str(services.mqtt_port)}
                started = time.monotonic()
                assert envalert("replay", str(recording), "--speed", str(speed), env=env).returncode == 0
                took = time.monotonic() - started
                # 12 s of recording: at 1× the replay takes at least that; at 100× a tenth of a second.
                assert (took >= 12) if speed == 1 else (took < 6), f"{took:.1f} s at {speed}×"

                def alerts() -> list[tuple[object, ...]]:
                    return [
                        (e.rule, e.state, e.severity, e.value, e.event_time) for e in services.alert_events()
                    ]

                told[speed] = wait_until(
                    lambda: len(found := alerts()) >= 2 and found, 60, "the leak's alerts"
                )
            finally:
                pipeline.stop()
    assert told[1] == told[100]
    assert [(rule, state) for rule, state, *_ in told[1]] == [
        ("vocs.nmhc.single", "firing"),
        ("vocs.nmhc.single", "resolved"),
    ]


@pytest.mark.hostile
def test_a_replay_stops_at_a_refused_message_and_resumes_from_it(tmp_path: Path) -> None:
    """A refused message once counted as acked: the progress file skipped it on --resume."""
    path = tmp_path / "mixed.jsonl"
    topics = ["env/v1/air/AIR-1"] * 3 + ["env/v1/air/AIR-2"] + ["env/v1/air/AIR-1"] * 3
    path.write_text(
        "".join(recorded_line(Message(topic, b"%d" % n), T0) + "\n" for n, topic in enumerate(topics)),
        encoding="utf-8",
    )
    station = Grant(Account("AIR-1", "a-secret"), write=("env/v1/air/AIR-1",))
    with guarded_mosquitto(tmp_path / "broker", station) as broker:
        env = {**os.environ, **broker_env(broker, station.account)}
        replayed = envalert("replay", str(path), "--speed", "0", env=env)
        assert replayed.returncode == 1, replayed.stdout
        assert "message 4 on env/v1/air/AIR-2: Not authorized" in replayed.stderr
        assert "Traceback" not in replayed.stderr
        assert json.loads(progress_file(path).read_text()) == {"acked": 3, "total": 7}
        resumed = envalert("replay", str(path), "--speed", "0", "--resume", env=env)
        assert "message 4 on env/v1/air/AIR-2" in resumed.stderr, "resumed at the refused message"
