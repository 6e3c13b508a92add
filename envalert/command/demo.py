"""``envalert demo``: the whole pipeline on the local stack, a simulated burst, what arrived in
InfluxDB and Kafka, and the notifications delivered to a local mail server and webhook."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import yaml

from envalert.command import processes
from envalert.command.demo_board import demo_board_users, metric_samples, show_board
from envalert.command.host import free_port
from envalert.command.local_accounts import LocalAccounts, env_for
from envalert.core.contract import CHINA_STANDARD_TIME, Reading
from envalert.core.influx import influx_execute, influxql
from envalert.core.kafka import read_topic
from envalert.core.signals import wait_until_signalled
from envalert.core.stations import Station, load_stations
from ingest.publisher import WindowedPublisher, publish_readings
from ingest.settings import BridgeSettings, MqttSettings
from notifiers.routing import load_routing
from notifiers.settings import NotifierSettings
from notifiers.sinks import Inbox, MailSink, Received, WebhookSink
from notifiers.store import Store
from simulators.scenarios import Scenario, load_scenario
from streams.settings import WorkerSettings

#: A few messages a broken station might send, to show the dead-letter topic at work.
BROKEN_MESSAGES = [
    ("env/v1/air/ZZ-AIR-JS01", b"PM2.5=75;PM10=120"),
    ("env/v1/air/ZZ-AIR-JS01", b'{"station": "ZZ-AIR-JS01", "ts": 0, "values": {"pm25": 41}}'),
    ("env/v1/ammonia/ZZ-NH3-XY01", b'{"station": "ZZ-NH3-XY01", "ts": 1, "values": {"nh3": "2.1"}}'),
]


def start_pipeline(log_dir: Path, env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    started: list[subprocess.Popen[bytes]] = []
    try:
        for name in ("worker", "notifier", "bridge"):
            log = log_dir / f"{name}.log"
            click.echo(f"starting the {name} (log: {log}) …")
            before = processes.count_marker(log, name)
            started.append(processes.launch(name, log, env))
            processes.wait_ready(name, started[-1], log, before)
    except (RuntimeError, TimeoutError) as error:
        processes.stop(started)
        raise click.ClickException(str(error)) from None
    return started


def publish(mqtt: MqttSettings, readings: list[Reading]) -> int:
    with click.progressbar(length=len(readings), label="publishing over MQTT") as bar:
        last = 0

        def advance(sent: int) -> None:
            nonlocal last
            bar.update(sent - last)
            last = sent

        publish_readings(mqtt, readings, client_id="envalert-demo-fleet", on_sent=advance)
    broken = WindowedPublisher(mqtt, "envalert-demo-broken-station")
    for topic, payload in BROKEN_MESSAGES:
        broken.publish(topic, payload)
    broken.close()
    return len(readings)


def window(start: datetime, end: datetime) -> str:
    return f"time >= '{start.isoformat()}' AND time < '{end.isoformat()}'"


def stored_points(
    settings: WorkerSettings, kinds: str, start: datetime, end: datetime
) -> list[dict[str, object]]:
    query = f"SELECT * FROM {kinds} WHERE {window(start, end)}"
    try:
        return influxql(settings.influx_url, settings.influx_database, query)
    except OSError:
        return []


def show_results(
    settings: WorkerSettings, stations: dict[str, Station], scenario: Scenario, expected: int
) -> None:
    kinds = ",".join(sorted({station.kind.value for station in stations.values()}))
    start, end = scenario.start, scenario.start + scenario.duration
    deadline = time.monotonic() + 60
    rows = stored_points(settings, kinds, start, end)
    while len(rows) < expected and time.monotonic() < deadline:
        time.sleep(0.5)
        rows = stored_points(settings, kinds, start, end)
    click.secho(f"\nInfluxDB {settings.influx_url}, database {settings.influx_database}:", bold=True)
    click.echo(f"  {len(rows)} of {expected} readings stored; the latest of one station of each kind:")
    latest: dict[str, dict[str, object]] = {}
    for row in rows:
        latest[stations[str(row["station"])].kind.value] = row
    for _, row in sorted(latest.items()):
        station = stations[str(row["station"])]
        shown = ", ".join(
            f"{key}={value}"
            for key, value in sorted(row.items())
            if isinstance(value, int | float) and key != "time"
        )
        when = datetime.fromtimestamp(int(str(row["time"])) / 1e9, UTC).astimezone(CHINA_STANDARD_TIME)
        click.echo(
            f"  {station.kind.value:11} {station.name}（{station.district}） {when:%m-%d %H:%M} {shown}"
        )
    rejected = asyncio.run(read_topic(settings.kafka_bootstrap, settings.rejected_topic))
    reasons = Counter(json.loads(record.value or b"{}").get("reason") for record in rejected)
    click.secho(f"\nKafka {settings.rejected_topic}: {len(rejected)} refused messages so far", bold=True)
    for reason, count in reasons.most_common():
        click.echo(f"  {reason}: {count}")
    wait_judged(settings, expected)
    show_alerts(settings)
    if len(rows) < expected:
        raise click.ClickException(f"only {len(rows)} of {expected} readings reached InfluxDB")


def readings_judged(settings: WorkerSettings) -> float:
    """The worker's count of readings judged, from its /metrics page (0 while it cannot be read)."""
    address = f"http://{settings.worker_web_bind}:{settings.worker_web_port}/metrics"
    try:
        return metric_samples(address).get("envalert_events_judged_total{topic=readings}", 0.0)
    except OSError:
        return 0.0


