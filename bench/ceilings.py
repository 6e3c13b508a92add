"""The raw ceilings of this machine, measured on the benchmark's own stack: what paho → mosquitto
→ paho at QoS 1, aiokafka on the local broker and plain HTTP writes to InfluxDB can do with
nothing of ours in between. Our figures are reported as ratios to these."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.stack import BenchStack
from ingest.contract import Kind, Reading
from ingest.kafka import make_producer
from ingest.mqtt import make_client
from ingest.publisher import Message, publish_messages, station_payload
from ingest.settings import KafkaSettings, MqttSettings
from streams.influx import V1Writer, reading_line
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


def mqtt_ceiling(stack: BenchStack, count: int) -> float:
    """Messages per second from the first publish to the last one received, QoS 1 both ways."""
    settings = MqttSettings(mqtt_port=stack.mqtt_port)
    received, subscribed, done = [0], threading.Event(), threading.Event()
    listener = make_client(settings, "bench-ceiling-sub")

    def on_message(*_: Any) -> None:
        received[0] += 1
        if received[0] >= count:
            done.set()

    listener.on_message = on_message
    listener.on_subscribe = lambda *_: subscribed.set()
    listener.on_connect = lambda client, *_: client.subscribe("bench/#", qos=1)
    listener.connect("localhost", stack.mqtt_port)
    listener.loop_start()
    subscribed.wait(10)
    payloads = [station_payload(sample(i)) for i in range(count)]
    started = time.perf_counter()
    publish_messages(settings, (Message("bench/air", p) for p in payloads), client_id="bench-ceiling-pub")
    done.wait(120)
    elapsed = time.perf_counter() - started
    listener.loop_stop()
    listener.disconnect()
    if received[0] < count:
        raise RuntimeError(f"the MQTT ceiling got {received[0]} of {count} messages")
    return count / elapsed


def kafka_ceiling(stack: BenchStack, count: int) -> tuple[float, float]:
    """Records per second produced (acks=all, as the bridge) and consumed, on a fresh topic."""

    async def run() -> tuple[float, float]:
        producer = make_producer(KafkaSettings(kafka_bootstrap=stack.kafka_bootstrap))
        await producer.start()
        payloads = [station_payload(sample(i)) for i in range(count)]
        started = time.perf_counter()
        sent = [await producer.send("bench", value=p, key=p[:20]) for p in payloads]
        await asyncio.gather(*sent)
        produced = count / (time.perf_counter() - started)
        await producer.stop()
        consumer = AIOKafkaConsumer(bootstrap_servers=stack.kafka_bootstrap, enable_auto_commit=False)
        await consumer.start()
        partitions = [TopicPartition("bench", p) for p in consumer.partitions_for_topic("bench") or []]
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
    return {
        "mqtt_qos1_msgs_per_s": mqtt_ceiling(stack, count),
        "kafka_produce_per_s": produced,
        "kafka_consume_per_s": consumed,
        "influx_write_points_per_s": influx_ceiling(stack, count),
    }
