"""Sustained end-to-end throughput: readings published over MQTT until all are visible in
InfluxDB, through the real bridge and worker with the full rule catalogue."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.stack import BenchStack, kept, running
from ingest.contract import Kind
from ingest.publisher import message_of, publish_messages
from ingest.settings import MqttSettings
from ingest.stations import load_stations
from simulators.fleet import scaled, write_catalogue
from simulators.generators import FLEET, baseline
from streams.influx import influxql

START = datetime(2026, 11, 1, tzinfo=UTC)


def stored(stack: BenchStack, since: datetime | None = None) -> int:
    """Readings in InfluxDB (since ``since``): per measurement, its fullest field's count."""
    measurements = ",".join(kind.value for kind in Kind)
    where = f" WHERE time >= '{since.isoformat()}'" if since else ""
    try:
        rows = influxql(stack.influx_url, "envalert", f"SELECT count(*) FROM {measurements}{where}")
    except (OSError, ValueError):
        return 0
    return sum(max((v or 0 for k, v in row.items() if k.startswith("count_")), default=0) for row in rows)


def wait_visible(stack: BenchStack, total: int, last: datetime, in_last: int, deadline: float) -> int:
    """Until all ``total`` readings are stored. A count over everything is heavy for InfluxDB
    (it would slow what it measures), so first the last minute's few are awaited, which come
    last, then the whole is counted once (again, if some are still on their way)."""
    while stored(stack, last) < in_last and time.perf_counter() < deadline:
        time.sleep(0.2)
    count = stored(stack)
    while count < total and time.perf_counter() < deadline:
        time.sleep(1)
        count = stored(stack)
    return count


def end_to_end(stack: BenchStack, stations: int, minutes: int) -> dict[str, float]:
    """``stations`` stations' readings, one a minute for ``minutes``, as fast as they go."""
    fleet = scaled(load_stations(FLEET), stations)
    catalogue = stack.root / f"stations-{stations}.yaml"
    write_catalogue(fleet, catalogue)
    start = START
    end = start + timedelta(minutes=minutes)
    messages = [message_of(r) for r in baseline(fleet.values(), start, end, timedelta(minutes=1))]
    last = end - timedelta(minutes=1)
    logs = stack.root / f"logs-{stations}"
    with running(["worker", "bridge"], stack.pipeline_env(catalogue, str(stations)), logs) as (worker, _):
        before = stored(stack)
        began = time.perf_counter()
        publish_messages(
            MqttSettings(mqtt_port=stack.mqtt_port), messages, client_id=f"bench-fleet-{stations}"
        )
        published = time.perf_counter() - began
        deadline = began + max(600, len(messages) / 100)  # a slowest plausible 100 readings/s
        count = wait_visible(stack, before + len(messages), last, len(fleet), deadline) - before
        visible = time.perf_counter() - began
        worker_peak_mb = memory_mb(worker.pid, "VmHWM")
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
    }


def memory_mb(pid: int, field: str) -> float:
    """A process's memory figure from the kernel, in MB: ``VmRSS`` now, ``VmHWM`` its peak so far."""
    status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    kilobytes = next(line.split()[1] for line in status.splitlines() if line.startswith(f"{field}:"))
    return int(kilobytes) / 1024
