"""Rules evaluated live: each station's timeline in a changelog-backed table, alerts out to Kafka.

Readings and clock ticks reach one agent, keyed by station, so a station's timeline is only
ever touched in its own partition. Each partition's watermark is the latest reading time seen
there less the allowed lateness; a timer sends it as a tick to every station heard from on that
partition, so a station that stopped talking is still judged. Transitions go to Kafka
``alerts`` keyed by fingerprint, and from there to InfluxDB measurement ``alerts``.
"""

from __future__ import annotations

import json
import logging
import weakref
from datetime import datetime, timedelta

from faust.streams import _current_event
from faust.types import EventT, StreamT
from pydantic import ValidationError

from ingest.contract import EPOCH, Reading
from rules.catalogue import all_rules, load_catalogue
from rules.evaluator import StationEvaluator, Transition
from rules.events import AlertEvent, alert_event
from rules.timeline import Timeline, accept, advance, floor_minute
from streams.agents import held_batches, stations
from streams.app import alerts_topic, app, settings, ticks_topic

log = logging.getLogger(__name__)

#: Loaded when the worker imports its agents, so a bad catalogue stops it at start.
catalogue = load_catalogue(settings.rules_file)
rules_by_id = all_rules(catalogue)
evaluators = {
    station_id: StationEvaluator(catalogue.rules, station) for station_id, station in stations.items()
}

#: Each station's timeline, keyed by its raw id like its readings, so it lives in their partition.
timelines = app.Table("timelines", key_type=bytes, value_type=str)
LATENESS = timedelta(seconds=settings.allowed_lateness_seconds)
#: Short batches: an alert waits for its batch, and a batch is judged as a whole.
EVALUATION_BATCH_SECONDS = 0.2


class Watermarks:
    """Per ``readings`` partition: the latest reading time seen there, less the allowed lateness.

    A partition's readings come in log order, so its watermark never runs ahead of readings still
    to come in it, except by the lateness it allows; a fleet-wide one would, whenever one
    partition lags another (a tick could then overtake a station's own readings).
    """

    def __init__(self) -> None:
        self.latest: dict[int, datetime] = {}
        #: The partition each station's readings arrive on, so its ticks carry that watermark.
        self.partition_of: dict[str, int] = {}
        #: The minute of the last tick sent to each station.
        self.ticked: dict[str, datetime] = {}

    def saw(self, station_id: str, partition: int, ts: datetime) -> datetime:
        self.partition_of[station_id] = partition
        self.latest[partition] = max(self.latest.get(partition, ts), ts)
        return self.latest[partition] - LATENESS

    def for_station(self, station_id: str) -> datetime | None:
        partition = self.partition_of.get(station_id)
        return None if partition is None else self.latest[partition] - LATENESS


watermarks = Watermarks()


async def publish(events: list[AlertEvent]) -> None:
    """Send and wait for Kafka's ack, before the timeline that produced them is saved: a crash in
    between replays the reading and sends the same transitions again (same key), never none."""
    pending = []
    for event in events:
        log.info("alert %s", event.message_en)
        pending.append(
            await alerts_topic.send(key=event.fingerprint.encode(), value=event.model_dump_json().encode())
        )
    for sent in pending:
        await sent


@app.agent(
    app.topic(
        settings.readings_topic,
        settings.ticks_topic,
        key_type=bytes,
        value_type=bytes,
        value_serializer="raw",
    )
)
async def evaluate(stream: StreamT[bytes]) -> None:
    """Judge each station's readings and ticks against the catalogue, in event time.

    Events come in batches; each station's timeline is read once, advanced through the batch in
    order, and written back once, which keeps changelog writes to one per station per batch."""
    async for events in held_batches(stream, settings.write_batch_size, EVALUATION_BATCH_SECONDS):
        touched: dict[str, tuple[Timeline, EventT[bytes]]] = {}
        events_out: list[AlertEvent] = []
        for event in events:
            station_id = (event.key or b"").decode()
            evaluator = evaluators.get(station_id)
            if evaluator is None:
                continue  # no catalogue entry: stored, not judged
            if station_id not in touched:
                stored = timelines.get(station_id.encode())
                touched[station_id] = (Timeline.model_validate_json(stored) if stored else Timeline(), event)
            timeline = touched[station_id][0]
            touched[station_id] = (timeline, event)
            try:
                transitions = judge(
                    timeline, evaluator, event.message.topic, event.message.partition, event.value
                )
            except Exception:
                # One station's bad state must not stop the others (nor the storing agent, which
                # shares this topic): say so loudly and go on with the next event.
                log.exception("could not judge %s for %s; its rules skip it", event.message.topic, station_id)
                continue
            events_out += [alert_event(t, rules_by_id[t.rule], evaluator.station) for t in transitions]
        await publish(events_out)
        for station_id, (timeline, last) in touched.items():
            save(station_id, timeline, last)


def save(station_id: str, timeline: Timeline, last: EventT[bytes]) -> None:
    """Write a timeline as if while its station's last event was processed: faust's tables send
    the changelog to the partition of the event in hand, read from this context variable.
    (Stream._set_current_event would also repoint the stream's own current event, which
    take_events pairs with the next value it buffers: that lost readings.)"""
    token = _current_event.set(weakref.ref(last))
    try:
        timelines[station_id.encode()] = timeline.model_dump_json()
    finally:
        _current_event.reset(token)


def judge(
    timeline: Timeline, evaluator: StationEvaluator, topic: str, partition: int, value: bytes
) -> list[Transition]:
    station_id = evaluator.station.id
    if topic == settings.ticks_topic:
        watermark = datetime.fromisoformat(json.loads(value)["watermark"])
    else:
        try:
            reading = Reading.model_validate_json(value)
        except ValidationError:
            return []  # the storing agent sends it to the dead-letter topic
        watermark = watermarks.saw(station_id, partition, reading.ts)
        if not accept(timeline, reading):
            log.warning(
                "late reading from %s at %s: stored, not judged (%d late so far)",
                station_id,
                reading.ts.isoformat(),
                timeline.late,
            )
    return advance(timeline, evaluator, watermark)


@app.timer(interval=settings.tick_seconds)  # type: ignore[untyped-decorator]  # faust's is unannotated
async def send_ticks() -> None:
    """Send each station heard from its partition's watermark, through Kafka so that the tick is
    judged in the station's partition (tables can only be written there)."""
    for station_id in list(watermarks.partition_of):
        watermark = watermarks.for_station(station_id)
        # Ticks matter only on whole minutes: send one when the watermark reached a new one.
        if watermark is not None and floor_minute(watermark) > watermarks.ticked.get(station_id, EPOCH):
            watermarks.ticked[station_id] = floor_minute(watermark)
            value = json.dumps({"watermark": watermark.isoformat()}).encode()
            await ticks_topic.send(key=station_id.encode(), value=value)
