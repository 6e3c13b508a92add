"""A minute's ticks, a slice of a partition's stations at a time.

A tick judges stations, and the worker judges nothing else meanwhile. One tick for a whole
partition held every reading (and so every alert) behind it: at 10,000 stations, each reporting
once a minute, alerts raised just after the minute waited 3–10 s (bench/latency.py). So a
partition's stations are ticked in slices of about ``SLICE_STATIONS``, a record per slice, a
few records per timer run, a round of slices spread over about ``ROUND_SECONDS`` whatever the
fleet's size, so the worker's other core-time is left to readings. A station's minute tick may
come up to half a minute later in wall time; what it judges does not change.

The fleet's clock needs to know how far every station of a partition has been judged: the
round's last slice says so. Slices go to their partition in order, so by then
the round's earlier slices have been judged.
"""

from __future__ import annotations

import math
import zlib
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta

from pydantic import BaseModel, Field, model_validator

#: About 65 ms of judging on a slow day of this machine (0.65 ms a station, its row parsed and
#: written back included).
SLICE_STATIONS = 100
#: Well within the minute, so that a round is over before the next minute's is due.
ROUND_SECONDS = 30.0


class Tick(BaseModel):
    """A ``ticks`` record: judge slice ``part`` of ``parts`` of its partition's stations to
    ``watermark``. (Records of one slice a partition, from before slices, read as 0 of 1.)"""

    watermark: datetime
    part: int = Field(0, ge=0)
    parts: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _part_of_parts(self) -> Tick:
        if self.part >= self.parts:
            raise ValueError(f"part {self.part} of {self.parts}: parts are numbered from 0")
        return self

    @property
    def last(self) -> bool:
        return self.part == self.parts - 1


def slice_of(station_id: str, parts: int) -> int:
    """The station's slice of a round: the same on every worker and at every start."""
    return zlib.crc32(station_id.encode()) % parts


class Slices:
    """Each partition's stations split into its round's slices, once a round: filtering every
    station for every slice took 5.5 s of every minute at 100,000 stations (0.04 s split once)."""

    def __init__(self) -> None:
        self._slices: dict[int, list[list[str]]] = {}

    def of(self, partition: int, tick: Tick, stations_on: Callable[[int], list[str]]) -> list[str]:
        """The tick's slice, split afresh at a round's first slice (or the first this worker sees)."""
        slices = self._slices.get(partition)
        if tick.part == 0 or slices is None or len(slices) != tick.parts:
            slices = [[] for _ in range(tick.parts)]
            for station_id in stations_on(partition):
                slices[slice_of(station_id, tick.parts)].append(station_id)
            self._slices[partition] = slices
        return slices[tick.part]


class TickPacer:
    """The ticks still to send: a round of slices per partition, handed out a few per timer run."""

    def __init__(self, tick_seconds: float) -> None:
        #: Timer runs in ``ROUND_SECONDS``: a round's slices go out over about this many runs.
        self._round_runs = max(1, round(ROUND_SECONDS / tick_seconds))
        self._queue: deque[tuple[int, Tick]] = deque()
        #: Slices a run, set as rounds start so that what is queued goes out within a round.
        self._per_run = 1
        #: The latest watermark of each partition that reached a new minute, until its round starts.
        self._due: dict[int, datetime] = {}

    def start_rounds(self, due: list[tuple[int, datetime]], stations_on: Callable[[int], int]) -> None:
        """A round for each partition that reached a new minute, once its last round has gone out:
        then from its latest watermark, which judges the minutes in between too."""
        self._due.update(due)
        going = {partition for partition, _ in self._queue}
        starting = [partition for partition in self._due if partition not in going]
        for partition in starting:
            watermark = self._due.pop(partition)
            parts = max(1, math.ceil(stations_on(partition) / SLICE_STATIONS))
            slices = (Tick(watermark=watermark, part=part, parts=parts) for part in range(parts))
            self._queue.extend((partition, tick) for tick in slices)
        if starting:
            self._per_run = math.ceil(len(self._queue) / self._round_runs)

    def next_ticks(self) -> list[tuple[int, Tick]]:
        """This run's slices: one, or more when rounds would otherwise take over ``ROUND_SECONDS``."""
        return [self._queue.popleft() for _ in range(min(len(self._queue), self._per_run))]


class Rounds:
    """How far a round has judged every station of its partition, as its slices are judged."""

    def __init__(self, patience: timedelta = timedelta(hours=6)) -> None:
        #: How far behind its tick a station that still talks may hold the fleet: its own alerts
        #: are judged on its own clock, but a logger whose clock went back years, or one uploading
        #: weeks of history, would stop the city's figures for as long as it talks.
        self.patience = patience
        #: The lowest point reached so far in each partition's round (None: a station not judged yet).
        self._floor: dict[int, datetime | None] = {}

    def judged(self, partition: int, tick: Tick, reached: list[datetime | None]) -> datetime | None:
        """The point every station of ``partition`` has now been judged to, on the round's last
        slice; None before it, for a round begun before this worker started (the next round
        tells), or while a station has not been judged at all. ``reached`` is how far each
        station of the slice that the fleet waits for now stands (None: not judged yet): a
        station still talking is judged by its own clock, which may be behind the tick's."""
        waited = [point for point in reached if point is None or point >= tick.watermark - self.patience]
        stands = [point for point in waited if point is not None]
        lowest = None if len(stands) < len(waited) else min(stands, default=tick.watermark)
        if tick.part == 0:
            floor = lowest
        elif partition in self._floor:
            floor = _lower(self._floor[partition], lowest)
        else:
            return None
        if tick.last:
            self._floor.pop(partition, None)
            return floor
        self._floor[partition] = floor
        return None


def _lower(one: datetime | None, other: datetime | None) -> datetime | None:
    return None if one is None or other is None else min(one, other)
