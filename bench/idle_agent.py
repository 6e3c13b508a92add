"""The Faust ceiling: how fast one agent that does nothing takes records from the local broker.

Run as its own process (``python -m bench.idle_agent``), with the worker's App class and its
group settings, so that the figure is what Faust itself costs the worker per record. The
agent writes when it took its first and its last record, and the CPU time its process had spent
by then, to ``BENCH_FAUST_OUT``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from faust.types import StreamT

from envalert.core.kafka import group_session
from streams.app import App
from streams.settings import WorkerSettings

TOPIC = os.environ.get("BENCH_FAUST_TOPIC", "bench")
COUNT = int(os.environ.get("BENCH_FAUST_COUNT", "0"))
OUT = Path(os.environ.get("BENCH_FAUST_OUT", "idle-agent.json"))

settings = WorkerSettings()
session_seconds, heartbeat_seconds = group_session(settings)

app = App(
    "bench-idle-agent",
    broker=f"kafka://{settings.kafka_bootstrap}",
    store="memory://",
    consumer_auto_offset_reset="earliest",
    web_enabled=False,
    datadir=str(settings.worker_data_dir),
    broker_session_timeout=session_seconds,
    broker_heartbeat_interval=heartbeat_seconds,
)


@app.agent(app.topic(TOPIC, key_type=bytes, value_type=bytes, value_serializer="raw"))
async def take(stream: StreamT[bytes]) -> None:
    taken, first, first_cpu = 0, 0.0, 0.0
    async for _ in stream:
        taken += 1
        if taken == 1:
            first, first_cpu = time.monotonic(), time.process_time()
        if taken == COUNT:
            times = {
                "first": first,
                "last": time.monotonic(),
                "first_cpu": first_cpu,
                "last_cpu": time.process_time(),
            }
            OUT.write_text(json.dumps(times), encoding="utf-8")


if __name__ == "__main__":
    sys.argv = ["bench-idle-agent", "worker", "--loglevel", "warn", "--without-web"]
    app.main()
