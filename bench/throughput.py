"""Sustained end-to-end throughput: readings published over MQTT until all are visible in
InfluxDB, through the real bridge and worker with the full rule catalogue."""

from __future__ import annotations

import os
import time
import urllib.request
from datetime import UTC, datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families

from bench.cpu import CpuMeter
from bench.footprint import memory_mb
from bench.stack import BenchStack, kept, running
from envalert.core.contract import Kind
from envalert.core.influx import influxql
from envalert.core.stations import DEFAULT_STATIONS, load_stations
from ingest.publisher import message_of, publish_messages
from ingest.settings import MqttSettings
from simulators.fleet import scaled, write_catalogue
from simulators.generators import baseline

START = datetime(2026, 11, 1, tzinfo=UTC)


def stored(stack: BenchStack) -> int:
    """Readings in InfluxDB: per measurement, its fullest field's count."""
    measurements = ",".join(kind.value for kind in Kind)
    try:
        rows = influxql(stack.influx_url, "envalert", f"SELECT count(*) FROM {measurements}")
    except (OSError, ValueError):
        return 0
    return sum(max((v or 0 for k, v in row.items() if k.startswith("count_")), default=0) for row in rows)


def stored_by_worker(metrics_url: str) -> float:
    """Readings the worker has had acknowledged by InfluxDB, from its /metrics page."""
    try:
        with urllib.request.urlopen(metrics_url, timeout=5) as page:
            text = page.read().decode()
    except OSError:
        return 0.0
    return next(
        (
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "envalert_points_stored_total" and sample.labels == {"what": "readings"}
        ),
        0.0,
    )


def wait_visible(stack: BenchStack, metrics_url: str, published: int, total: int, deadline: float) -> int:
    """Until all ``total`` readings are in InfluxDB, ``published`` of them by this run's worker.

    Counting readings in InfluxDB is heavy (every 0.2 s over 10,000 stations' series it tripled
    influxd's CPU), so the worker's own count is watched first, then InfluxDB counts them once
    (again, if some are still on their way)."""
    while stored_by_worker(metrics_url) < published and time.perf_counter() < deadline:
        time.sleep(0.1)
    count = stored(stack)
    while count < total and time.perf_counter() < deadline:
        time.sleep(1)
        count = stored(stack)
    return count


def end_to_end(stack: BenchStack, stations: int, minutes: int) -> dict[str, float]:
    """``stations`` stations' readings, one a minute for ``minutes``, as fast as they go."""
    fleet = scaled(load_stations(DEFAULT_STATIONS), stations)
    catalogue = stack.root / f"stations-{stations}.yaml"
    write_catalogue(fleet, catalogue)
    start = START
    end = start + timedelta(minutes=minutes)
    messages = [message_of(r) for r in baseline(fleet.values(), start, end, timedelta(minutes=1))]
    logs = stack.root / f"logs-{stations}"
    env = stack.pipeline_env(catalogue, str(stations))
    with running(["worker", "bridge"], env, logs) as (worker, bridge):
        before = stored(stack)
        # This process publishes the readings and watches InfluxDB for them.
        meter = CpuMeter({"worker": worker.pid, "bridge": bridge.pid, **stack.pids, "bench": os.getpid()})
        began = time.perf_counter()
        publish_messages(
            MqttSettings(mqtt_port=stack.mqtt_port), messages, client_id=f"bench-fleet-{stations}"
        )
        published = time.perf_counter() - began
        deadline = began + max(600, len(messages) / 100)  # a slowest plausible 100 readings/s
        total = before + len(messages)
        count = wait_visible(stack, metrics_url(env), len(messages), total, deadline) - before
        visible = time.perf_counter() - began
        cpu = meter.per_reading(len(messages), visible)
        worker_peak_mb = memory_mb(worker.pid, "VmHWM")
        broker_peak_mb = memory_mb(stack.pids["kafka"], "VmHWM")
    if count < len(messages):
        raise RuntimeError(
            f"only {count} of {len(messages)} readings reached InfluxDB in time; logs in {kept(logs)}"
        )
    return {
        "stations": stations,
        "readings": len(messages),
        "publish_per_s": len(messages) / published,
        "end_to_end_per_s": len(messages) / visible,
        "seconds": visible,
        "worker_peak_rss_mb": worker_peak_mb,
        "kafka_peak_rss_mb": broker_peak_mb,
        **cpu,
        # One process, so one core at most: near 1, the worker is what the run waits for.
        "cores_busy_worker": cpu["cpu_us_per_reading_worker"] * len(messages) / 1e6 / visible,
    }


def metrics_url(env: dict[str, str]) -> str:
    """The /metrics page of the worker started with ``env``."""
    return f"http://127.0.0.1:{env['ENVALERT_WORKER_WEB_PORT']}/metrics"
