"""Storing agents: readings, alerts and figures into InfluxDB, offsets advancing only after the write.

Both use the same loop: batches bounded by size and time, each batch held until InfluxDB has it
(at-least-once), records that are not what the topic promises sent to the dead-letter topic.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import TypeVar, cast

from faust.streams import Stream
from faust.types import EventT, StreamT
from pydantic import BaseModel, ValidationError

from envalert.core.contract import Reading
from envalert.core.influx import make_writer, reading_line
from envalert.core.kafka import rejected_record
from envalert.core.stations import Station, load_stations
from rules.events import AlertEvent
from rules.figures import Figure
from streams.app import alerts_topic, app, derived_topic, readings_topic, rejected_topic, settings
from streams.metrics import STORED
from streams.points import alert_line, figure_line
from streams.sink import RetryingSink

log = logging.getLogger(__name__)
#: Loaded when the worker imports its agents, so a bad catalogue stops it at start.
stations: dict[str, Station] = load_stations(settings.stations_file)
REPORT_SECONDS = 10.0
Record = TypeVar("Record", bound=BaseModel)


async def dead_letter(topic: str, payload: bytes, reason: str, detail: str, source: str) -> None:
    now = datetime.now(UTC)
    record = rejected_record(topic, payload, reason=reason, detail=detail, received_at=now, source=source)
    await rejected_topic.send(key=topic.encode(), value=record)


class ProgressReport:
    """A log line at most every 10 s while records flow: how many were stored, how fast."""

    def __init__(self, what: str) -> None:
        self._what = what
        self._since = time.monotonic()
        self._reported = 0

    def batch_done(self, stored: int) -> None:
        elapsed = time.monotonic() - self._since
        if elapsed >= REPORT_SECONDS:
            rate = (stored - self._reported) / elapsed
            log.info("stored %d %s in InfluxDB since start (%.0f/s)", stored, self._what, rate)
            self._since, self._reported = time.monotonic(), stored


def decode(
    events: Sequence[EventT[bytes]], model: type[Record]
) -> tuple[list[Record], list[tuple[bytes, str]]]:
    good: list[Record] = []
    bad: list[tuple[bytes, str]] = []
    for event in events:
        raw = event.value
        try:
            good.append(model.model_validate_json(raw))
        except ValidationError as error:
            bad.append((raw, str(error).replace("\n", " ")[:1000]))
    return good, bad


async def held_batches(
    stream: StreamT[bytes], size: int, within: float
) -> AsyncIterator[Sequence[EventT[bytes]]]:
    """Batches bounded by size and time, acknowledged only once the caller asks for the next.

    take_events acks a batch even when the caller's work on it is interrupted (a graceful stop
    during an outage would commit what was never done): each message is held with one more
    reference, released only when the caller has finished with its batch.
    """
    # take_events exists on every Stream but is missing from faust's StreamT protocol.
    async for events in cast(Stream[bytes], stream).take_events(size, within=within):
        for event in events:
            event.message.incref()
        yield events
        for event in events:
            await stream.ack(event)


async def store(
    stream: StreamT[bytes], model: type[Record], line: Callable[[Record], str], topic: str, what: str
) -> None:
    """Write every record of ``stream`` to InfluxDB, in batches bounded by size and by time."""
    source = f"worker:store_{what}"
    writer = make_writer(settings)
    sink = RetryingSink(writer, settings.write_retry_max_seconds)
    await sink.prepare()
    log.info("storing %s in %s", what, writer.address)
    report = ProgressReport(what)

    async def refused(record: Record, reason: str) -> None:
        await dead_letter(topic, record.model_dump_json().encode(), "influx_refused", reason, source)

    try:
        async for events in held_batches(stream, settings.write_batch_size, settings.write_batch_seconds):
            records, bad = decode(events, model)
            for raw, reason in bad:
                await dead_letter(topic, raw, "malformed_record", reason, source)
            written = sink.written
            await sink.store(records, line, refused)
            STORED.labels(what).inc(sink.written - written)
            report.batch_done(sink.written)
    finally:
        await writer.close()


@app.agent(readings_topic)
async def store_readings(stream: StreamT[bytes]) -> None:
    """Every reading into InfluxDB, one measurement per kind."""

    def line(reading: Reading) -> str:
        return reading_line(reading, stations.get(reading.station))

    await store(stream, Reading, line, settings.readings_topic, "readings")


@app.agent(alerts_topic)
async def store_alerts(stream: StreamT[bytes]) -> None:
    """Every alert transition into InfluxDB measurement ``alerts``."""
    await store(stream, AlertEvent, alert_line, settings.alerts_topic, "alerts")


@app.agent(derived_topic)
async def store_figures(stream: StreamT[bytes]) -> None:
    """Every derived figure (AQI, night Leq, compliance, the plan's progress) into InfluxDB."""
    await store(stream, Figure, figure_line, settings.derived_topic, "figures")
