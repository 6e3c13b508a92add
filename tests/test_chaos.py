"""Chaos: one scenario, every fault at once. A day of 20 stations flows MQTT → bridge → Kafka →
worker → InfluxDB and alerts → notifier → SMTP and webhook, while the worker and the bridge are
SIGKILLed, mosquitto restarts under the bridge, InfluxDB goes away and the webhook is down.
Afterwards every reading is stored once, the worker's transitions are exactly the offline
judgement of the same readings, and every notification arrived exactly once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from envalert.core.stations import Station
from ingest.publisher import publish_readings
from rules.catalogue import load_catalogue
from rules.offline import judge_offline
from tests.conftest import (
    NOTICE_ID,
    Pipeline,
    Services,
    Sinks,
    judged_live,
    judged_offline,
    outbox,
    quick_notifier_env,
    wait_until,
)
from tests.streams.fleets import LATENESS, a_day_of, fleet_of
from tests.streams.test_alerting import START
from tests.streams.test_pipeline import assert_all_stored

pytestmark = [pytest.mark.integration, pytest.mark.chaos]


def test_every_fault_at_once_loses_nothing_and_tells_everyone_exactly_once(
    services: Services, pipeline_factory: Callable[..., Pipeline], sinks: Sinks, tmp_path: Path
) -> None:
    fleet = fleet_of(20)
    readings = a_day_of(fleet, START - timedelta(days=7))
    notifier = quick_notifier_env(tmp_path, sinks)
    pipeline = pipeline_factory(
        fleet, ENVALERT_ALLOWED_LATENESS_SECONDS=str(LATENESS.total_seconds()), **notifier
    )
    mqtt = services.mqtt_settings()
    fifth = len(readings) // 5
    chunks = [readings[index * fifth : (index + 1) * fifth if index < 4 else None] for index in range(5)]
    worker_log = pipeline.log("worker")

    sinks.webhook.down.set()  # down from the start until the last chunk
    pipeline.start_all()
    pipeline.start("notifier")
    publish_readings(mqtt, chunks[0])
    wait_until(lambda: len(services.points()) >= len(chunks[0]) // 2, 60, "the first readings stored")

    pipeline.kill("worker")  # 1. the worker, mid-stream
    publish_readings(mqtt, chunks[1])
    pipeline.start("worker")

    pipeline.kill("bridge")  # 2. the bridge, with readings waiting for it in its session
    publish_readings(mqtt, chunks[2])
    pipeline.start("bridge")
    services.mosquitto.stop()  # 3. mosquitto, while the bridge drains its session
    services.mosquitto.start()

    services.influxd.stop()  # 4. InfluxDB, while readings and alerts keep coming
    publish_readings(mqtt, chunks[3])
    wait_until(lambda: "(attempt 3," in worker_log.read_text(), 30, "the worker failing to write three times")
    services.influxd.start()

    sinks.webhook.down.clear()  # 5. the webhook comes back for the last chunk
    publish_readings(mqtt, chunks[4])

    stations = {sid: Station(id=sid, **attrs) for sid, attrs in fleet.items()}  # type: ignore[arg-type]
    offline = judge_offline(load_catalogue(), stations, readings, readings[-1].ts - LATENESS)
    expected = judged_offline(offline.transitions)
    assert len(expected) > 50, "the day should give plenty to judge and to tell"

    wait_until(lambda: len(judged_live(services)) >= len(expected), 120, f"{len(expected)} transitions")
    assert judged_live(services) == expected
    wait_until(lambda: len(services.points()) >= len(readings), 60, f"all {len(readings)} readings stored")
    assert_all_stored(services, readings, fleet)

    db = notifier["ENVALERT_NOTIFIER_DB"]
    wait_until(lambda: outbox(db)["waiting"] == 0, 90, "every notification delivered")
    arrived = Counter(
        (item.channel, item.path, item.notice or NOTICE_ID.findall(item.body)[-1])
        for item in sinks.inbox.snapshot()
    )
    sent = outbox(db)
    assert sent["attempts"] > sent["delivered"], "the webhook outage should have cost attempts"
    assert sum(arrived.values()) == sent["delivered"], "each delivered message arrived once"
    assert {item for item, count in arrived.items() if count > 1} == set()
    print(
        f"\nchaos: {len(readings)} readings stored once, {len(expected)} transitions as offline, "
        f"{sent['delivered']} notifications each delivered once after {sent['attempts']} attempts"
    )
