"""Where each ``readings`` partition begins and ends for this worker's consumer.

The watermarks (streams/watermarks.py) call a partition idle only when this worker has nothing
left to take from it, which these offsets tell: the log end the consumer last fetched, and, for a
partition nothing has been taken from since it was assigned here, the offset the consumer began
from. That is the group's committed offset, or the log's first offset when there is none or the
commit is older than the log (the worker's ``auto_offset_reset="earliest"``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import cast

from aiokafka.errors import KafkaError
from faust.exceptions import ConsumerNotStarted
from faust.transport.consumer import Consumer
from faust.types import TP, AppT

log = logging.getLogger(__name__)


class ConsumerOffsets:
    def __init__(self, app: AppT, topic: str) -> None:
        self.app = app
        self.topic = topic
        #: Each partition's first offset, as the broker last told it.
        self.earliest: dict[int, int] = {}

    def end(self, partition: int) -> int | None:
        """The offset after the partition's last record, as this worker's consumer last fetched
        it; None before its first fetch, or when the partition is not (or no longer) this worker's."""
        try:
            return self.app.consumer.highwater(TP(self.topic, partition))
        except (AssertionError, AttributeError, ConsumerNotStarted):
            return None

    def start(self, partition: int) -> int | None:
        """The offset the consumer began ``partition`` from; None until the broker told its first offset."""
        first = self.earliest.get(partition)
        if first is None:
            return None
        # Faust keeps the committed offset it sought to after the assignment (0 kept as None).
        committed = cast(Consumer, self.app.consumer)._committed_offset.get(TP(self.topic, partition))
        return max(first, committed or 0)

    async def learn_starts(self, partitions: Iterable[int]) -> None:
        """Ask the broker for the first offset of ``partitions`` (asked again while records seem
        to wait there, as retention may have cut the log since)."""
        wanted = [TP(self.topic, partition) for partition in partitions]
        if not wanted:
            return
        try:
            earliest = await self.app.consumer.earliest_offsets(*wanted)
        except (KafkaError, ConsumerNotStarted) as error:
            log.warning("could not learn where %s partitions begin: %s", self.topic, error)
            return
        self.earliest.update({tp.partition: offset for tp, offset in earliest.items()})

    def forget(self, partition: int) -> None:
        """The partition left this worker: where it began says nothing once it comes back."""
        self.earliest.pop(partition, None)
