"""Faust's Kafka consumer, which loses no record to its own pauses and resumes.

Two races of Faust 0.15 dropped records that it then counted as consumed, both seen in tests
that kill the worker and start it again:

- After recovering its tables, Faust resumes the stream partitions, seeks them to their
  committed offsets, and then resumes flow control, which empties every agent's queue. Records
  delivered while the seek waited for the broker went with those queues, and records fetched
  before the seek but read after it moved Faust's read offset past them: Faust took the jump for
  a gap in the log and acknowledged it (faust-streaming issue #596 is the same race). The test
  that kills the worker halfway through a day lost 6 to 9 readings so in 5 of 26 runs. Every
  caller of ``resume_partitions`` resumes the flow right after the queues are emptied, so here
  partitions resume then.
- Faust hands aiokafka its live set of active partitions, which aiokafka reads again while the
  fetch waits; emptied meanwhile (a pause), it means every partition to aiokafka, whose records
  Faust then drops as not active, though aiokafka has moved past them, and a restarted worker
  judges nothing more (2 of 8 runs with the fix above alone). Here each fetch gets its own copy.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from faust.transport.consumer import RecordMap
from faust.transport.drivers import aiokafka
from faust.types import TP


class FlowResumedConsumer(aiokafka.Consumer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Partitions to resume with the flow.
        self._resuming: set[TP] = set()

    def resume_partitions(self, tps: Iterable[TP]) -> None:
        self._resuming.update(tps)

    def pause_partitions(self, tps: Iterable[TP]) -> None:
        paused = set(tps)
        self._resuming -= paused
        super().pause_partitions(paused)

    def resume_flow(self) -> None:
        super().resume_flow()
        resuming, self._resuming = self._resuming, set()
        if resuming:
            super().resume_partitions(resuming & self.assignment())

    async def _getmany(self, active_partitions: set[TP] | None, timeout: float) -> RecordMap:
        fetched = None if active_partitions is None else set(active_partitions)
        return await super()._getmany(fetched, timeout)


class Transport(aiokafka.Transport):
    Consumer = FlowResumedConsumer
