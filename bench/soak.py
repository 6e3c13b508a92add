"""Kafka through a long steady stream, as a district's network would send it: its memory and disk
sampled all along, on a broker whose retention and compaction apply within minutes."""

from __future__ import annotations

import time
from datetime import timedelta

from bench.footprint import FootprintSampler, Levels, disk_mb
from bench.stack import BenchStack, kept, running
from bench.throughput import START, metrics_url, wait_visible
from envalert.core.stations import DEFAULT_STATIONS, load_stations
from ingest.publisher import message_of, publish_messages
from ingest.settings import MqttSettings
from simulators.fleet import scaled, write_catalogue
from simulators.generators import baseline

#: The soak's broker: segments of 1 MiB, retention and compaction checked every second from the
#: start, so that what retention allows is reached in the first minutes (`ENVALERT_*_RETENTION_MB`
#: of 1 below); the local stack's own segments are 64 MiB.
SMALL_SEGMENTS = {
    "log.segment.bytes": str(1 << 20),
    "log.initial.task.delay.ms": "0",
    "log.retention.check.interval.ms": "1000",
    "log.segment.delete.delay.ms": "0",
    "log.cleaner.backoff.ms": "1000",
}
SMALL_RETENTION = {"ENVALERT_READINGS_RETENTION_MB": "1", "ENVALERT_TOPIC_RETENTION_MB": "1"}


def soak(stack: BenchStack, stations: int, every: timedelta, minutes: float) -> dict[str, float]:
    """``stations`` stations each reporting ``every`` (event time and wall time alike) for
    ``minutes``; Kafka's memory and disk sampled every 5 s."""
    fleet = scaled(load_stations(DEFAULT_STATIONS), stations)
    catalogue = stack.root / f"stations-soak-{stations}.yaml"
    write_catalogue(fleet, catalogue)
    end = START + timedelta(minutes=minutes)
    messages = [message_of(r) for r in baseline(fleet.values(), START, end, every)]
    rate = stations / every.total_seconds()
    logs = stack.root / "logs-soak"
    env = {**stack.pipeline_env(catalogue, "soak"), **SMALL_RETENTION}
    with running(["worker", "bridge"], env, logs):
        sampler = FootprintSampler(stack.pids["kafka"], stack.root / "kafka" / "data", every=5.0)
        publish_messages(MqttSettings(mqtt_port=stack.mqtt_port), messages, client_id="bench-soak", rate=rate)
        count = wait_visible(stack, metrics_url(env), len(messages), len(messages), time.perf_counter() + 300)
        samples = sampler.stop()
    if count < len(messages):
        raise RuntimeError(f"only {count} of {len(messages)} readings reached InfluxDB; logs in {kept(logs)}")
    levels = Levels.of(samples)
    return {
        "stations": stations,
        "readings": len(messages),
        "readings_per_s": rate,
        "minutes": (samples[-1].seconds - samples[0].seconds) / 60,
        "kafka_rss_first_mb": samples[0].resident_mb,
        "kafka_rss_middle_third_mb": levels.middle_resident_mb,
        "kafka_rss_last_third_mb": levels.last_resident_mb,
        "kafka_disk_middle_third_mb": levels.middle_disk_mb,
        "kafka_disk_last_third_mb": levels.last_disk_mb,
        "kafka_disk_peak_mb": levels.peak_disk_mb,
        "influxd_disk_mb": disk_mb(stack.root / "influxd"),
    }
