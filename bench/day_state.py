"""Worker memory with a day of state: every station's timeline as it stands after a day of minute
readings, recovered by the worker from its changelog, then minutes of readings for every station.

Publishing a day for 10,000 stations (14.4 million readings) would take most of a day here, so
the state is made offline: each station of the catalogue's fleet is judged through a day
(``rules.offline`` rules, the worker's code), and its copies in the scaled fleet start from its
row. The worker then recovers those rows as it would after a restart, and judges minutes of
readings from every station (one by default; an hour for 1,000 stations is a city's network in
steady state), which parses each row once and keeps ``ENVALERT_KEPT_TIMELINES`` of them parsed.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import timedelta

from aiokafka import AIOKafkaProducer
from faust.serializers import codecs

from bench.footprint import memory_mb
from bench.stack import BenchStack, kept, running
from bench.throughput import START, metrics_url, stored, wait_visible
from envalert.core.kafka import ensure_topics
from envalert.core.settings import WORKER_GROUP, KafkaSettings
from envalert.core.stations import DEFAULT_STATIONS, Station, load_stations
from ingest.publisher import message_of, publish_messages
from ingest.settings import MqttSettings
from rules.catalogue import load_catalogue
from rules.derived import Facts, deriver_for
from rules.evaluator import StationEvaluator
from rules.timeline import Timeline, accept, advance
from simulators.fleet import scaled, write_catalogue
from simulators.generators import baseline
from streams.watermarks import home_partitions

DAY = timedelta(days=1)
CHANGELOG = f"{WORKER_GROUP}-timelines-changelog"


def day_rows(stations: dict[str, Station]) -> dict[str, str]:
    """Each station's timeline row after the day before ``START``, its facts handed on."""
    catalogue = load_catalogue()
    rows = {}
    for station_id, station in stations.items():
        timeline, deriver = Timeline(), deriver_for(station)
        evaluator = StationEvaluator(catalogue.rules, station)
        for reading in baseline([station], START - DAY, START, timedelta(minutes=1)):
            accept(timeline, reading)
            advance(timeline, evaluator, reading.ts, deriver)
        timeline.facts = Facts()
        rows[station_id] = timeline.model_dump_json()
    return rows


async def write_changelog(stack: BenchStack, fleet: dict[str, Station], originals: list[str]) -> int:
    """The fleet's rows on the worker's changelog, each in its station's partition; bytes sent.
    ``simulators.fleet.scaled`` makes station ``i`` of the fleet a copy of original ``i % n``."""
    kafka = KafkaSettings(kafka_bootstrap=stack.kafka_bootstrap)
    await ensure_topics(kafka, [CHANGELOG])
    homes = home_partitions(fleet, kafka.topic_partitions)
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
    await producer.start()
    sent = 0
    try:
        for station_id, original in zip(fleet, itertools.cycle(originals)):
            row = codecs.dumps("json", original)
            await producer.send_and_wait(CHANGELOG, row, key=station_id.encode(), partition=homes[station_id])
            sent += len(row)
    finally:
        await producer.stop()
    return sent


def worker_with_a_day(stack: BenchStack, stations: int, minutes: int) -> dict[str, float]:
    """The worker's memory and rate while ``stations`` that each hold a day send ``minutes`` of
    readings, one a minute."""
    base = load_stations(DEFAULT_STATIONS)
    fleet = scaled(base, stations)
    catalogue = stack.root / f"stations-day-{stations}.yaml"
    write_catalogue(fleet, catalogue)
    state_bytes = asyncio.run(write_changelog(stack, fleet, list(day_rows(base).values())))
    step = timedelta(minutes=1)
    readings = [message_of(r) for r in baseline(fleet.values(), START, START + minutes * step, step)]
    logs = stack.root / f"logs-day-{stations}"
    env = stack.pipeline_env(catalogue, f"day-{stations}")
    with running(["worker", "bridge"], env, logs) as (worker, _):
        recovered_mb = memory_mb(worker.pid, "VmRSS")
        began = time.perf_counter()
        publish_messages(
            MqttSettings(mqtt_port=stack.mqtt_port), readings, client_id=f"bench-day-fleet-{stations}"
        )
        count = wait_visible(stack, metrics_url(env), len(readings), len(readings), began + 600)
        visible = time.perf_counter() - began
        peak_mb, now_mb = memory_mb(worker.pid, "VmHWM"), memory_mb(worker.pid, "VmRSS")
    if count < len(readings):
        raise RuntimeError(
            f"only {count} of {len(readings)} readings reached InfluxDB in time; logs in {kept(logs)}"
        )
    late = (logs / "worker.log").read_text(errors="replace").count("late reading from")
    if late:
        raise RuntimeError(f"{late} readings were judged late: the day's state was not recovered; see {logs}")
    return {
        "stations": stations,
        "readings": len(readings),
        "state_mb_on_changelog": state_bytes / 1e6,
        "worker_rss_after_recovery_mb": recovered_mb,
        "worker_peak_rss_mb": peak_mb,
        "worker_rss_mb": now_mb,
        "stored": stored(stack),
        # The first minute is the dearest: every station's row parsed, its day written back.
        "end_to_end_per_s": len(readings) / visible,
    }
