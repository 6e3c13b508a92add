"""The worker's consumer: no record lost to its own pauses and resumes."""

from __future__ import annotations

import asyncio

from faust.types import TP

from streams.app import App
from streams.consumer import FlowResumedConsumer

READINGS = [TP("readings", partition) for partition in range(4)]


def consumer(assigned: set[TP]) -> FlowResumedConsumer:
    made = App("test-consumer", broker="kafka://localhost:1").consumer
    assert isinstance(made, FlowResumedConsumer)
    made.assignment = lambda: assigned  # type: ignore[method-assign]  # no broker: what it was given
    return made


def test_resumed_partitions_fetch_only_once_the_flow_resumes() -> None:
    """Faust resumes them, then seeks and empties the agents' queues: what they fetched in between
    would be dropped."""
    reader = consumer(set(READINGS))
    reader.pause_partitions(READINGS)
    reader.resume_partitions(READINGS)
    assert reader._get_active_partitions().isdisjoint(READINGS)
    reader.resume_flow()
    assert set(READINGS) <= reader._get_active_partitions()


def test_a_partition_paused_or_revoked_before_the_flow_resumes_stays_quiet() -> None:
    reader = consumer(set(READINGS[1:]))
    reader.pause_partitions(READINGS)
    reader.resume_partitions(READINGS)
    reader.pause_partitions(READINGS[3:])
    reader.resume_flow()
    assert reader._get_active_partitions() & set(READINGS) == set(READINGS[1:3])


def test_a_fetch_keeps_the_partitions_it_was_asked_for_when_they_are_paused_meanwhile() -> None:
    """aiokafka reads the set while it waits, and an empty one means every partition to it: their
    records were fetched, then dropped by Faust as not active."""
    reader = consumer(set(READINGS))
    active = set(READINGS)
    seen: list[set[TP]] = []

    async def fetch(partitions: set[TP], timeout: float) -> dict[TP, list[object]]:
        active.clear()  # paused while the fetch waits
        seen.append(set(partitions))
        return {}

    reader._thread.getmany = fetch  # type: ignore[method-assign]
    asyncio.run(reader._getmany(active, 1.0))
    assert seen == [set(READINGS)]
