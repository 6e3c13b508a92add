"""Publishing at the pace the readings happened (or faster), resumably; and recording what
stations publish.

Pacing follows the readings' own time: at ``speed`` 60 an hour of readings takes a minute;
0 publishes as fast as the broker acks. A message that is not a valid reading (a broken
station's) goes out with the one before it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from ingest.mqtt import make_client
from ingest.publisher import Message, PublishRefusedError, WindowedPublisher
from ingest.settings import MqttSettings
from simulators.recording import event_time, read_messages, recorded_line


def paced(
    messages: Iterable[Message],
    speed: float,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Message]:
    """Each message when its reading's time comes round, ``speed`` times faster than it was."""
    started, first = clock(), None
    for message in messages:
        at = event_time(message) if speed > 0 else None
        if at is not None:
            first = first or at
            wait = started + (at - first).total_seconds() / speed - clock()
            if wait > 0:
                sleep(wait)
        yield message


def progress_file(path: Path) -> Path:
    return path.with_name(path.name + ".progress")


def replay(
    settings: MqttSettings,
    path: Path,
    *,
    speed: float,
    resume: bool,
    client_id: str = "envalert-replay",
    on_sent: Callable[[int, int], None] = lambda done, total: None,
) -> tuple[int, int]:
    """Publish a recording (or readings) again; returns (skipped, published).

    Progress (the messages from the first on that the broker accepted, all of them) is saved
    beside the file every second, so ``resume`` starts after them: a message may go twice, none
    is left out. A message the broker refuses stops the replay (``PublishRefusedError``, numbered
    from the file's first message); ``resume`` starts from it.
    """
    progress = progress_file(path)
    skip = json.loads(progress.read_text())["acked"] if resume and progress.exists() else 0
    total = sum(1 for _ in read_messages(path))
    publisher = WindowedPublisher(settings, client_id)
    saved_at, sent = time.monotonic(), 0

    def save() -> None:
        progress.write_text(json.dumps({"acked": skip + publisher.done, "total": total}))

    try:
        try:
            remaining = (message for index, message in enumerate(read_messages(path)) if index >= skip)
            for message in paced(remaining, speed):
                publisher.publish(message.topic, message.payload)
                sent += 1
                on_sent(skip + sent, total)
                if time.monotonic() - saved_at > 1:
                    save()
                    saved_at = time.monotonic()
        finally:
            publisher.close()
    except PublishRefusedError as error:
        raise PublishRefusedError(error.topic, error.reason, skip + (error.number or 0)) from None
    finally:
        save()
    return skip, sent


def record(
    settings: MqttSettings,
    path: Path,
    stop: threading.Event,
    *,
    topic: str = "env/v1/#",
    client_id: str = "envalert-recorder",
    on_message: Callable[[int], None] = lambda count: None,
    on_ready: Callable[[], None] = lambda: None,
) -> int:
    """Append every message on ``topic`` to ``path`` (JSONL) until ``stop`` is set."""
    count = 0
    subscribed = threading.Event()
    with path.open("a", encoding="utf-8") as out:

        def received(client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
            nonlocal count
            out.write(recorded_line(Message(message.topic, bytes(message.payload)), datetime.now(UTC)) + "\n")
            out.flush()
            count += 1
            on_message(count)

        client = make_client(settings, client_id)
        client.on_message = received
        client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        client.on_subscribe = lambda *_: subscribed.set()
        client.connect(settings.mqtt_host, settings.mqtt_port, settings.mqtt_keepalive)
        client.loop_start()
        try:
            if not subscribed.wait(30):
                raise TimeoutError(f"the broker did not confirm the subscription to {topic} in 30 s")
            on_ready()
            stop.wait()
        finally:
            client.disconnect()
            client.loop_stop()
    return count
