"""Rules evaluated live: each station's timeline in a changelog-backed table, alerts out to Kafka.

Readings and clock ticks reach one agent, keyed by station, so a station's timeline is only
ever touched in its own partition. A station's readings are judged as its own clock passes them;
each partition's watermark is the latest reading time seen there less the allowed lateness, and a
timer sends it as ticks to the stations of that partition, a slice at a time (streams/ticks.py),
so a station that stopped talking is still judged (streams/watermarks.py).
Transitions go to Kafka ``alerts`` keyed by fingerprint, and from there to InfluxDB measurement
``alerts``; what air and noise stations derive for the city's figures goes to the fleet's agent
(streams/fleet.py).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from faust.types import TP, AppT, EventT, StreamT
from mode.types.signals import BaseSignalT
from pydantic import ValidationError

from envalert.core.contract import Reading
from rules import figures
from rules.catalogue import all_rules, load_catalogue
from rules.derived import Facts, deriver_for
from rules.evaluator import StationEvaluator, Transition
from rules.events import AlertEvent, alert_event
from rules.figures import Figure
from rules.fleet import CITY, FleetUpdate
from rules.timeline import Timeline, accept, advance, hand_over
from streams.agents import dead_letter, held_batches, stations
from streams.app import alerts_topic, app, derived_topic, fleet_topic, rows_table, settings, ticks_topic
from streams.handoff import Outgoing, send_all
from streams.metrics import JUDGED, LATE_READINGS, TRANSITIONS, UNJUDGED, WATERMARK
from streams.offsets import ConsumerOffsets
from streams.ticks import Rounds, Slices, Tick, TickPacer
from streams.timelines import Timelines
from streams.watermarks import Watermarks, home_partitions

log = logging.getLogger(__name__)

#: Loaded when the worker imports its agents, so a bad catalogue stops it at start.
catalogue = load_catalogue(settings.rules_file)
rules_by_id = all_rules(catalogue)
evaluators = {
    station_id: StationEvaluator(catalogue.rules, station) for station_id, station in stations.items()
}
derivers = {station_id: deriver_for(station) for station_id, station in stations.items()}

#: Each station's timeline, keyed by its raw id like its readings, so it lives in their partition.
timelines = rows_table("timelines")
kept = Timelines(timelines, settings.kept_timelines)
LATENESS = timedelta(seconds=settings.allowed_lateness_seconds)
#: Short batches: an alert waits for its batch, and a batch is judged as a whole. (0.2 s cost
#: up to a fifth of a second of alert latency; its effect on throughput was not measured apart.)
EVALUATION_BATCH_SECONDS = 0.05


offsets = ConsumerOffsets(app, settings.readings_topic)
#: Every station of the catalogue is ticked, heard from or not, so that silence counts from a
#: restart too and the city's clock hears from every station it waits for.
watermarks = Watermarks(
    home_partitions(stations, settings.topic_partitions),
    LATENESS,
    idle_after=settings.idle_seconds,
    log_end=offsets.end,
    log_start=offsets.start,
)
pacer = TickPacer(settings.tick_seconds)
slices = Slices()
rounds = Rounds(timedelta(seconds=settings.fleet_patience_seconds))


def alert_records(events: list[AlertEvent]) -> list[Outgoing]:
    for event in events:
        log.info("alert %s", event.message_en)
        TRANSITIONS.labels(event.rule, event.state).inc()
    return [(alerts_topic, event.fingerprint.encode(), event) for event in events]


def source_of(partition: int) -> str:
    """The fleet's name for a partition's progress (rules/fleet.py): every station homed there is
    judged to a tick's watermark once the tick is."""
    return f"partition-{partition}"


