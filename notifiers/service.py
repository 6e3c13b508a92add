"""``envalert notify run``: alert events from Kafka in, notices out, every attempt to InfluxDB.

Three loops share one store: one takes events (committing Kafka offsets only after the store
has them), one queues and delivers what is due each tick, one writes attempts to InfluxDB.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from envalert.core.influx import InfluxUnavailableError, make_writer
from envalert.core.kafka import ensure_topics, group_session, make_producer, rejected_record, send_until_acked
from envalert.core.stations import Station, load_stations
from notifiers.board.api import Board, start_board
from notifiers.board.live import Live, follow
from notifiers.board.metrics import measure_lag
from notifiers.board.users import load_users
from notifiers.board.views import PlanTargets
from notifiers.directory import Directory, load_directory
from notifiers.lifecycle import wall_clock
from notifiers.notifier import Notifier, RetryPolicy
from notifiers.records import notification_line
from notifiers.routing import Routing, load_routing
from notifiers.settings import NotifierSettings
from notifiers.store import Store
from rules.catalogue import load_catalogue
from rules.events import AlertEvent

log = logging.getLogger(__name__)

READY = "notifier ready"
#: Seen event keys are kept this long: longer than any replay after a restart.
SEEN_FOR = timedelta(days=30)
#: How long a stop waits for the sends on their way.
STOP_SENDING_SECONDS = 5.0


@dataclass(frozen=True)
class Retention:
    """How long the store keeps what is done: delivered messages and ended silences, and the
    audit log of who acknowledged and silenced what."""

    outbox: timedelta = timedelta(days=30)
    audit: timedelta = timedelta(days=365)


def load_config(settings: NotifierSettings) -> tuple[Directory, Routing, dict[str, Station]]:
    """Load and cross-check every config file: a mistake fails here, naming file and field."""
    directory = load_directory(settings.directory_file)
    routing = load_routing(settings.routing_file)
    routing.check_against(directory, settings.routing_file)
    stations = load_stations(settings.stations_file)
    directory.check_covers(stations)
    return directory, routing, stations


def build(settings: NotifierSettings, clock: Callable[[], datetime] = wall_clock) -> Notifier:
    directory, routing, stations = load_config(settings)
    retry = RetryPolicy(
        timeout=settings.notify_timeout_seconds,
        first=timedelta(seconds=settings.notify_retry_first_seconds),
        most=timedelta(seconds=settings.notify_retry_max_seconds),
        give_up_after=timedelta(hours=settings.notify_give_up_hours),
    )
    store = Store(settings.notifier_db)
    return Notifier(
        store,
        directory,
        routing,
        stations,
        clock,
        board_url=settings.board_url,
        retry=retry,
        sending_at_once=settings.notify_at_once,
    )


async def take_events(
    notifier: Notifier,
    consumer: AIOKafkaConsumer,
    live: Live,
    wake: asyncio.Event,
    stop: asyncio.Event,
    *,
    dead_letters: DeadLetters,
) -> None:
    while not stop.is_set():
        batches = await consumer.getmany(timeout_ms=500)
        events = []
        for records in batches.values():
            for record in records:
                try:
                    events.append(AlertEvent.model_validate_json(record.value or b""))
                except ValidationError as error:
                    await dead_letters.keep(record, error)
                    notifier.unreadable_events += 1
        if batches:
            taken = await take_when_stored(notifier, events, stop)
            if taken is None:
                return  # stopping before the store took them: their offsets stay uncommitted
            live.saw_transitions(taken)
            if taken:
                wake.set()
            try:
                await consumer.commit()
            except KafkaError as error:  # a rebalance: the events come again, and are known as seen
                log.warning("could not commit the alert offsets: %s", error)
            log.debug("took %d new of %d alert events", len(taken), len(events))


@dataclass(frozen=True)
class DeadLetters:
    """Where an alert event the notifier cannot read goes, rather than being skipped: it may be
    a newer worker's (read again once the notifier is upgraded) or a forgery (looked at)."""

    producer: AIOKafkaProducer
    topic: str

    async def keep(self, record: ConsumerRecord[bytes, bytes], error: ValidationError) -> None:
        detail = f"not an alert event this notifier can read: {error}"[:1000]
        log.error(
            "unreadable_event at %s[%d] offset %d: kept in %s; %s",
            record.topic, record.partition, record.offset, self.topic, detail[:300],
        )  # fmt: skip
        value = rejected_record(
            record.topic,
            record.value or b"",
            reason="unreadable_event",
            detail=detail,
            received_at=datetime.now(UTC),
            source="notifier",
        )
        await send_until_acked(
            self.producer,
            self.topic,
            key=record.key or b"",
            value=value,
            timestamp_ms=int(time.time() * 1000),
        )


