"""Record then replay, as a developer runs them, against the real mosquitto."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from simulators.publisher import WindowedPublisher
from simulators.recording import read_messages
from simulators.replay import progress_file
from tests.conftest import Services, envalert, wait_until

pytestmark = pytest.mark.integration


def lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines()) if path.exists() else 0


@contextmanager
def recording(path: Path, env: dict[str, str]) -> Iterator[None]:
    recorder = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "record", str(path)], env=env, stderr=subprocess.PIPE, text=True
    )
    assert recorder.stderr is not None
    assert "recording env/v1/#" in recorder.stderr.readline(), "the recorder is subscribed"
    try:
        yield
    finally:
        recorder.send_signal(signal.SIGTERM)
        assert recorder.wait(timeout=30) == 0


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

    with recording(again, env):
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
