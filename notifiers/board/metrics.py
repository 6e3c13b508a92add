"""The system's figures for Prometheus at the board's ``/metrics``: the whole pipeline in one page.

Readings and rejects come from Kafka (as Live follows them), alerts and notification attempts
from the notifier's state and store, consumer lag from the groups' committed offsets. They are
read at each scrape, so the page never disagrees with the board.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from envalert.core.settings import WORKER_GROUP
from notifiers.board.live import Live
from notifiers.board.views import firing_alerts
from notifiers.notifier import Notifier
from notifiers.settings import NotifierSettings

log = logging.getLogger(__name__)

#: (group, topic, partition) → records not yet committed by the group.
Lag = dict[tuple[str, str, int], int]


class BoardCollector(Collector):
    def __init__(self, notifier: Notifier, live: Live, lag: Lag, clock: Callable[[], datetime]) -> None:
        self.notifier, self.live, self.lag, self.clock = notifier, live, lag, clock

    def collect(self) -> Iterator[Metric]:
        live = self.live
        yield CounterMetricFamily(
            "envalert_readings", "Readings accepted onto Kafka since the board started", value=live.readings
        )
        yield GaugeMetricFamily(
            "envalert_readings_per_second",
            "Readings accepted per second over the last 10 s",
            value=live.readings_per_second(),
        )
        rejected = CounterMetricFamily(
            "envalert_readings_rejected", "Payloads in the dead-letter topic, by reason", labels=["reason"]
        )
        for reason, count in sorted(live.rejected.items()):
            rejected.add_metric([reason], count)
        yield rejected
        yield CounterMetricFamily(
            "envalert_notifier_unreadable_events",
            "Alert events the notifier could not read, kept in the dead-letter topic",
            value=self.notifier.unreadable_events,
        )
        breaker = self.notifier.store_breaker
        yield CounterMetricFamily(
            "envalert_notifier_store_failures",
            "Times the notifier's store failed (a full disk, a lock, a corrupt file: see its log)",
            value=breaker.failures,
        )
        yield GaugeMetricFamily(
            "envalert_notifier_store_failing",
            "1 while the notifier's store fails and sending is paused",
            value=int(breaker.last_error is not None),
        )
        with contextlib.suppress(sqlite3.Error):  # counted above; the Kafka figures below still help
            yield from self._from_store()
        lag = GaugeMetricFamily(
            "envalert_consumer_lag",
            "Records on a topic partition that a consumer group has not yet committed",
            labels=["group", "topic", "partition"],
        )
        for (group, topic, partition), behind in sorted(self.lag.items()):
            lag.add_metric([group, topic, str(partition)], behind)
        yield lag

    def _from_store(self) -> Iterator[Metric]:
        yield self._alerts()
        attempts = self.notifier.store.attempt_counts()
        by_outcome = CounterMetricFamily(
            "envalert_notification_attempts", "Delivery attempts by outcome", labels=["outcome"]
        )
        for outcome in ("delivered", "retrying", "gave_up"):
            by_outcome.add_metric([outcome], attempts.get(outcome, 0))
        yield by_outcome
        yield CounterMetricFamily(
            "envalert_notification_failures",
            "Delivery attempts that failed (retried later or given up)",
            value=sum(n for outcome, n in attempts.items() if outcome != "delivered"),
        )
        yield GaugeMetricFamily(
            "envalert_notifications_waiting",
            "Messages queued and not yet delivered",
            value=self.notifier.store.counts()["waiting"],
        )

    def _alerts(self) -> GaugeMetricFamily:
        family = GaugeMetricFamily(
            "envalert_alerts",
            "Firing alerts by severity, and how many of them are acknowledged or silenced",
            labels=["state", "severity"],
        )
        alerts = firing_alerts(self.notifier.state.alerts, self.notifier.store, self.clock())
        for severity in ("warning", "critical"):
            mine = [a for a in alerts if a.severity and a.severity.value == severity]
            family.add_metric(["firing", severity], len(mine))
            family.add_metric(["acknowledged", severity], sum(a.acknowledged is not None for a in mine))
            family.add_metric(["silenced", severity], sum(bool(a.silenced_by) for a in mine))
        return family


def board_registry(
    notifier: Notifier, live: Live, lag: Lag, clock: Callable[[], datetime]
) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(BoardCollector(notifier, live, lag, clock))
    return registry


async def measure_lag(settings: NotifierSettings, lag: Lag, stop: asyncio.Event, every: float = 5.0) -> None:
    """Keep ``lag`` current for the worker's and the notifier's consumer groups: each partition's
    end (a consumer without a group) less the offset the group last committed on it (the admin
    client, which asks the group's coordinator and joins nothing)."""
    worker_topics = {
        settings.readings_topic,
        settings.ticks_topic,
        settings.fleet_topic,
        settings.alerts_topic,
        settings.derived_topic,
    }
    groups = {WORKER_GROUP: worker_topics, settings.notifier_group: {settings.alerts_topic}}
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    ends = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
    async with contextlib.AsyncExitStack() as closing:  # each closed even if the other fails to start
        closing.push_async_callback(admin.close)
        await admin.start()
        closing.push_async_callback(ends.stop)
        await ends.start()
        while not stop.is_set():
            try:
                measured: Lag = {}
                for group, topics in groups.items():
                    measured |= await _lag(admin, ends, group, topics)
                lag.clear()
                lag.update(measured)
            except KafkaError as error:
                log.warning("could not measure consumer lag: %s", error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)


async def _lag(admin: AIOKafkaAdminClient, ends: AIOKafkaConsumer, group: str, topics: set[str]) -> Lag:
    committed = {
        tp: position.offset
        for tp, position in (await admin.list_consumer_group_offsets(group)).items()
        if tp.topic in topics and position.offset >= 0
    }
    latest: dict[TopicPartition, int] = await ends.end_offsets(list(committed)) if committed else {}
    return {(group, tp.topic, tp.partition): max(0, latest[tp] - offset) for tp, offset in committed.items()}
