"""Per ``readings`` partition: the event clock that ticks drive, with idle partitions let go.

A partition's watermark is the latest reading time seen there, less the allowed lateness. Its
readings come in log order, so the watermark never runs ahead of readings still to come in it,
except by the lateness it allows; a fleet-wide one would, whenever one partition lags another
during a catch-up (a tick could then overtake a station's own readings).

A partition that has carried no reading for ``idle_after`` seconds of wall time is idle, as in
Flink: its watermark follows the quickest partition's, so the stations on it (all silent) are
still judged and the city's clock does not wait for them. Only idleness looks at the wall
clock, and it only ever concerns partitions with nothing to deliver.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from aiokafka.partitioner import DefaultPartitioner

from ingest.contract import EPOCH
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
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        #: The partition each station's readings arrive on, so its ticks carry that watermark.
        self.partition_of = dict(partition_of)
        self.lateness = lateness
        self.idle_after = idle_after
        self.clock = clock
        #: When the first reading came: a partition is idle only once others have had readings.
        self.started: float | None = None
        self.latest: dict[int, datetime] = {}
        self.heard_at: dict[int, float] = {}
        #: The watermark last given out for each partition: it never goes back.
        self.given: dict[int, datetime] = {}
        #: The minute of the last tick sent to each partition.
        self.ticked: dict[int, datetime] = {}

    def saw(self, station_id: str, partition: int, ts: datetime) -> datetime:
        """A reading arrived on ``partition``: the partition's watermark now."""
        self.partition_of[station_id] = partition
        self.latest[partition] = max(self.latest.get(partition, ts), ts)
        self.heard_at[partition] = self.clock()
        if self.started is None:
            self.started = self.heard_at[partition]
        watermark = self.of(partition)
        assert watermark is not None
        return watermark

    def of(self, partition: int) -> datetime | None:
        candidates = [self.given.get(partition), self._own(partition)]
        heard_at = self.heard_at.get(partition, self.started)
        if heard_at is not None and self.clock() - heard_at >= self.idle_after:
            candidates += [self._own(other) for other in self.latest]
        known = [watermark for watermark in candidates if watermark is not None]
        if not known:
            return None
        self.given[partition] = max(known)
        return self.given[partition]

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
