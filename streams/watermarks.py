"""Each station's event clock, each ``readings`` partition's watermark, and the ticks they drive.

A station's clock is the latest reading time seen from it, less the allowed lateness: its
readings are judged as its clock passes them, so a reading is late only if it is older than its
own station's clock allows, however far other stations are ahead. A backlog drained flat out
interleaves stations that are hours apart (loggers uploading what they kept through an outage,
one after another), and a partition-wide clock made most of them late.

A partition's watermark is the latest reading time seen there less the lateness; ticks carry it
to the partition's stations, so that a station that stopped talking is still judged. A tick takes
a station no further than its own clock while it is still talking: only a station silent for
``idle_after`` seconds of wall time, in a partition with nothing left for this worker to take, is
taken on to the partition's watermark. Likewise a partition that carried no reading for
``idle_after`` and has nothing left to take is idle, as in Flink: its watermark follows the
quickest partition's, so its stations (all silent) are still judged and the city's clock does not
wait for them. Only idleness looks at the wall clock, and it only ever concerns stations and
partitions with nothing to deliver.

"Nothing left to take" is known from the offsets, never assumed: the partition's log end against
the record after the last one taken, or, before anything was taken from it (after a restart, or
once the partition moved to this worker), against the offset the consumer began from. While
either is unknown, the partition is not idle.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from aiokafka.partitioner import DefaultPartitioner

from envalert.core.contract import EPOCH
from rules.timeline import floor_minute


def home_partitions(station_ids: Iterable[str], partitions: int) -> dict[str, int]:
    """Where the bridge's producer puts each station's readings (Kafka's default partitioner)."""
    choose, every = DefaultPartitioner(), list(range(partitions))
    return {station_id: choose(station_id.encode(), every, every) for station_id in station_ids}


class Watermarks:
    def __init__(
        self,
        partition_of: dict[str, int],
        lateness: timedelta,
        idle_after: float,
        *,
        log_end: Callable[[int], int | None],
        log_start: Callable[[int], int | None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        #: The partition each station's readings arrive on, so its ticks carry that watermark.
        self.partition_of = dict(partition_of)
        self.lateness = lateness
        self.idle_after = idle_after
        self.clock = clock
        #: The offset after a partition's last record, as the consumer last heard (None: not known).
        self.log_end = log_end
        #: The offset this worker began taking a partition from (None: not known).
        self.log_start = log_start
        #: When the first reading came: a station or partition is idle only once others have had readings.
        self.started: float | None = None
        self.latest: dict[int, datetime] = {}
        self.heard_at: dict[int, float] = {}
        #: The offset of the last record taken from each partition since it was assigned here.
        self.taken: dict[int, int] = {}
        self.station_latest: dict[str, datetime] = {}
        self.station_heard_at: dict[str, float] = {}
        #: The watermark last given out for each partition: it never goes back.
        self.given: dict[int, datetime] = {}
        #: The minute of the last tick sent to each partition.
        self.ticked: dict[int, datetime] = {}

    def took(self, partition: int, offset: int) -> None:
        """The record at ``offset`` of ``partition`` was taken: a reading or not, valid or not."""
        self.taken[partition] = max(self.taken.get(partition, offset), offset)

    def forget(self, partition: int) -> None:
        """``partition`` left this worker: what was taken from it says nothing once it comes back."""
        self.taken.pop(partition, None)

    def saw(self, station_id: str, partition: int, ts: datetime) -> datetime:
        """A reading of a catalogue station arrived on ``partition``: its station's clock now."""
        now = self.clock()
        self.partition_of[station_id] = partition
        self.latest[partition] = max(self.latest.get(partition, ts), ts)
        self.heard_at[partition] = self.station_heard_at[station_id] = now
        self.station_latest[station_id] = latest = max(self.station_latest.get(station_id, ts), ts)
        if self.started is None:
            self.started = now
        return latest - self.lateness

    def of(self, partition: int) -> datetime | None:
        candidates = [self.given.get(partition), self._own(partition)]
        if self._idle(self.heard_at.get(partition, self.started), partition):
            candidates += [self._own(other) for other in self.latest]
        known = [watermark for watermark in candidates if watermark is not None]
        if not known:
            return None
        self.given[partition] = max(known)
        return self.given[partition]

    def for_station(self, station_id: str, watermark: datetime) -> datetime | None:
        """How far a tick carrying its partition's ``watermark`` takes a station: to its own clock
        while it talks, to the watermark once it is silent; None if it has no clock yet."""
        partition = self.partition_of[station_id]
        if self._idle(self.station_heard_at.get(station_id, self.started), partition):
            return watermark
        latest = self.station_latest.get(station_id)
        return None if latest is None else min(watermark, latest - self.lateness)

    def _idle(self, heard_at: float | None, partition: int) -> bool:
        """Nothing heard for ``idle_after`` seconds, and nothing left in ``partition`` to take."""
        if heard_at is None or self.clock() - heard_at < self.idle_after:
            return False
        return self.left(partition) == 0

    def left(self, partition: int) -> int | None:
        """How many records of ``partition`` this worker has still to take (None: not known)."""
        taken = self.taken.get(partition)
        end, begin = self.log_end(partition), self.log_start(partition) if taken is None else taken + 1
        return None if end is None or begin is None else max(end - begin, 0)

    def _own(self, partition: int) -> datetime | None:
        latest = self.latest.get(partition)
        return None if latest is None else latest - self.lateness

    def due_ticks(self, assigned: Iterable[int]) -> list[tuple[int, datetime]]:
        """(partition, watermark) for each of the ``assigned`` partitions whose watermark reached a
        new minute. One tick per partition, not per station: it is judged in that partition, for
        every station homed there, so a fleet of 10,000 costs no more ticks than one of ten."""
        due = []
        for partition in sorted(set(self.partition_of.values()).intersection(assigned)):
            watermark = self.of(partition)
            if watermark is not None and floor_minute(watermark) > self.ticked.get(partition, EPOCH):
                self.ticked[partition] = floor_minute(watermark)
                due.append((partition, watermark))
        return due

    def stations_on(self, partition: int) -> list[str]:
        """The stations whose readings (and so whose timelines) are in ``partition``."""
        return [station_id for station_id, home in self.partition_of.items() if home == partition]