def wait_judged(settings: WorkerSettings, readings: int, timeout: float = 180) -> None:
    """Until the worker has judged every reading the demo published (a few days of event time)."""
    deadline = time.monotonic() + timeout
    with click.progressbar(length=readings, label="the worker judging them") as bar:
        done = 0.0
        while done < readings and time.monotonic() < deadline:
            time.sleep(0.5)
            now = readings_judged(settings)
            bar.update(int(now - done))
            done = now


def show_alerts(settings: WorkerSettings) -> None:
    """The alert transitions judged so far, once their number has held still for 3 s (at most 30 s):
    the rules judge each reading one allowed lateness after it, on the event clock."""

    def transitions() -> list[dict[str, str]]:
        records = asyncio.run(read_topic(settings.kafka_bootstrap, settings.alerts_topic))
        return [json.loads(record.value or b"{}") for record in records]

    events, steady_since, deadline = transitions(), time.monotonic(), time.monotonic() + 30
    while time.monotonic() - steady_since < 3 and time.monotonic() < deadline:
        time.sleep(0.5)
        latest = transitions()
        if len(latest) != len(events):
            events, steady_since = latest, time.monotonic()
    rules = sorted({event["rule"] for event in events})
    click.secho(
        f"\nKafka {settings.alerts_topic}: {len(events)} alert transitions of {len(rules)} rules; "
        "the first of each rule:",
        bold=True,
    )
    for rule in rules:
        event = next(e for e in events if e["rule"] == rule and e["state"] != "pending")
        colour = "red" if event["severity"] == "critical" else "yellow"
        click.secho(f"  {event['message_zh']}", fg=colour)
    families = Counter((event["rule"], event["state"]) for event in events)
    click.echo(
        "  by rule: " + ", ".join(f"{rule} {state} ×{n}" for (rule, state), n in sorted(families.items()))
    )


def run_demo(log_dir: Path, scenario: str, accounts: LocalAccounts, *, watch: bool = False) -> None:
    """The stations publish through the stack's gateway account, the bridge reads with its own."""
    worker = WorkerSettings()
    stations = load_stations(worker.stations_file)
    BridgeSettings()  # fail now, not in a child process, if a setting is malformed
    gateway = MqttSettings(mqtt_username=accounts.gateway.username, mqtt_password=accounts.gateway.password)
    board_env, token = demo_board_users(log_dir.parent / "demo")
    board = NotifierSettings()
    with local_receivers(log_dir) as receivers:
        children = start_pipeline(log_dir, receivers.env | env_for(accounts.bridge) | board_env)
        click.secho(
            f"\nthe live board: {board.board_url} (sign in with the token in {token} to acknowledge)",
            bold=True,
        )
        try:
            publish_and_show(gateway, worker, stations, load_scenario(scenario).recent(datetime.now(UTC)))
            show_notifications(receivers)
            show_board(f"http://127.0.0.1:{board.board_port}")
            if watch:
                click.secho(f"\nthe pipeline keeps running: {board.board_url}; Ctrl-C stops it", bold=True)
                wait_until_signalled()
        finally:
            processes.stop(children)


