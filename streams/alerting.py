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


class Watermark:
    """The latest reading time this worker has seen, less the allowed lateness."""

    latest: datetime | None = None
    late: int = 0

    @classmethod
    def saw(cls, ts: datetime) -> None:
        cls.latest = ts if cls.latest is None else max(cls.latest, ts)

    @classmethod
    def now(cls) -> datetime | None:
        return None if cls.latest is None else cls.latest - LATENESS


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
            await judge(station_id, evaluator, event.message.topic, event.value)
        except Exception:
            # One station's bad state must not stop the others (nor the storing agent, which
            # shares this topic): say so loudly and go on with the next event.
            log.exception(
                "could not judge %s for %s; its rules skip this event", event.message.topic, station_id
            )


async def judge(station_id: str, evaluator: StationEvaluator, topic: str, value: bytes) -> None:
    stored = timelines.get(station_id)
    timeline = Timeline.model_validate_json(stored) if stored else Timeline()
    if topic == settings.ticks_topic:
        watermark = datetime.fromisoformat(json.loads(value)["watermark"])
    else:
        try:
            reading = Reading.model_validate_json(value)
        except ValidationError:
            return  # the storing agent sends it to the dead-letter topic
        Watermark.saw(reading.ts)
        if not accept(timeline, reading):
            log.warning(
                "late reading from %s at %s: stored, not judged (%d late so far)",
                station_id,
                reading.ts.isoformat(),
                timeline.late,
            )
        watermark = Watermark.now() or reading.ts - LATENESS
    transitions = advance(timeline, evaluator, watermark)
    await publish([alert_event(t, rules_by_id[t.rule], evaluator.station) for t in transitions])
    timelines[station_id] = timeline.model_dump_json()


@app.timer(interval=settings.tick_seconds)  # type: ignore[untyped-decorator]  # faust's is unannotated
async def send_ticks() -> None:
    """Send the watermark to every catalogued station, through Kafka so each lands in its partition."""
    watermark = Watermark.now()
    if watermark is None:
        return
    value = json.dumps({"watermark": watermark.isoformat()}).encode()
    for station_id in evaluators:
        await ticks_topic.send(key=station_id.encode(), value=value)
