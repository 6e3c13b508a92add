"""Alert latency: from publishing the reading that breaks a threshold to the webhook receiving its
notice, through the bridge, the worker and the notifier, while a steady background load flows.

Configured waits are set to nothing and stated: the notifier's grouping (group_wait and
group_interval 0 s), its lifecycle tick (0.1 s), and the allowed lateness (0 s). With the shipped
defaults an alert also waits the allowed lateness (60 s of event time) and the group_wait (30 s).
"""

from __future__ import annotations

import asyncio
import math
import re
import statistics
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from bench.stack import BenchStack, kept, running
from envalert.command.host import free_port
from envalert.core.contract import Kind, Reading
from envalert.core.kafka import read_topic
from envalert.core.stations import DEFAULT_STATIONS, Station, load_stations
from ingest.publisher import WindowedPublisher, message_of
from ingest.settings import MqttSettings
from notifiers.sinks import Inbox, MailSink, Received, WebhookSink
from rules.events import AlertEvent
from simulators.fleet import scaled, write_catalogue
from simulators.generators import baseline

WAITS = {"group_wait": "0s", "group_interval": "0s", "repeat_interval": "1h", "escalate_after": "1h"}
NOTIFIER_TICK_SECONDS = 0.1
#: VOCs over 30 mg/m³ NMHC in a single reading (GB 37822): judged on the reading itself.
BREACH = {"nmhc": 36.0, "tvoc": 40.0}


class Background:
    """The other stations' readings, stamped with the wall clock as they go, at ``rate`` a second."""

    def __init__(self, settings: MqttSettings, stations: list[Station], rate: float) -> None:
        now = datetime.now(UTC)
        self._readings = list(baseline(stations, now, now + timedelta(minutes=2), timedelta(minutes=1)))
        self._publisher = WindowedPublisher(settings, "bench-background")
        self._rate = rate
        self._stop = threading.Event()
        self.sent = 0
        self._began = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            reading = self._readings[self.sent % len(self._readings)]
            message = message_of(reading.model_copy(update={"ts": datetime.now(UTC)}))
            self._publisher.publish(message.topic, message.payload)
            self.sent += 1
            time.sleep(max(0.0, self._began + self.sent / self._rate - time.monotonic()))

    def stop(self) -> float:
        """Stop, and return the rate reached (readings/s)."""
        self._stop.set()
        self._thread.join()
        self._publisher.close()
        return self.sent / (time.monotonic() - self._began)


def percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