def publish_and_show(
    mqtt: MqttSettings, worker: WorkerSettings, stations: dict[str, Station], scenario: Scenario
) -> None:
    """The scenario's days, in event time, published as fast as the broker takes them."""
    end = scenario.start + scenario.duration
    click.secho(f"\nscenario {scenario.name}: {scenario.title.zh} / {scenario.title.en}", bold=True)
    click.echo(
        f"  {scenario.start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} Beijing time, {len(stations)} stations"
    )
    # The demo owns its two days: what an earlier run stored there would be counted as arrived.
    influx_execute(worker.influx_url, worker.influx_database, f"DELETE WHERE {window(scenario.start, end)}")
    sent = publish(mqtt, scenario.readings(stations))
    click.echo(f"published {sent} readings and {len(BROKEN_MESSAGES)} broken messages")
    show_results(worker, stations, scenario, sent)


@dataclass
class Receivers:
    inbox: Inbox
    env: dict[str, str]
    store: Path


@contextmanager
def local_receivers(log_dir: Path) -> Iterator[Receivers]:
    """A local mail server and webhook that print each notification as it arrives, and the
    notifier's settings to reach them, with quick demo timings and a fresh store."""
    started = time.monotonic()

    def show(item: Received) -> None:
        arrow = "✉ mail   " if item.channel == "mail" else "⇢ webhook"
        click.secho(f"  [{time.monotonic() - started:5.1f} s] {arrow} {item.path}: {item.title}", fg="cyan")

    inbox = Inbox(on_receive=show)
    mail, webhook = MailSink(inbox, free_port()), WebhookSink(inbox, free_port())
    routing = load_routing()
    quick = routing.timings.model_copy(
        update={"group_wait": timedelta(seconds=2), "group_interval": timedelta(seconds=5)}
    )
    log_dir.mkdir(parents=True, exist_ok=True)
    routing_file = log_dir / "demo-routing.yaml"
    routing_file.write_text(
        yaml.safe_dump(
            routing.model_copy(update={"timings": quick}).model_dump(mode="json"), allow_unicode=True
        ),
        encoding="utf-8",
    )
    store = log_dir.parent / "demo" / "notifier.db"
    for stale in store.parent.glob("notifier.db*"):
        stale.unlink()
    env = {
        **os.environ,
        "ENVALERT_SMTP": mail.address,
        "ENVALERT_WEBHOOK": webhook.address,
        "ENVALERT_SMS_GATEWAY": webhook.address,
        "ENVALERT_ROUTING_FILE": str(routing_file),
        "ENVALERT_NOTIFIER_DB": str(store),
    }
    mail.start()
    webhook.start()
    click.echo(f"local mail server on {mail.address}, webhook on {webhook.address}")
    try:
        yield Receivers(inbox, env, store)
    finally:
        mail.stop()
        webhook.stop()


def show_notifications(receivers: Receivers) -> None:
    """Wait until every queued notice is delivered and nothing new came for 3 s (at most 60 s)."""

    def waiting() -> int:
        return Store(receivers.store).counts()["waiting"] if receivers.store.exists() else 0

    count, steady_since, deadline = len(receivers.inbox.snapshot()), time.monotonic(), time.monotonic() + 60
    while (time.monotonic() - steady_since < 3 or waiting()) and time.monotonic() < deadline:
        time.sleep(0.5)
        if len(receivers.inbox.snapshot()) != count:
            count, steady_since = len(receivers.inbox.snapshot()), time.monotonic()
    received = receivers.inbox.snapshot()
    channels = Counter(item.channel for item in received)
    click.secho(
        f"\nNotifications delivered: {len(received)} "
        f"({channels['mail']} by mail, {channels['webhook']} by webhook and SMS gateway)",
        bold=True,
    )
    mails = [item for item in received if item.channel == "mail"]
    units = Counter(item.title.split("：")[0].removeprefix("【升级】") for item in mails)
    click.echo("  mails by unit: " + ", ".join(f"{unit} ×{n}" for unit, n in units.most_common()))
    if mails:
        first = mails[0]
        click.secho(f"\nthe first mail, to {first.path} — {first.title}", bold=True)
        click.echo("  " + first.body.replace("\n", "\n  "))
