"""Rules evaluated live: each station's timeline in a changelog-backed table, alerts out to Kafka.

Readings and clock ticks reach one agent, keyed by station, so a station's timeline is only
ever touched in its own partition. A station's readings are judged as its own clock passes them;
each partition's watermark is the latest reading time seen there less the allowed lateness, and a
timer sends it as ticks to the stations of that partition, a slice at a time (streams/ticks.py),
so a station that stopped talking is still judged (streams/watermarks.py).
Transitions go to Kafka ``alerts`` keyed by fingerprint, and from there to InfluxDB measurement
``alerts``; what air and noise stations derive for the city's figures goes to the city's agent
(streams/city.py).
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
from rules.catalogue import all_rules
from rules.derived import Facts, deriver_for
from rules.evaluator import StationEvaluator, Transition
from rules.events import AlertEvent, alert_event
from rules.figures import Figure
from rules.fleet import CITY, FleetUpdate
from rules.timeline import Timeline, accept, advance, hand_over
from streams.agents import held_batches
from streams.app import Worker
from streams.handoff import Outgoing, send_all
from streams.metrics import JUDGED, LATE_READINGS, TRANSITIONS, UNJUDGED, WATERMARK
from streams.offsets import ConsumerOffsets
from streams.ticks import Rounds, Slices, Tick, TickPacer
from streams.timelines import Timelines
from streams.watermarks import Watermarks, home_partitions

log = logging.getLogger(__name__)

#: Short batches: an alert waits for its batch, and a batch is judged as a whole. (0.2 s cost
#: up to a fifth of a second of alert latency; its effect on throughput was not measured apart.)
EVALUATION_BATCH_SECONDS = 0.05
#: At most this many timelines are held by a batch before what they gave is handed on.
HAND_ON_STATIONS = 1000


def source_of(partition: int) -> str:
    """The fleet's name for a partition's progress (rules/fleet.py): every station homed there is
    judged to a tick's watermark once the tick is."""
    return f"partition-{partition}"


def key_of(event: EventT[bytes]) -> str:
    return (event.key or b"").decode()


