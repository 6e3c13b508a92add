"""Storing agents: readings, alerts and figures into InfluxDB, offsets advancing only after the write.

Both use the same loop: batches bounded by size and time, each batch held until InfluxDB has it
(at-least-once), records that are not what the topic promises sent to the dead-letter topic.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TypeVar, cast

from faust.streams import Stream
from faust.types import EventT, StreamT
from pydantic import BaseModel, ValidationError

from envalert.core.contract import Reading
from envalert.core.influx import make_writer, reading_line
from rules.events import AlertEvent
from rules.figures import Figure
from streams.app import Worker
from streams.metrics import STORED
from streams.points import alert_line, figure_line
from streams.sink import RetryingSink

log = logging.getLogger(__name__)
REPORT_SECONDS = 10.0
Record = TypeVar("Record", bound=BaseModel)


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
    worker: Worker,
    stream: StreamT[bytes],
    model: type[Record],
    line: Callable[[Record], str],
    *,
    topic: str,
    what: str,
) -> None:
    """Write every record of ``stream`` to InfluxDB, in batches bounded by size and by time."""
    settings = worker.settings
    source = f"worker:store_{what}"
    writer = make_writer(settings)
    sink = RetryingSink(writer, settings.write_retry_max_seconds)
    await sink.prepare()
    log.info("storing %s in %s", what, writer.address)
    report = ProgressReport(what)

    async def refused(record: Record, reason: str) -> None:
        await worker.dead_letter(topic, record.model_dump_json().encode(), "influx_refused", reason, source)

    try:
        async for events in held_batches(stream, settings.write_batch_size, settings.write_batch_seconds):
            records, bad = decode(events, model)
            for raw, reason in bad:
                await worker.dead_letter(topic, raw, "malformed_record", reason, source)
            written = sink.written
            await sink.store(records, line, refused)
            STORED.labels(what).inc(sink.written - written)
            report.batch_done(sink.written)
    finally:
        await writer.close()


def add_storing_agents(worker: Worker) -> None:
    """Three agents, each storing one topic: readings (one measurement per kind), alert
    transitions (measurement ``alerts``) and derived figures (AQI, night Leq, compliance, the
    plan's progress)."""
    app, topics, settings = worker.app, worker.topics, worker.settings

    def reading(reading: Reading) -> str:
        return reading_line(reading, worker.stations.get(reading.station))

    @app.agent(topics.readings, name=f"{__name__}.store_readings")
    async def store_readings(stream: StreamT[bytes]) -> None:
        await store(worker, stream, Reading, reading, topic=settings.readings_topic, what="readings")

    @app.agent(topics.alerts, name=f"{__name__}.store_alerts")
    async def store_alerts(stream: StreamT[bytes]) -> None:
        await store(worker, stream, AlertEvent, alert_line, topic=settings.alerts_topic, what="alerts")

    @app.agent(topics.derived, name=f"{__name__}.store_figures")
    async def store_figures(stream: StreamT[bytes]) -> None:
        await store(worker, stream, Figure, figure_line, topic=settings.derived_topic, what="figures")
