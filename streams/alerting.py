"""Rules evaluated live: each station's timeline in a changelog-backed table, alerts out to Kafka.

Readings and clock ticks reach one agent, keyed by station, so a station's timeline is only
ever touched in its own partition. The worker's watermark is the latest reading time it has
seen less the allowed lateness; a timer sends it to every catalogued station as a tick, so a
station that stopped talking is still judged. Transitions go to Kafka ``alerts`` keyed by
fingerprint, and from there to InfluxDB measurement ``alerts``.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from faust.types import StreamT
from pydantic import ValidationError

from ingest.contract import Reading
from rules.catalogue import all_rules, load_catalogue
from rules.evaluator import StationEvaluator
from rules.events import AlertEvent, alert_event
from rules.timeline import Timeline, accept, advance
from streams.agents import stations
from streams.app import alerts_topic, app, settings, ticks_topic

log = logging.getLogger(__name__)

#: Loaded when the worker imports its agents, so a bad catalogue stops it at start.
catalogue = load_catalogue(settings.rules_file)
rules_by_id = all_rules(catalogue)
evaluators = {
    station_id: StationEvaluator(catalogue.rules, station) for station_id, station in stations.items()
}

timelines = app.Table("timelines", key_type=str, value_type=str)
LATENESS = timedelta(seconds=settings.allowed_lateness_seconds)


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
    for event in events:
        log.info("alert %s", event.message_en)
        sent = await alerts_topic.send(key=event.fingerprint.encode(), value=event.model_dump_json().encode())
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
    """Judge each station's readings and ticks against the catalogue, in event time."""
    async for event in stream.events():
        station_id = (event.key or b"").decode()
        evaluator = evaluators.get(station_id)
        if evaluator is None:
            continue  # no catalogue entry: stored, not judged
        try:
            await judge(station_id, evaluator, event.message.topic, event.message.partition, event.value)
        except Exception:
            # One station's bad state must not stop the others (nor the storing agent, which
            # shares this topic): say so loudly and go on with the next event.
            log.exception(
                "could not judge %s for %s; its rules skip this event", event.message.topic, station_id
            )


async def judge(
    station_id: str, evaluator: StationEvaluator, topic: str, partition: int, value: bytes
) -> None:
    stored = timelines.get(station_id)
    timeline = Timeline.model_validate_json(stored) if stored else Timeline()
    if topic == settings.ticks_topic:
        watermark = datetime.fromisoformat(json.loads(value)["watermark"])
    else:
        try:
            reading = Reading.model_validate_json(value)
        except ValidationError:
            return  # the storing agent sends it to the dead-letter topic
        watermark = watermarks.saw(station_id, partition, reading.ts)
        if not accept(timeline, reading):
            log.warning(
                "late reading from %s at %s: stored, not judged (%d late so far)",
                station_id,
                reading.ts.isoformat(),
                timeline.late,
            )
    transitions = advance(timeline, evaluator, watermark)
    await publish([alert_event(t, rules_by_id[t.rule], evaluator.station) for t in transitions])
    timelines[station_id] = timeline.model_dump_json()


@app.timer(interval=settings.tick_seconds)  # type: ignore[untyped-decorator]  # faust's is unannotated
async def send_ticks() -> None:
    """Send each station heard from its partition's watermark, through Kafka so that the tick is
    judged in the station's partition (tables can only be written there)."""
    for station_id in list(watermarks.partition_of):
        watermark = watermarks.for_station(station_id)
        if watermark is not None:
            value = json.dumps({"watermark": watermark.isoformat()}).encode()
            await ticks_topic.send(key=station_id.encode(), value=value)