class Judging:
    """The stations' rules judged live: the agent that judges readings and ticks, the timer that
    sends the ticks, and what they share (the stations' evaluators, timelines and clocks)."""

    def __init__(self, worker: Worker) -> None:
        self.worker, self.settings, self.topics = worker, worker.settings, worker.topics
        settings, stations = worker.settings, worker.stations
        self.rules_by_id = all_rules(worker.catalogue)
        self.evaluators = {sid: StationEvaluator(worker.catalogue.rules, s) for sid, s in stations.items()}
        self.derivers = {sid: deriver_for(station) for sid, station in stations.items()}
        #: Each station's timeline, keyed by its raw id like its readings, so it lives in their partition.
        self.timelines = worker.rows_table("timelines")
        self.kept = Timelines(self.timelines, settings.kept_timelines)
        self.offsets = ConsumerOffsets(worker.app, settings.readings_topic)
        #: Every station of the catalogue is ticked, heard from or not, so that silence counts from a
        #: restart too and the city's clock hears from every station it waits for.
        self.watermarks = Watermarks(
            home_partitions(stations, settings.topic_partitions),
            timedelta(seconds=settings.allowed_lateness_seconds),
            idle_after=settings.idle_seconds,
            log_end=self.offsets.end,
            log_start=self.offsets.start,
        )
        self.pacer = TickPacer(settings.tick_seconds)
        self.slices = Slices()
        self.rounds = Rounds(timedelta(seconds=settings.fleet_patience_seconds))
        #: The partitions whose progress the city's clock waits for: those that home a deriving station.
        self.fleet_sources = sorted(
            {
                source_of(self.watermarks.partition_of[sid])
                for sid, deriver in self.derivers.items()
                if deriver
            }
        )
        app = worker.app
        readings_and_ticks = app.topic(
            settings.readings_topic,
            settings.ticks_topic,
            key_type=bytes,
            value_type=bytes,
            value_serializer="raw",
        )
        app.agent(readings_and_ticks, name=f"{__name__}.evaluate")(self.evaluate)
        app.timer(interval=settings.tick_seconds, name=f"{__name__}.send_ticks")(self.send_ticks)
        app.on_partitions_revoked.connect(self.forget_revoked)

    def alert_records(self, events: list[AlertEvent]) -> list[Outgoing]:
        for event in events:
            log.info("alert %s", event.message_en)
            TRANSITIONS.labels(event.rule, event.state).inc()
        return [(self.topics.alerts, event.fingerprint.encode(), event) for event in events]

    def figure_records(self, figures: list[Figure]) -> list[Outgoing]:
        return [(self.topics.derived, figure.measurement.encode(), figure) for figure in figures]

    async def evaluate(self, stream: StreamT[bytes]) -> None:
        """Judge each station's readings and ticks against the catalogue, in event time.

        Events come in batches; each station's timeline is read once, advanced through the batch in
        order, and written back once, which keeps changelog writes to one per station per batch. A
        tick concerns a slice of its partition's stations: a batch hands on what it judged every
        ``HAND_ON_STATIONS`` stations, so that slices over 100,000 stations do not hold them all."""
        async for events in held_batches(stream, self.settings.write_batch_size, EVALUATION_BATCH_SECONDS):
            judged = Judged(self)
            for event in events:
                try:
                    tick = self.tick_of(event)
                except ValidationError as error:  # a forged record, or one from another version
                    await self.refuse(event, "unreadable_record", f"not a tick: {error}")
                    continue
                if tick is None and event.message.topic == self.settings.ticks_topic:
                    continue  # a tick for a partition this worker has not seen a reading of yet
                await self.judge_event(judged, event, tick)
            await judged.hand_on()

    async def judge_event(self, judged: Judged, event: EventT[bytes], tick: Tick | None) -> None:
        """Judge one reading, or one tick's slice of stations, into ``judged``."""
        partition = event.message.partition
        if tick is None:
            self.watermarks.took(partition, event.message.offset)
        reached: list[datetime | None] = []  # how far the tick's stations that feed the fleet stand
        for station_id in self.stations_ticked(partition, tick) if tick else [key_of(event)]:
            evaluator = self.evaluators.get(station_id)
            if evaluator is None:
                continue  # no catalogue entry: stored, not judged
            timeline = judged.timeline(station_id, event)
            try:
                transitions = self.judge(timeline, evaluator, event, tick, judged.late)
            except Exception as error:
                # One station's bad state must not stop the others (nor the storing agent,
                # which shares this topic); the record is kept to be judged again once fixed.
                log.exception("could not judge %s for %s", event.message.topic, station_id)
                await self.refuse(event, "judge_failed", f"{station_id}: {type(error).__name__}: {error}")
                continue
            judged.alerts += [
                alert_event(t, self.rules_by_id[t.rule], evaluator.station) for t in transitions
            ]
            if tick is not None and self.derivers.get(station_id):
                reached.append(timeline.judged_to)
            if len(judged.touched) >= HAND_ON_STATIONS:
                await judged.hand_on()
        if tick is not None and (everyone := self.rounds.judged(partition, tick, reached)) is not None:
            judged.progress[source_of(partition)] = everyone

    async def refuse(self, event: EventT[bytes], reason: str, detail: str) -> None:
        """Keep a record the rules could not take in the dead-letter topic, counted, instead of
        acknowledging it unjudged."""
        UNJUDGED.labels(reason).inc()
        message = event.message
        log.error("%s record at %s[%d]: %s", reason, message.topic, message.partition, detail[:300])
        await self.worker.dead_letter(message.topic, event.value, reason, detail[:1000], "worker:evaluate")

    def tick_of(self, event: EventT[bytes]) -> Tick | None:
        """A tick, for a slice of its partition's stations; None for a reading.

        Its watermark is never past what this worker has itself seen of the partition: a tick sent
        before a restart can come back before the readings it followed, which are replayed from the
        last commit, and it would judge their stations silent and their readings late (the chaos
        test caught it)."""
        if event.message.topic != self.settings.ticks_topic:
            return None
        tick = Tick.model_validate_json(event.value)
        seen = self.watermarks.of(event.message.partition)
        return None if seen is None else tick.model_copy(update={"watermark": min(tick.watermark, seen)})

    def stations_ticked(self, partition: int, tick: Tick) -> list[str]:
        """The tick's slice, less any station whose readings have since been seen on another
        partition (its timeline is written there)."""
        ticked = self.slices.of(partition, tick, self.watermarks.stations_on)
        return [sid for sid in ticked if self.watermarks.partition_of[sid] == partition]

    def fleet_records(
        self, touched: dict[str, tuple[Timeline, EventT[bytes]]], progress: dict[str, datetime]
    ) -> list[Outgoing]:
        """The batch's facts and progress, for the city's agent: one record, in one partition, after
        the facts of earlier hand-ons of the same tick."""
        facts = Facts()
        for station_id, (timeline, _) in touched.items():
            if self.derivers.get(station_id):
                facts.add(hand_over(timeline))
        if not facts and not progress:
            return []
        return [(self.topics.fleet, CITY.encode(), FleetUpdate(facts=facts, judged_to=progress))]

    def judge(
        self,
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
            watermark = self.watermarks.for_station(station_id, tick.watermark)
            if watermark is None:
                return []  # not heard from yet, and not silent for long enough to be judged so
        else:
            try:
                reading = Reading.model_validate_json(event.value)
            except ValidationError:
                return []  # the storing agent sends it to the dead-letter topic
            watermark = self.watermarks.saw(station_id, event.message.partition, reading.ts)
            if not accept(timeline, reading):
                log.warning(
                    "late reading from %s at %s: stored, not judged (%d late so far)",
                    station_id,
                    reading.ts.isoformat(),
                    timeline.late,
                )
                late.append(figures.late_reading(station_id, timeline.late, reading.ts))
                LATE_READINGS.inc()
        return advance(timeline, evaluator, watermark, self.derivers.get(station_id))

    async def send_ticks(self) -> None:
        """Send each of this worker's partitions its watermark when it reaches a new minute, a slice
        of its stations per record, through Kafka so that the tick is judged in that partition
        (tables can only be written there)."""
        app, watermarks = self.worker.app, self.watermarks
        readings = self.settings.readings_topic
        assigned = {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == readings}
        await self.offsets.learn_starts(
            p for p in assigned if p not in watermarks.taken and watermarks.left(p) != 0
        )
        self.pacer.start_rounds(watermarks.due_ticks(assigned), lambda at: len(watermarks.stations_on(at)))
        for partition, tick in self.pacer.next_ticks():
            value = tick.model_dump_json().encode()
            await self.topics.ticks.send(
                key=f"partition-{partition}".encode(), value=value, partition=partition
            )
        for partition, watermark in watermarks.given.items():
            WATERMARK.labels(str(partition)).set(watermark.timestamp())

    def forget_revoked(self, sender: AppT, /, *args: Any, signal: BaseSignalT[Any], **kwargs: Any) -> None:
        """What was taken from a partition that left this worker says nothing once it comes back."""
        revoked: set[TP] = args[0]
        for tp in revoked:
            if tp.topic == self.settings.readings_topic:
                self.watermarks.forget(tp.partition)
                self.offsets.forget(tp.partition)


class Judged:
    """What a batch has judged and not yet handed on: the timelines it advanced (each with the
    last event that touched it), the alerts, the late readings' figures, and the partitions whose
    every station a tick has judged, with the tick's watermark."""

    def __init__(self, judging: Judging) -> None:
        self.judging = judging
        self.touched: dict[str, tuple[Timeline, EventT[bytes]]] = {}
        self.alerts: list[AlertEvent] = []
        self.late: list[Figure] = []
        self.progress: dict[str, datetime] = {}

    def timeline(self, station_id: str, event: EventT[bytes]) -> Timeline:
        """The station's timeline, taken once per hand-on, now touched by ``event``."""
        held = self.touched.get(station_id)
        timeline = held[0] if held else self.judging.kept.take(station_id.encode())
        self.touched[station_id] = (timeline, event)
        return timeline

    async def hand_on(self) -> None:
        """Send the alerts and figures, then save the timelines they came from and wait until
        Kafka has them, before the batch is acknowledged (handoff.py)."""
        judging = self.judging
        await send_all(
            [
                *judging.alert_records(self.alerts),
                *judging.fleet_records(self.touched, self.progress),
                *judging.figure_records(self.late),
            ]
        )
        for station_id, (timeline, last) in self.touched.items():
            judging.kept.save(station_id.encode(), timeline, last)
        self.touched, self.alerts, self.late, self.progress = {}, [], [], {}
        await judging.timelines.confirm()
