"""The raw ceilings of this machine, measured on the benchmark's own stack: what paho → mosquitto
→ paho at QoS 1, aiokafka on the local broker, one Faust agent doing nothing and plain HTTP
writes to InfluxDB can do with nothing of ours in between. Our figures are reported as ratios to
these."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Event
from typing import Any

from aiokafka import AIOKafkaConsumer

from bench.stack import BenchStack
from envalert.core.contract import Kind, Reading
from envalert.core.influx import V1Writer, reading_line
from envalert.core.kafka import ensure_topics, make_producer, partitions_of
from envalert.core.settings import KafkaSettings
from ingest.mqtt import make_client
from ingest.publisher import Message, publish_messages, station_payload
from ingest.settings import MqttSettings
from streams.settings import WorkerSettings

START = datetime(2026, 1, 1, tzinfo=UTC)


def sample(index: int) -> Reading:
    """A reading like the fleet's: an air station's six pollutants."""
    values = {"pm25": 35.5, "pm10": 61.2, "so2": 8.1, "no2": 30.4, "co": 0.7, "o3": 80.3}
    return Reading(
        station=f"ZZ-AIR-B{index % 1000:03d}",
        kind=Kind.AIR,
        ts=START + timedelta(seconds=index),
        values=values,
    )


def receive(port: int, count: int, subscribed: Event, received: Any) -> None:
    """In a process of its own, as the bridge is: take ``count`` messages at QoS 1 and put how
    many came, and when the last did, on ``received``."""
    taken, done, last = [0], threading.Event(), [0.0]

    def on_message(*_: Any) -> None:
        taken[0] += 1
        if taken[0] >= count:
            last[0] = time.monotonic()
            done.set()

    listener = make_client(MqttSettings(mqtt_port=port), "bench-ceiling-sub")
    listener.on_message = on_message
    listener.on_subscribe = lambda *_: subscribed.set()
    listener.on_connect = lambda client, *_: client.subscribe("bench/#", qos=1)
    listener.connect("localhost", port)
    listener.loop_start()
    done.wait(120)
    listener.loop_stop()
    listener.disconnect()
    received.put((taken[0], last[0]))


def mqtt_ceiling(stack: BenchStack, count: int) -> float:
    """Messages per second from the first publish to the last one received, QoS 1 both ways. The
    receiver has a process of its own: sharing one interpreter with the publisher, it measured a
    third of this (both then wait for the same lock)."""
    spawn = multiprocessing.get_context("spawn")
    subscribed, received = spawn.Event(), spawn.Queue()
    receiver = spawn.Process(target=receive, args=(stack.mqtt_port, count, subscribed, received))
    receiver.start()
    try:
        if not subscribed.wait(30):
            raise RuntimeError("the MQTT ceiling's receiver did not subscribe within 30 s")
        payloads = [station_payload(sample(i)) for i in range(count)]
        started = time.monotonic()
        publish_messages(
            MqttSettings(mqtt_port=stack.mqtt_port),
            (Message("bench/air", p) for p in payloads),
            client_id="bench-ceiling-pub",
        )
        taken, last = received.get(timeout=150)
    finally:
        receiver.join(timeout=10)
        if receiver.is_alive():
            receiver.kill()
    if taken < count:
        raise RuntimeError(f"the MQTT ceiling got {taken} of {count} messages")
    return float(count / (last - started))


#: The Kafka ceiling's topic, which the Faust ceiling reads again.
KAFKA_TOPIC = "bench"


def kafka_ceiling(stack: BenchStack, count: int) -> tuple[float, float]:
    """Records per second produced (acks=all, as the bridge) and consumed, on a fresh topic."""

    async def run() -> tuple[float, float]:
        kafka = KafkaSettings(kafka_bootstrap=stack.kafka_bootstrap)
        await ensure_topics(kafka, [KAFKA_TOPIC])
        producer = make_producer(kafka)
        await producer.start()
        payloads = [station_payload(sample(i)) for i in range(count)]
        started = time.perf_counter()
        sent = [await producer.send(KAFKA_TOPIC, value=p, key=p[:20]) for p in payloads]
        await asyncio.gather(*sent)
        produced = count / (time.perf_counter() - started)
        await producer.stop()
        consumer = AIOKafkaConsumer(bootstrap_servers=stack.kafka_bootstrap, enable_auto_commit=False)
        await consumer.start()
        partitions = await partitions_of(stack.kafka_bootstrap, [KAFKA_TOPIC])
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        started, got = time.perf_counter(), 0
        while got < count:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10000)
            got += sum(len(records) for records in batches.values())
        consumed = count / (time.perf_counter() - started)
        await consumer.stop()
        return produced, consumed

    return asyncio.run(run())


def faust_ceiling(stack: BenchStack, count: int) -> tuple[float, float]:
    """Records per second one Faust agent doing nothing takes, as the worker's App runs it, from
    the ``count`` records that the Kafka ceiling left on its topic; and its CPU µs per record."""
    out = stack.root / "faust-ceiling.json"
    env = {
        **os.environ,
        **stack.env(),
        "ENVALERT_WORKER_DATA_DIR": str(stack.root / "worker-faust-ceiling"),
        "BENCH_FAUST_TOPIC": KAFKA_TOPIC,
        "BENCH_FAUST_COUNT": str(count),
        "BENCH_FAUST_OUT": str(out),
    }
    with (stack.root / "faust-ceiling.log").open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "bench.idle_agent"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 180
        while not out.exists():
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Faust ceiling's agent took no {count} records; see {log.name}")
            time.sleep(0.2)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    times = json.loads(out.read_text(encoding="utf-8"))
    rate = (count - 1) / (times["last"] - times["first"])
    return rate, (times["last_cpu"] - times["first_cpu"]) / (count - 1) * 1e6


def influx_ceiling(stack: BenchStack, count: int, batch: int = 5000) -> float:
    """Points per second written over HTTP /write in batches, as the worker writes them."""
    settings = WorkerSettings(influx_url=stack.influx_url, influx_database="bench")
    lines = [reading_line(sample(i), None) for i in range(count)]

    async def run() -> float:
        writer = V1Writer(settings)
        await writer.prepare()
        started = time.perf_counter()
        for first in range(0, count, batch):
            await writer.write(lines[first : first + batch])
        rate = count / (time.perf_counter() - started)
        await writer.close()
        return rate

    return asyncio.run(run())


def measure(stack: BenchStack, count: int) -> dict[str, float]:
    produced, consumed = kafka_ceiling(stack, count)
    faust_rate, faust_cpu = faust_ceiling(stack, count)
    return {
        "mqtt_qos1_msgs_per_s": mqtt_ceiling(stack, count),
        "kafka_produce_per_s": produced,
        "kafka_consume_per_s": consumed,
        "faust_agent_per_s": faust_rate,
        "faust_agent_cpu_us_per_record": faust_cpu,
        "influx_write_points_per_s": influx_ceiling(stack, count),
    }