def alert_latency(stack: BenchStack, stations: int, triggers: int, background_rate: float) -> dict[str, Any]:
    """``triggers`` VOCs stations each break their limit once, a second apart, while the rest of a
    fleet of ``stations`` publishes ``background_rate`` readings a second."""
    fleet = scaled(load_stations(DEFAULT_STATIONS), stations)
    vocs = [station for station in fleet.values() if station.kind is Kind.VOCS][:triggers]
    others = [station for station in fleet.values() if station.kind is not Kind.VOCS]
    folder = stack.root / f"latency-{stations}"
    folder.mkdir()
    catalogue = folder / "stations.yaml"
    write_catalogue(fleet, catalogue)
    routing = folder / "routing.yaml"
    shipped = yaml.safe_load(Path("notifiers/routing.yaml").read_text(encoding="utf-8"))
    routing.write_text(yaml.safe_dump({**shipped, "timings": WAITS}, allow_unicode=True), encoding="utf-8")

    told: dict[str, float] = {}  # wall clock, like Kafka's record timestamps
    inbox = Inbox(on_receive=lambda item: first_notice(told, item, vocs))
    webhook, mail = WebhookSink(inbox, free_port()), MailSink(inbox, free_port())
    webhook.start()
    mail.start()
    env = {
        **stack.pipeline_env(catalogue, f"latency-{stations}"),
        "ENVALERT_ALLOWED_LATENESS_SECONDS": "0",
        "ENVALERT_ROUTING_FILE": str(routing),
        "ENVALERT_NOTIFIER_DB": str(folder / "notifier.db"),
        "ENVALERT_NOTIFIER_TICK_SECONDS": str(NOTIFIER_TICK_SECONDS),
        "ENVALERT_BOARD_PORT": str(free_port()),
        "ENVALERT_WEBHOOK": webhook.address,
        "ENVALERT_SMS_GATEWAY": webhook.address,
        "ENVALERT_SMTP": mail.address,
    }
    published: dict[str, float] = {}
    settings = MqttSettings(mqtt_port=stack.mqtt_port)
    try:
        with running(["worker", "bridge", "notifier"], env, folder / "logs"):
            background = Background(settings, others, background_rate)
            trigger = WindowedPublisher(settings, "bench-triggers")
            # Every other station reports once (each has its state, as in steady running) first.
            time.sleep(max(5.0, len(others) / background_rate))
            for station in vocs:
                reading = Reading(station=station.id, kind=Kind.VOCS, ts=datetime.now(UTC), values=BREACH)
                message = message_of(reading)
                published[station.id] = time.time()
                trigger.publish(message.topic, message.payload)
                time.sleep(1)
            deadline = time.monotonic() + 60
            while len(told) < len(vocs) and time.monotonic() < deadline:
                time.sleep(0.2)
            trigger.close()
            background_rate = background.stop()
        judged = first_alerts(stack, set(told))
    finally:
        webhook.stop()
        mail.stop()
    latencies = [(told[sid] - published[sid]) * 1000 for sid in published if sid in told]
    to_kafka = [(judged[sid] - published[sid]) * 1000 for sid in judged]
    to_webhook = [(told[sid] - judged[sid]) * 1000 for sid in judged]
    if len(latencies) < 2:
        raise RuntimeError(
            f"only {len(latencies)} of {len(vocs)} alerts reached the webhook; "
            f"logs in {kept(folder / 'logs')}"
        )
    return {
        "stations": stations,
        "background_per_s": background_rate,
        "alerts": len(vocs),
        "alerts_told": len(latencies),
        "p50_ms": percentile(latencies, 0.50),
        "p95_ms": percentile(latencies, 0.95),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": max(latencies),
        # A minute's ticks judge every station: an alert raised just after the minute waits for them.
        "slowest_s_past_minute": slowest_past_minute(published, told),
        # Where the time goes: to the alert's record on Kafka (bridge and worker), then to the
        # webhook (the notifier), each alert split at its record's timestamp.
        "to_alert_record_p50_ms": percentile(to_kafka, 0.50),
        "to_alert_record_p99_ms": percentile(to_kafka, 0.99),
        "record_to_webhook_p50_ms": percentile(to_webhook, 0.50),
        "record_to_webhook_p99_ms": percentile(to_webhook, 0.99),
    }


def slowest_past_minute(published: dict[str, float], told: dict[str, float]) -> float:
    """When, in its minute (wall clock), the slowest alert's reading was published."""
    slowest = max(told, key=lambda station_id: told[station_id] - published[station_id])
    return published[slowest] % 60


def first_alerts(stack: BenchStack, stations: set[str]) -> dict[str, float]:
    """When each station's first firing transition was produced to Kafka (its record's timestamp).
    The earliest, not the first read: a station's rules key their records to different partitions,
    and a trigger station goes silent afterwards (dq.silent fires a minute later)."""
    found: dict[str, float] = {}
    for record in asyncio.run(read_topic(stack.kafka_bootstrap, "alerts")):
        event = AlertEvent.model_validate_json(record.value or b"")
        if event.subject in stations and event.state == "firing":
            found[event.subject] = min(found.get(event.subject, math.inf), record.timestamp / 1000)
    return found


def first_notice(told: dict[str, float], item: Received, stations: list[Station]) -> None:
    """The first webhook call that names a trigger station (its id, in the English text or the
    board's link) marks that alert told."""
    if item.channel != "webhook":
        return
    now = time.time()
    for station in stations:
        if station.id not in told and re.search(re.escape(station.id) + r"(?![\w-])", item.body):
            told[station.id] = now
