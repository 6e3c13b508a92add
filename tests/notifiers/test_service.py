"""The notifier as a real process: alert events from Kafka, notices to a real SMTP server and
webhook, attempts in InfluxDB; exactly once through a webhook outage and through SIGKILL."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from envalert.core.kafka import make_producer, send_until_acked
from envalert.core.settings import KafkaSettings
from ingest.publisher import publish_readings
from rules.events import AlertEvent
from rules.model import Severity
from tests.conftest import QUICK, Pipeline, Services, Sinks, envalert, outbox, quick_notifier_env, wait_until
from tests.notifiers.conftest import STATIONS, event
from tests.streams.test_alerting import SCR, hourly

pytestmark = pytest.mark.integration


@pytest.fixture
def notifier_env(tmp_path: Path, sinks: Sinks) -> dict[str, str]:
    return quick_notifier_env(tmp_path, sinks)


def demo_fleet() -> dict[str, dict[str, Any]]:
    return {
        sid: station.model_dump(mode="json", exclude={"id"}, exclude_defaults=True)
        for sid, station in STATIONS.items()
    }


def publish_alerts(services: Services, events: list[AlertEvent]) -> None:
    publish_records(
        services,
        [
            (
                alert.fingerprint.encode(),
                alert.model_dump_json().encode(),
                int(alert.event_time.timestamp() * 1000),
            )
            for alert in events
        ],
    )


def publish_records(services: Services, records: list[tuple[bytes, bytes, int]]) -> None:
    """Records (key, value, timestamp in ms) on ``alerts``, each acknowledged by Kafka."""

    async def run() -> None:
        producer = make_producer(KafkaSettings(kafka_bootstrap=services.kafka_bootstrap))
        await producer.start()
        try:
            for key, value, timestamp_ms in records:
                await send_until_acked(producer, "alerts", key=key, value=value, timestamp_ms=timestamp_ms)
        finally:
            await producer.stop()

    asyncio.run(run())


EPISODES = [
    event("air.pm25.24h", "ZZ-AIR-JS01", severity=Severity.CRITICAL, value=162, threshold=150),
    event("noise.night.sudden", "ZZ-NOI-GC01", value=80, threshold=70),
    event("vocs.nmhc.single", "ZZ-VOC-SJ01", severity=Severity.CRITICAL, value=36, threshold=30),
]
#: Notices and the contacts they reach: 金水区 (critical: mail, webhook, SMS), 管城回族区
#: (warning: mail, webhook), the VOCs cluster, its branch and 市生态环境局 (critical: 3 each).
MAILS = {
    "金水区#1": 1,
    "管城回族区#1": 1,
    "上街区装备产业集聚区管委会#1": 1,
    "市生态环境局上街区分局#1": 1,
    "市生态环境局#1": 1,
}
WEBHOOKS = {notice: 2 for notice in MAILS} | {"管城回族区#1": 1}


def test_a_webhook_outage_and_a_sigkill_before_delivery_lose_nothing_and_send_nothing_twice(
    services: Services, pipeline_factory: Callable[..., Pipeline], sinks: Sinks, notifier_env: dict[str, str]
) -> None:
    pipeline = pipeline_factory(demo_fleet(), **notifier_env)
    sinks.webhook.down.set()
    pipeline.start("notifier")
    publish_alerts(services, EPISODES + EPISODES)  # at-least-once: every event twice
    db = notifier_env["ENVALERT_NOTIFIER_DB"]
    wait_until(lambda: sinks.notices("mail") == MAILS, 30, "the mails, while the webhook is down")
    wait_until(lambda: outbox(db)["attempts"] >= 5 + 2 * 9, 30, "two failed attempts per webhook message")
    pipeline.kill("notifier")
    assert sinks.notices("webhook") == {} and outbox(db)["waiting"] == 9
    sinks.webhook.down.clear()
    pipeline.start("notifier")
    wait_until(lambda: outbox(db)["waiting"] == 0, 30, "every queued message delivered after the restart")
    assert sinks.notices("webhook") == WEBHOOKS and sinks.notices("mail") == MAILS
    points = wait_until(
        lambda: (
            len(found := services.influx_query("SELECT * FROM notifications")) >= outbox(db)["attempts"]
            and found
        ),
        30,
        "every attempt in InfluxDB measurement notifications",
    )
    delivered = [p for p in points if p["outcome"] == "delivered"]
    assert len(delivered) == 14 and len(points) == outbox(db)["attempts"]
    assert {p["channel"] for p in delivered} == {"mailto", "json"}
    print(f"\nwebhook outage + SIGKILL: {len(points)} attempts, {len(delivered)} deliveries, {outbox(db)}")


def test_a_sigkill_while_alerts_wait_for_their_group_loses_nothing(
    services: Services, pipeline_factory: Callable[..., Pipeline], sinks: Sinks, notifier_env: dict[str, str]
) -> None:
    slow = {**notifier_env}
    routing = Path(slow["ENVALERT_ROUTING_FILE"])
    config = yaml.safe_load(routing.read_text(encoding="utf-8"))
    routing.write_text(yaml.safe_dump({**config, "timings": {**QUICK, "group_wait": "8s"}}), encoding="utf-8")
    pipeline = pipeline_factory(demo_fleet(), **slow)
    pipeline.start("notifier")
    publish_alerts(services, EPISODES)
    db = slow["ENVALERT_NOTIFIER_DB"]

    def taken() -> int:
        with sqlite3.connect(db) as connection:
            return int(connection.execute("SELECT count(*) FROM seen").fetchone()[0])

    wait_until(lambda: taken() == 3, 30, "the notifier to take the three events")
    pipeline.kill("notifier")
    assert sinks.inbox.snapshot() == [] and outbox(db)["delivered"] == 0, "killed inside the group wait"
    pipeline.start("notifier")
    wait_until(lambda: sinks.notices("mail") == MAILS, 40, "the mails after the restart")
    wait_until(lambda: sinks.notices("webhook") == WEBHOOKS, 10, "the webhooks after the restart")
    # A message is recorded delivered once its receiver has answered: just after it arrived.
    wait_until(lambda: outbox(db)["waiting"] == 0, 10, "every delivery recorded")
    assert outbox(db) == {"delivered": 14, "waiting": 0, "attempts": 14}
    print(f"\nSIGKILL in the group wait: {outbox(db)}, mail {dict(sinks.notices('mail'))}")


def test_an_ammonia_episode_reaches_the_plant_its_regulator_and_the_city_bureau(
    services: Services, pipeline_factory: Callable[..., Pipeline], sinks: Sinks, notifier_env: dict[str, str]
) -> None:
    """End to end: MQTT → bridge → Kafka → worker → alerts → notifier → SMTP and webhook."""
    pipeline = pipeline_factory(SCR, **notifier_env)
    pipeline.start_all()
    pipeline.start("notifier")
    publish_readings(services.mqtt_settings(), hourly([2.4, 3.0, 6.0, 1.0]))
    resolved = {"荥阳电厂", "市生态环境局荥阳市分局", "市生态环境局"}

    def told_resolved(channel: str) -> set[str]:
        """Units told of the end by ``channel``: a mail's path is its address, a post's ends in the unit."""
        paths = {item.path for item in sinks.inbox.snapshot(channel) if "已解除" in item.body}
        return {path.split("/")[-1].split(".")[0] for path in paths}

    units = {"xingyang-power", "xingyang-branch", "city-bureau"}
    # A unit's mail and its posts go out at once, in no set order: wait for both.
    wait_until(
        lambda: units <= told_resolved("webhook") and units <= told_resolved("mail"), 90, "the resolutions"
    )
    mails = sinks.inbox.snapshot("mail")
    assert {m.path for m in mails} == {
        "xingyang-power.duty@zzhb.example",
        "xingyang-branch.duty@zzhb.example",
        "city-bureau.duty@zzhb.example",
    }
    # However the worker's transitions fall into notices, each unit learns the episode's worst hour.
    critical = [m for m in mails if "严重" in m.body and "读数：6 mg/m³，阈值：5 mg/m³" in m.body]
    assert {m.path.split(".")[0] for m in critical} >= {"xingyang-power", "xingyang-branch", "city-bureau"}
    sms = [item for item in sinks.inbox.snapshot("webhook") if item.path.startswith("/sms/")]
    assert {item.path for item in sms} == {"/sms/xingyang-power", "/sms/xingyang-branch", "/sms/city-bureau"}
    assert sum(sinks.notices("mail").values()) == len(mails) == len(set(sinks.notices("mail"))), (
        "each notice once"
    )
    assert resolved == {m.title.split("：")[0] for m in mails if "已解除" in m.title}
    posts = sinks.inbox.snapshot("webhook")
    print(f"\nammonia episode end to end: {len(mails)} mails, {len(posts)} webhook posts")


def test_notify_test_sends_to_each_contact_of_a_unit(sinks: Sinks, tmp_path: Path) -> None:
    env = {**os.environ, **sinks.env, "ENVALERT_NOTIFIER_DB": str(tmp_path / "n.db")}
    sent = envalert("notify", "test", "金水区", env=env)
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.count("delivered") == 3 and "mailto://127.0.0.1" in sent.stdout
    assert {(item.channel, item.path) for item in sinks.inbox.snapshot()} == {
        ("mail", "jinshui.duty@zzhb.example"),
        ("webhook", "/duty/jinshui"),
        ("webhook", "/sms/jinshui"),
    }
    assert all(item.title == "envalert 测试消息 / test message: 金水区" for item in sinks.inbox.snapshot())
    unknown = envalert("notify", "test", "金水县", env=env)
    assert unknown.returncode == 1 and "no unit '金水县'" in unknown.stderr
    sinks.webhook.down.set()
    failing = envalert("notify", "test", "jinshui", "--tag", "sms", env=env)
    assert failing.returncode == 1 and "FAILED 短信网关 SMS gateway" in failing.stdout
    assert "1 of 1 contacts failed" in failing.stderr


def scrape_text(pipeline: Pipeline) -> str:
    with urllib.request.urlopen(f"{pipeline.board}/metrics", timeout=5) as reply:
        return str(reply.read().decode())


@pytest.mark.hostile
def test_an_event_the_notifier_cannot_read_is_kept_counted_and_a_newer_one_is_read(
    services: Services, pipeline_factory: Callable[..., Pipeline], sinks: Sinks, notifier_env: dict[str, str]
) -> None:
    """Unreadable events were skipped and their offsets committed: a worker a version ahead (one
    more field) had every alert dropped, unseen."""
    pipeline = pipeline_factory(demo_fleet(), **notifier_env)
    pipeline.start("notifier")
    newer = EPISODES[0].model_dump(mode="json") | {"added_in_a_later_version": "x"}
    publish_records(
        services, [(b"forged", b"\x00 not an alert", 0), (b"forged", json.dumps(newer).encode(), 0)]
    )
    wait_until(lambda: sinks.notices("mail").get("金水区#1") == 1, 30, "the newer worker's alert, told")
    records = wait_until(
        lambda: (found := [r for r in services.rejected() if r["source"] == "notifier"]) and found,
        30,
        "the unreadable event in the dead-letter topic",
    )
    assert [(r["topic"], r["reason"]) for r in records] == [("alerts", "unreadable_event")]
    log = pipeline.log("notifier").read_text()
    assert "ERROR" in log and "unreadable_event" in log
    metrics = wait_until(
        lambda: "envalert_notifier_unreadable_events_total 1.0" in (text := scrape_text(pipeline)) and text,
        15,
        "the count on /metrics",
    )
    assert metrics
