"""``envalert demo``: the whole pipeline on the local stack, a simulated burst, and what arrived."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from ingest.kafka import read_topic
from ingest.settings import BridgeSettings, MqttSettings
from ingest.stations import Station, load_stations
from simulators.burst import burst, with_incidents
from simulators.publisher import WindowedPublisher, publish_readings
from streams import processes
from streams.influx import influxql
from streams.settings import WorkerSettings

#: A few messages a broken station might send, to show the dead-letter topic at work.
BROKEN_MESSAGES = [
    ("env/v1/air/ZZ-AIR-JS01", b"PM2.5=75;PM10=120"),
    ("env/v1/air/ZZ-AIR-JS01", b'{"station": "ZZ-AIR-JS01", "ts": 0, "values": {"pm25": 41}}'),
    ("env/v1/ammonia/ZZ-NH3-XY01", b'{"station": "ZZ-NH3-XY01", "ts": 1, "values": {"nh3": "2.1"}}'),
]


def start_pipeline(log_dir: Path) -> list[subprocess.Popen[bytes]]:
    started: list[subprocess.Popen[bytes]] = []
    try:
        for name in ("worker", "bridge"):
            log = log_dir / f"{name}.log"
            click.echo(f"starting the {name} (log: {log}) …")
            before = processes.count_marker(log, name)
            started.append(processes.launch(name, log))
            processes.wait_ready(name, started[-1], log, before)
    except (RuntimeError, TimeoutError) as error:
        processes.stop(started)
        raise click.ClickException(str(error)) from None
    return started


def publish(stations: list[Station], start: datetime, per_station: int) -> int:
    step = timedelta(minutes=1)
    readings = with_incidents(list(burst(stations, start, per_station, step)), start, step)
    with click.progressbar(length=len(readings), label="publishing over MQTT") as bar:
        last = 0

        def advance(sent: int) -> None:
            nonlocal last
            bar.update(sent - last)
            last = sent

        publish_readings(MqttSettings(), readings, client_id="envalert-demo-fleet", on_sent=advance)
    broken = WindowedPublisher(MqttSettings(), "envalert-demo-broken-station")
    for topic, payload in BROKEN_MESSAGES:
        broken.publish(topic, payload)
    broken.close()
    return len(readings)


def stored_points(settings: WorkerSettings, kinds: str, since: datetime) -> list[dict[str, object]]:
    query = f"SELECT * FROM {kinds} WHERE time >= '{since.isoformat()}'"
    try:
        return influxql(settings.influx_url, settings.influx_database, query)
    except OSError:
        return []


def show_results(
    settings: WorkerSettings, stations: dict[str, Station], since: datetime, expected: int
) -> None:
    kinds = ",".join(sorted({station.kind.value for station in stations.values()}))
    deadline = time.monotonic() + 60
    rows = stored_points(settings, kinds, since)
    while len(rows) < expected and time.monotonic() < deadline:
        time.sleep(0.5)
        rows = stored_points(settings, kinds, since)
    click.secho(f"\nInfluxDB {settings.influx_url}, database {settings.influx_database}:", bold=True)
    click.echo(f"  {len(rows)} of {expected} readings stored")
    latest: dict[str, dict[str, object]] = {}
    for row in rows:
        latest[str(row["station"])] = row
    for station_id, row in sorted(latest.items()):
        station = stations[station_id]
        shown = ", ".join(
            f"{key}={value}"
            for key, value in sorted(row.items())
            if isinstance(value, int | float) and key != "time"
        )
        when = datetime.fromtimestamp(int(str(row["time"])) / 1e9, UTC).astimezone()
        click.echo(f"  {station.kind.value:11} {station.name}（{station.district}） {when:%H:%M} {shown}")
    rejected = asyncio.run(read_topic(settings.kafka_bootstrap, settings.rejected_topic))
    reasons = Counter(json.loads(value or b"{}").get("reason") for _, value in rejected)
    click.secho(f"\nKafka {settings.rejected_topic}: {len(rejected)} refused messages so far", bold=True)
    for reason, count in reasons.most_common():
        click.echo(f"  {reason}: {count}")
    show_alerts(settings)
    if len(rows) < expected:
        raise click.ClickException(f"only {len(rows)} of {expected} readings reached InfluxDB")


def show_alerts(settings: WorkerSettings, most: int = 30) -> None:
    """The alert transitions judged so far, once their number has held still for 3 s (at most 30 s):
    the rules judge each reading one allowed lateness after it, on the event clock."""

    def transitions() -> list[dict[str, str]]:
        records = asyncio.run(read_topic(settings.kafka_bootstrap, settings.alerts_topic))
        return [json.loads(value or b"{}") for _, value in records]

    events, steady_since, deadline = transitions(), time.monotonic(), time.monotonic() + 30
    while time.monotonic() - steady_since < 3 and time.monotonic() < deadline:
        time.sleep(0.5)
        latest = transitions()
        if len(latest) != len(events):
            events, steady_since = latest, time.monotonic()
    click.secho(f"\nKafka {settings.alerts_topic}: {len(events)} alert transitions", bold=True)
    for event in events[:most]:
        colour = (
            "green"
            if event["state"] == "resolved"
            else "red"
            if event["severity"] == "critical"
            else "yellow"
        )
        click.secho(f"  {event['message_zh']}", fg=colour)
    if len(events) > most:
        click.echo(f"  … and {len(events) - most} more")
    families = Counter((event["rule"], event["state"]) for event in events)
    click.echo(
        "  by rule: " + ", ".join(f"{rule} {state} ×{n}" for (rule, state), n in sorted(families.items()))
    )


def run_demo(log_dir: Path, per_station: int) -> None:
    worker = WorkerSettings()
    stations = load_stations(worker.stations_file)
    BridgeSettings()  # fail now, not in a child process, if a setting is malformed
    children = start_pipeline(log_dir)
    try:
        start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=per_station)
        sent = publish(list(stations.values()), start, per_station)
        click.echo(
            f"published {sent} readings from {len(stations)} stations "
            f"and {len(BROKEN_MESSAGES)} broken messages"
        )
        show_results(worker, stations, start, sent)
    finally:
        processes.stop(children)
