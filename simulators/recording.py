"""Station messages on disk: what ``envalert record`` writes and ``envalert replay`` reads.

A recording is JSON Lines, one MQTT message per line, exactly as it was published:
``{"topic": …, "payload": "<text>"}`` (``payload_base64`` instead for bytes that are not UTF-8,
as broken stations send), with ``received_at``. Replay also takes readings in our contract, as
JSON Lines (``{"station", "kind", "ts", "values", "flags"}``) or CSV (columns ``station``,
``kind``, ``ts``, then one per metric, empty where a station has none).
"""

from __future__ import annotations

import base64
import csv
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from envalert.core.contract import CHINA_STANDARD_TIME, METRICS, Kind, Reading
from ingest.publisher import Message, message_of
from ingest.validation import Rejection, parse_reading

#: Messages are paced by their readings' own time; any time is "not in the future" for that.
_NO_FUTURE_CHECK = timedelta(days=365 * 1000)


def event_time(message: Message) -> datetime | None:
    """The reading's own time, or None for a message that is not a valid reading."""
    parsed = parse_reading(message.topic, message.payload, datetime.now(UTC), _NO_FUTURE_CHECK)
    return None if isinstance(parsed, Rejection) else parsed.ts


def recorded_line(message: Message, received_at: datetime) -> str:
    body: dict[str, Any] = {"topic": message.topic, "received_at": received_at.isoformat()}
    try:
        body["payload"] = message.payload.decode("utf-8")
    except UnicodeDecodeError:
        body["payload_base64"] = base64.b64encode(message.payload).decode("ascii")
    return json.dumps(body, ensure_ascii=False)


class RecordingError(ValueError):
    """A line that is neither a recorded message nor a reading; says the file and line."""


def read_messages(path: Path) -> Iterator[Message]:
    """Every message of a recording, a JSONL of readings or a CSV of readings, in file order."""
    with path.open(encoding="utf-8", newline="") as source:
        if path.suffix.lower() == ".csv":
            yield from _csv_messages(source, path)
        else:
            yield from _jsonl_messages(source, path)


def _jsonl_messages(source: TextIO, path: Path) -> Iterator[Message]:
    for number, text in enumerate(source, start=1):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
            if "topic" in line:
                payload = (
                    base64.b64decode(line["payload_base64"])
                    if "payload_base64" in line
                    else str(line["payload"]).encode("utf-8")
                )
                yield Message(str(line["topic"]), payload)
            else:
                yield message_of(Reading.model_validate(line))
        except (ValueError, KeyError, TypeError) as error:
            raise RecordingError(
                f"{path}:{number}: neither a recorded message (topic, payload) nor a reading "
                f"(station, kind, ts, values): {str(error)[:200]}"
            ) from None


def _csv_messages(source: TextIO, path: Path) -> Iterator[Message]:
    for number, row in enumerate(csv.DictReader(source), start=2):
        try:
            kind = Kind(row["kind"])
            values = {
                metric: float(row[metric]) for metric in METRICS[kind] if (row.get(metric) or "").strip()
            }
            ts = datetime.fromisoformat(row["ts"])
            ts = ts if ts.tzinfo else ts.replace(tzinfo=CHINA_STANDARD_TIME)  # the contract's default
            reading = Reading(station=row["station"], kind=kind, ts=ts, values=values)
        except (ValueError, KeyError) as error:
            raise RecordingError(
                f"{path}:{number}: a CSV row needs station, kind, ts and metric columns: {str(error)[:200]}"
            ) from None
        yield message_of(reading)