async def take_when_stored(
    notifier: Notifier, events: list[AlertEvent], stop: asyncio.Event
) -> list[AlertEvent] | None:
    """Take ``events`` once the store can record them: while it fails (the breaker says how
    long to wait), they are held, and Kafka's offset does not move."""
    while not stop.is_set():
        if notifier.store_breaker.allows():
            try:
                return notifier.take(events)
            except sqlite3.Error:
                pass  # the breaker has it, and has logged it
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)
    return None


async def deliver(
    notifier: Notifier,
    every: float,
    wake: asyncio.Event,
    stop: asyncio.Event,
    retention: Retention = Retention(),
) -> None:
    """Each tick, and at once when new alerts were taken or a send finished (an alert need not
    wait for the tick, nor a target's next message). Hourly, what is old is pruned."""
    pruned = 0.0
    while not stop.is_set():
        wake.clear()
        if notifier.store_breaker.allows():
            try:
                if time.monotonic() - pruned > 3600:
                    prune(notifier, retention)
                    pruned = time.monotonic()
                notifier.tick()
            except sqlite3.Error as error:
                if notifier.store_breaker.allows():  # not yet counted: the error was the prune's
                    notifier.store_breaker.failed(error)
        for sending in notifier.start_due():
            sending.add_done_callback(lambda _: wake.set())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(first_of(stop, wake), every)
    await notifier.finish_sending(STOP_SENDING_SECONDS)


def prune(notifier: Notifier, retention: Retention) -> None:
    now = wall_clock()
    episodes = [(t.event.fingerprint, t.event.started_at) for t in notifier.state.alerts.values()]
    notifier.store.forget(now - SEEN_FOR, episodes)
    notifier.store.prune(now, keep=retention.outbox, keep_audit=retention.audit)


async def first_of(*events: asyncio.Event) -> None:
    waits = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


async def record_attempts(notifier: Notifier, settings: NotifierSettings, stop: asyncio.Event) -> None:
    writer = make_writer(settings)
    prepared = False
    try:
        while not stop.is_set():
            attempts = notifier.store.unwritten_attempts()
            try:
                if attempts and not prepared:
                    await writer.prepare()
                    prepared = True
                if attempts:
                    await writer.write([notification_line(attempt) for attempt in attempts])
                    notifier.store.mark_written(attempts)
            except InfluxUnavailableError as error:
                log.warning("InfluxDB unavailable for %d notification attempts: %s", len(attempts), error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
    finally:
        await writer.close()


def make_board(settings: NotifierSettings, notifier: Notifier) -> Board:
    users = load_users(settings.board_users_file)
    users.check_against(notifier.directory, settings.board_users_file)
    return Board(
        notifier=notifier,
        live=Live(),
        users=users,
        targets=PlanTargets.of(load_catalogue(settings.rules_file)),
        read_auth=settings.board_read_auth,
    )


async def serve(settings: NotifierSettings, stop: asyncio.Event) -> None:
    notifier = build(settings)
    board = make_board(settings, notifier)
    await ensure_topics(settings, settings.pipeline_topics())
    session, heartbeat = group_session(settings)
    consumer = AIOKafkaConsumer(
        settings.alerts_topic,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=settings.notifier_group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=int(session * 1000),
        heartbeat_interval_ms=int(heartbeat * 1000),
    )
    await consumer.start()
    producer = make_producer(settings)
    await producer.start()
    log.info(
        "waiting for partitions of %s (consumer group %s)", settings.alerts_topic, settings.notifier_group
    )
    while not consumer.assignment():
        await asyncio.sleep(0.1)
    log.info("assigned %s", ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(consumer.assignment())))
    runner = await start_board(board, settings.board_bind, settings.board_port)
    log.info(
        "board on http://%s:%d/board (%s)",
        settings.board_bind,
        settings.board_port,
        f"{len(board.users)} user(s) may write" if len(board.users) else "read-only: no users file",
    )
    log.info(
        "%s: %d units in %s, outbox %s, store %s",
        READY,
        len(notifier.directory.units()),
        notifier.directory.source,
        notifier.store.counts(),
        notifier.store.path,
    )
    wake = asyncio.Event()
    try:
        await asyncio.gather(
            take_events(
                notifier,
                consumer,
                board.live,
                wake,
                stop,
                dead_letters=DeadLetters(producer, settings.rejected_topic),
            ),
            deliver(
                notifier,
                settings.notifier_tick_seconds,
                wake,
                stop,
                Retention(
                    outbox=timedelta(days=settings.notifier_retention_days),
                    audit=timedelta(days=settings.notifier_audit_days),
                ),
            ),
            record_attempts(notifier, settings, stop),
            follow(settings, board.live, stop),
            measure_lag(settings, board.lag, stop),
        )
    finally:
        board.live.close()
        await runner.cleanup()
        await consumer.stop()
        await producer.stop()
        log.info("notifier stopped: outbox %s", notifier.store.counts())
        notifier.store.close()