#: The partitions whose progress the fleet's clock waits for: those that home a deriving station.
fleet_sources = sorted(
    {source_of(watermarks.partition_of[station_id]) for station_id, deriver in derivers.items() if deriver}
)


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
    order, and written back once, which keeps changelog writes to one per station per batch. A
    tick concerns a slice of its partition's stations: a batch hands on what it judged every
    ``HAND_ON_STATIONS`` stations, so that slices over 100,000 stations do not hold them all."""
    async for events in held_batches(stream, settings.write_batch_size, EVALUATION_BATCH_SECONDS):
        judged = Judged()
        for event in events:
            try:
                tick = tick_of(event)
            except ValidationError as error:  # a forged record, or one from another version
                await refuse(event, "unreadable_record", f"not a tick: {error}")
                continue
            if tick is None and event.message.topic == settings.ticks_topic:
                continue  # a tick for a partition this worker has not seen a reading of yet
            if tick is None:
                watermarks.took(event.message.partition, event.message.offset)
            reached: list[datetime | None] = []  # how far the tick's stations that feed the fleet stand
            for station_id in stations_ticked(event.message.partition, tick) if tick else [key_of(event)]:
                evaluator = evaluators.get(station_id)
                if evaluator is None:
                    continue  # no catalogue entry: stored, not judged
                timeline = judged.timeline(station_id, event)
                try:
                    transitions = judge(timeline, evaluator, event, tick, judged.late)
                except Exception as error:
                    # One station's bad state must not stop the others (nor the storing agent,
                    # which shares this topic); the record is kept to be judged again once fixed.
                    log.exception("could not judge %s for %s", event.message.topic, station_id)
                    await refuse(event, "judge_failed", f"{station_id}: {type(error).__name__}: {error}")
                    continue
                judged.alerts += [alert_event(t, rules_by_id[t.rule], evaluator.station) for t in transitions]
                if tick is not None and derivers.get(station_id):
                    reached.append(timeline.judged_to)
                if len(judged.touched) >= HAND_ON_STATIONS:
                    await judged.hand_on()
            partition = event.message.partition
            if tick is not None and (everyone := rounds.judged(partition, tick, reached)) is not None:
                judged.progress[source_of(event.message.partition)] = everyone
        await judged.hand_on()


#: At most this many timelines are held by a batch before what they gave is handed on.
HAND_ON_STATIONS = 1000


class Judged:
    """What a batch has judged and not yet handed on: the timelines it advanced (each with the
    last event that touched it), the alerts, the late readings' figures, and the partitions whose
    every station a tick has judged, with the tick's watermark."""

    def __init__(self) -> None:
        self.touched: dict[str, tuple[Timeline, EventT[bytes]]] = {}
        self.alerts: list[AlertEvent] = []
        self.late: list[Figure] = []
        self.progress: dict[str, datetime] = {}

    def timeline(self, station_id: str, event: EventT[bytes]) -> Timeline:
        """The station's timeline, taken once per hand-on, now touched by ``event``."""
        held = self.touched.get(station_id)
        timeline = held[0] if held else kept.take(station_id.encode())
        self.touched[station_id] = (timeline, event)
        return timeline

    async def hand_on(self) -> None:
        """Send the alerts and figures, then save the timelines they came from and wait until
        Kafka has them, before the batch is acknowledged (handoff.py)."""
        await send_all(
            [
                *alert_records(self.alerts),
                *fleet_records(self.touched, self.progress),
                *figure_records(self.late),
            ]
        )
        for station_id, (timeline, last) in self.touched.items():
            kept.save(station_id.encode(), timeline, last)
        self.touched, self.alerts, self.late, self.progress = {}, [], [], {}
        await timelines.confirm()


async def refuse(event: EventT[bytes], reason: str, detail: str) -> None:
    """Keep a record the rules could not take in the dead-letter topic, counted, instead of
    acknowledging it unjudged."""
    UNJUDGED.labels(reason).inc()
    log.error("%s record at %s[%d]: %s", reason, event.message.topic, event.message.partition, detail[:300])
    await dead_letter(event.message.topic, event.value, reason, detail[:1000], "worker:evaluate")


def key_of(event: EventT[bytes]) -> str:
    return (event.key or b"").decode()


