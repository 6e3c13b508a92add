"""What the board learns from Kafka beside the alerts: stations last seen, city figures, rejects.

One consumer without a group follows ``readings`` (keys and timestamps only: the bridge keys
each record by station and stamps it with the reading's time), ``derived`` (the latest city
figures) and ``rejected`` (counts by reason). It commits nothing: at start it reads the figures
and rejects again from the beginning and the last readings of each partition.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import Counter, deque
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from envalert.core.contract import RejectedMessage
from envalert.core.kafka import partitions_of
from notifiers.settings import NotifierSettings
from rules.events import AlertEvent
from rules.figures import Figure

log = logging.getLogger(__name__)

#: City figures the board shows: the latest of each by event time.
CITY_FIGURES = ("aqi_hourly", "aqi_daily", "plan_progress", "noise_compliance")
#: Readings per second are counted over this many wall seconds.
RATE_WINDOW_SECONDS = 10.0


class Live:
    """The board's in-memory view of the streams, and the subscribers of its live feed."""

    def __init__(self, feed_size: int = 200) -> None:
        self.last_seen: dict[str, datetime] = {}
        self.readings = 0
        self.rejected: Counter[str] = Counter()
        self.city: dict[str, Figure] = {}
        self.feed: deque[AlertEvent] = deque(maxlen=feed_size)
        self._arrivals: deque[tuple[float, int]] = deque()
        self._subscribers: set[asyncio.Queue[str]] = set()

    def saw_readings(self, stations: list[tuple[str, datetime]]) -> None:
        for station, at in stations:
            if at > self.last_seen.get(station, at.min.replace(tzinfo=UTC)):
                self.last_seen[station] = at
        self.readings += len(stations)
        now = time.monotonic()
        self._arrivals.append((now, len(stations)))
        while self._arrivals and self._arrivals[0][0] < now - RATE_WINDOW_SECONDS:
            self._arrivals.popleft()

    def readings_per_second(self) -> float:
        now = time.monotonic()
        return sum(n for at, n in self._arrivals if at >= now - RATE_WINDOW_SECONDS) / RATE_WINDOW_SECONDS

    def saw_figure(self, figure: Figure) -> None:
        if figure.tags.get("scope") != "city" or figure.measurement not in CITY_FIGURES:
            return
        known = self.city.get(figure.measurement)
        if known is None or figure.at >= known.at:
            self.city[figure.measurement] = figure
            self.announce("figures", {"measurement": figure.measurement})

    def saw_transitions(self, events: list[AlertEvent]) -> None:
        """New transitions the notifier took: into the feed, and out to every open page (a
        pending breach is not news yet: the stream confirms or drops it)."""
        for event in events:
            if event.state == "pending":
                continue
            self.feed.appendleft(event)
            self.announce("transition", event.model_dump(mode="json"))

    # --- the live feed (server-sent events) ----------------------------------------------------

    def subscribe(self) -> asyncio.Queue[str]:
        queue: asyncio.Queue[str] = asyncio.Queue(maxsize=1000)
        self._subscribers.add(queue)
        return queue

    def pages(self) -> int:
        """Pages following the live feed now."""
        return len(self._subscribers)

    def unsubscribe(self, queue: asyncio.Queue[str]) -> None:
        self._subscribers.discard(queue)

    def close(self) -> None:
        """End every page's stream (an empty message), so that stopping does not wait for them."""
        for queue in self._subscribers:
            while True:
                try:
                    queue.put_nowait("")
                    break
                except asyncio.QueueFull:
                    queue.get_nowait()

    def announce(self, kind: str, data: object) -> None:
        """One server-sent event to every page; a page too slow to keep up misses it, and
        re-reads the snapshot on the next one."""
        message = f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
        for queue in self._subscribers:
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(message)


async def follow(settings: NotifierSettings, live: Live, stop: asyncio.Event) -> None:
    """Feed ``live`` from Kafka until ``stop``; a broker away is waited for, never fatal."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await _assign(consumer, settings)
        while not stop.is_set():
            try:
                batches = await consumer.getmany(timeout_ms=500)
            except KafkaError as error:
                log.warning("the board could not read Kafka: %s", error)
                await asyncio.sleep(1)
                continue
            for partition, records in batches.items():
                _dispatch(settings, live, partition.topic, records)
    finally:
        await consumer.stop()


async def _assign(consumer: AIOKafkaConsumer, settings: NotifierSettings) -> None:
    topics = (settings.readings_topic, settings.derived_topic, settings.rejected_topic)
    partitions = await partitions_of(settings.kafka_bootstrap, topics)
    consumer.assign(partitions)
    readings = [tp for tp in partitions if tp.topic == settings.readings_topic]
    others = [tp for tp in partitions if tp.topic != settings.readings_topic]
    if others:
        await consumer.seek_to_beginning(*others)
    starts, ends = await consumer.beginning_offsets(readings), await consumer.end_offsets(readings)
    for tp in readings:
        consumer.seek(tp, max(starts[tp], ends[tp] - settings.board_backlog_per_partition))
    log.info("board following %s", ", ".join(f"{tp.topic}[{tp.partition}]" for tp in partitions))


def _dispatch(settings: NotifierSettings, live: Live, topic: str, records: list[ConsumerRecord]) -> None:
    if topic == settings.readings_topic:
        live.saw_readings(
            [
                (record.key.decode(errors="replace"), datetime.fromtimestamp(record.timestamp / 1000, UTC))
                for record in records
                if record.key
            ]
        )
    elif topic == settings.derived_topic:
        for record in records:
            try:
                live.saw_figure(Figure.model_validate_json(record.value or b""))
            except ValidationError:
                log.warning("a record on %s is not a figure (offset %d)", topic, record.offset)
    else:
        for record in records:
            try:
                live.rejected[RejectedMessage.model_validate_json(record.value or b"").reason] += 1
            except ValidationError:
                live.rejected["unreadable"] += 1
