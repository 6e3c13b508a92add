"""Recordings and readings on disk: every format replay takes, and what a bad line says."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from envalert.core.contract import CHINA_STANDARD_TIME, Kind, Reading
from ingest.publisher import Message, message_of
from simulators.recording import RecordingError, event_time, read_messages, recorded_line
from simulators.replay import paced

T0 = datetime(2026, 10, 20, 8, 0, tzinfo=CHINA_STANDARD_TIME)


def reading(minutes: int, **values: float) -> Reading:
    return Reading(station="ZZ-AIR-JS01", kind=Kind.AIR, ts=T0 + timedelta(minutes=minutes), values=values)


def test_a_recording_keeps_each_message_byte_for_byte(tmp_path: Path) -> None:
    messages = [
        message_of(reading(0, pm25=41.5)),
        Message("env/v1/air/ZZ-AIR-JS01", "PM2.5=75；坏".encode()),
        Message("env/v1/air/ZZ-AIR-JS01", b"\xff\xfe not UTF-8"),
    ]
    path = tmp_path / "recorded.jsonl"
    path.write_text("".join(recorded_line(m, T0) + "\n" for m in messages), encoding="utf-8")
    assert list(read_messages(path)) == messages
    assert "payload_base64" in path.read_text().splitlines()[2]


def test_readings_as_jsonl_and_as_csv(tmp_path: Path) -> None:
    jsonl = tmp_path / "readings.jsonl"
    jsonl.write_text(
        reading(0, pm25=41.5).model_dump_json() + "\n\n" + reading(1, pm25=42.0).model_dump_json()
    )
    csv = tmp_path / "readings.csv"
    csv.write_text("station,kind,ts,pm25,pm10,nh3\nZZ-AIR-JS01,air,2026-10-20T08:00:00,41.5,,\n")
    (first, second), (from_csv,) = list(read_messages(jsonl)), list(read_messages(csv))
    assert first == message_of(reading(0, pm25=41.5)) and second == message_of(reading(1, pm25=42.0))
    assert from_csv == first, "a CSV time without an offset is Beijing time, as the contract says"
    assert json.loads(from_csv.payload)["values"] == {"pm25": 41.5}


@pytest.mark.parametrize(
    ("name", "text", "complaint"),
    [
        ("bad.jsonl", '{"topic": "env/v1/air/A"}\n', "bad.jsonl:1: neither a recorded message"),
        ("bad.jsonl", "\n{not json\n", "bad.jsonl:2: neither a recorded message"),
        (
            "bad.csv",
            "station,kind,ts\nA,plasma,2026-10-20T08:00:00\n",
            "bad.csv:2: a CSV row needs station, kind",
        ),
    ],
)
def test_a_bad_line_is_named_by_file_and_line(tmp_path: Path, name: str, text: str, complaint: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(RecordingError, match=complaint):
        list(read_messages(path))


def test_pacing_follows_the_readings_time_at_the_chosen_speed() -> None:
    now = [100.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(round(seconds, 6))
        now[0] += seconds

    broken = Message("env/v1/air/ZZ-AIR-JS01", b"garbage")
    messages = [
        message_of(reading(0, pm25=1)),
        message_of(reading(10, pm25=2)),
        broken,
        message_of(reading(5, pm25=3)),
    ]
    out = list(paced(messages, speed=60, sleep=sleep, clock=lambda: now[0]))
    assert out == messages
    assert waits == [10.0], "10 minutes at 60×; the broken one and the late one go at once"
    assert event_time(broken) is None
    assert list(paced(messages, speed=0, sleep=sleep, clock=lambda: now[0])) == messages and waits == [10.0]
