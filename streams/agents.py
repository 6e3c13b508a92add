"""Stream processors. Offsets advance only after InfluxDB has a batch (at-least-once)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import cast

from faust.streams import Stream
from faust.types import EventT, StreamT
from pydantic import ValidationError

from ingest.contract import Reading
from ingest.kafka import rejected_record
from ingest.stations import Station, load_stations
from streams.app import app, readings_topic, rejected_topic, settings
from streams.influx import make_writer, reading_line
from streams.sink import RetryingSink

log = logging.getLogger(__name__)
SOURCE = "worker:store_readings"
#: Loaded when the worker imports its agents, so a bad catalogue stops it at start.
stations: dict[str, Station] = load_stations(settings.stations_file)
REPORT_SECONDS = 10.0


async def dead_letter(topic: str, payload: bytes, reason: str, detail: str) -> None:
    now = datetime.now(UTC)
    record = rejected_record(topic, payload, reason=reason, detail=detail, received_at=now, source=SOURCE)
    await rejected_topic.send(key=topic.encode(), value=record)


class ProgressReport:
    """A log line at most every 10 s while readings flow: how many were stored, how fast."""

    def __init__(self) -> None:
        self._since = time.monotonic()
        self._reported = 0

    def batch_done(self, stored: int) -> None:
        elapsed = time.monotonic() - self._since
        if elapsed >= REPORT_SECONDS:
            rate = (stored - self._reported) / elapsed
            log.info("stored %d readings in InfluxDB since start (%.0f/s)", stored, rate)
            self._since, self._reported = time.monotonic(), stored


def decode(events: Sequence[EventT[bytes]]) -> tuple[list[Reading], list[tuple[bytes, str]]]:
    readings: list[Reading] = []
    bad: list[tuple[bytes, str]] = []
    for event in events:
        raw = event.value
        try:
            readings.append(Reading.model_validate_json(raw))
        except ValidationError as error:
            bad.append((raw, str(error).replace("\n", " ")[:1000]))
    return readings, bad


@app.agent(readings_topic)
async def store_readings(stream: StreamT[bytes]) -> None:
    """Write every reading to InfluxDB, in batches bounded by size and by time."""
    writer = make_writer(settings)
    sink = RetryingSink(writer, settings.write_retry_max_seconds)
    await sink.prepare()
    log.info("storing readings in %s; %d stations catalogued", writer.address, len(stations))
    report = ProgressReport()

    def line(reading: Reading) -> str:
        return reading_line(reading, stations.get(reading.station))

    async def refused(reading: Reading, reason: str) -> None:
        raw = reading.model_dump_json().encode()
        await dead_letter(settings.readings_topic, raw, "influx_refused", reason)

    try:
        # take_events exists on every Stream but is missing from faust's StreamT protocol.
        batches = cast(Stream[bytes], stream).take_events(
            settings.write_batch_size, within=settings.write_batch_seconds
        )
        async for events in batches:
            # take_events acks a batch even when this body is interrupted: hold each message
            # with one more reference, released only after InfluxDB has it.
            for event in events:
                event.message.incref()
            readings, bad = decode(events)
            for raw, reason in bad:
                await dead_letter(settings.readings_topic, raw, "not_a_reading", reason)
            await sink.store(readings, line, refused)
            report.batch_done(sink.written)
            for event in events:
                await stream.ack(event)
    finally:
        await writer.close()