def tick_of(event: EventT[bytes]) -> Tick | None:
    """A tick, for a slice of its partition's stations; None for a reading.

    Its watermark is never past what this worker has itself seen of the partition: a tick sent
    before a restart can come back before the readings it followed, which are replayed from the
    last commit, and it would judge their stations silent and their readings late (the chaos
    test caught it)."""
    if event.message.topic != settings.ticks_topic:
        return None
    tick = Tick.model_validate_json(event.value)
    seen = watermarks.of(event.message.partition)
    return None if seen is None else tick.model_copy(update={"watermark": min(tick.watermark, seen)})


def stations_ticked(partition: int, tick: Tick) -> list[str]:
    """The tick's slice, less any station whose readings have since been seen on another
    partition (its timeline is written there)."""
    ticked = slices.of(partition, tick, watermarks.stations_on)
    return [station_id for station_id in ticked if watermarks.partition_of[station_id] == partition]


def fleet_records(
    touched: dict[str, tuple[Timeline, EventT[bytes]]], progress: dict[str, datetime]
) -> list[Outgoing]:
    """The batch's facts and progress, for the fleet's agent: one record, in one partition, after
    the facts of earlier hand-ons of the same tick."""
    facts = Facts()
    for station_id, (timeline, _) in touched.items():
        if derivers.get(station_id):
            facts.add(hand_over(timeline))
    if not facts and not progress:
        return []
    return [(fleet_topic, CITY.encode(), FleetUpdate(facts=facts, judged_to=progress))]


def figure_records(figures: list[Figure]) -> list[Outgoing]:
    return [(derived_topic, figure.measurement.encode(), figure) for figure in figures]


def judge(
    timeline: Timeline,
    evaluator: StationEvaluator,
    event: EventT[bytes],
    tick: Tick | None,
    late: list[Figure],
) -> list[Transition]:
    """Advance a station's timeline to a tick, or by one reading; a late reading is counted in
    ``late``."""
    station_id = evaluator.station.id
    JUDGED.labels(event.message.topic).inc()
    if tick is not None:
        watermark = watermarks.for_station(station_id, tick.watermark)
        if watermark is None:
            return []  # not heard from yet, and not silent for long enough to be judged so
    else:
        try:
            reading = Reading.model_validate_json(event.value)
        except ValidationError:
            return []  # the storing agent sends it to the dead-letter topic
        watermark = watermarks.saw(station_id, event.message.partition, reading.ts)
        if not accept(timeline, reading):
            log.warning(
                "late reading from %s at %s: stored, not judged (%d late so far)",
                station_id,
                reading.ts.isoformat(),
                timeline.late,
            )
            late.append(figures.late_reading(station_id, timeline.late, reading.ts))
            LATE_READINGS.inc()
    return advance(timeline, evaluator, watermark, derivers.get(station_id))


@app.timer(interval=settings.tick_seconds)  # type: ignore[untyped-decorator]  # faust's is unannotated
async def send_ticks() -> None:
    """Send each of this worker's partitions its watermark when it reaches a new minute, a slice
    of its stations per record, through Kafka so that the tick is judged in that partition
    (tables can only be written there)."""
    assigned = {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == settings.readings_topic}
    await offsets.learn_starts(p for p in assigned if p not in watermarks.taken and watermarks.left(p) != 0)
    pacer.start_rounds(watermarks.due_ticks(assigned), lambda at: len(watermarks.stations_on(at)))
    for partition, tick in pacer.next_ticks():
        value = tick.model_dump_json().encode()
        await ticks_topic.send(key=f"partition-{partition}".encode(), value=value, partition=partition)
    for partition, watermark in watermarks.given.items():
        WATERMARK.labels(str(partition)).set(watermark.timestamp())


@app.on_partitions_revoked.connect
def forget_revoked(sender: AppT, /, *args: Any, signal: BaseSignalT[Any], **kwargs: Any) -> None:
    """What was taken from a partition that left this worker says nothing once it comes back."""
    revoked: set[TP] = args[0]
    for tp in revoked:
        if tp.topic == settings.readings_topic:
            watermarks.forget(tp.partition)
            offsets.forget(tp.partition)
