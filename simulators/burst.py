"""A short, reproducible burst of plausible readings from the demo fleet (#6 brings real generators)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta

from ingest.contract import Flag, Kind, Reading
from ingest.stations import Station

#: Typical Zhengzhou levels per metric: (mean, spread).
TYPICAL: dict[Kind, dict[str, tuple[float, float]]] = {
    Kind.AIR: {
        "pm25": (48, 15),
        "pm10": (85, 25),
        "so2": (9, 3),
        "no2": (38, 10),
        "co": (0.9, 0.2),
        "o3": (95, 30),
    },
    Kind.NOISE: {"laeq": (56, 4), "lmax": (72, 6)},
    Kind.GROUNDWATER: {"level": (62.4, 0.05), "depth": (38.6, 0.05)},
    Kind.VOCS: {"nmhc": (1.2, 0.4), "tvoc": (2.0, 0.6)},
    Kind.AMMONIA: {"nh3": (1.1, 0.4)},
}


def burst(
    stations: list[Station], start: datetime, count: int, step: timedelta, seed: int = 2025
) -> Iterator[Reading]:
    """``count`` readings per station, ``step`` apart, in time order across the fleet."""
    rng = random.Random(seed)
    for index in range(count):
        ts = start + index * step
        for station in stations:
            values = {
                metric: round(max(0.0, rng.gauss(mean, spread)), 3)
                for metric, (mean, spread) in TYPICAL[station.kind].items()
            }
            yield Reading(station=station.id, kind=station.kind, ts=ts, values=values)


#: The demo's incidents, one rule family each, all over well before the burst ends:
#: (station, first minute, last minute, metric, value, flag).
INCIDENTS: list[tuple[str, int, int, str, float, Flag | None]] = [
    ("ZZ-GW-JWT01", 5, 12, "level", 61.5, None),  # below the well's warning level 62.0
    ("ZZ-VOC-SJ01", 8, 8, "nmhc", 36.0, None),  # one NMHC reading above 30 mg/m³
    ("ZZ-AIR-JS01", 10, 10, "pm25", 48.0, Flag.OVER_RANGE),  # the analyser reports over its range
    ("ZZ-VOC-SJ01", 14, 27, "nmhc", 1.5, None),  # the analyser repeats itself: stuck
]


def with_incidents(readings: list[Reading], start: datetime, step: timedelta) -> list[Reading]:
    """The burst with the demo's incidents laid over it (#6 brings scenario files)."""
    changed = []
    for reading in readings:
        minute = (reading.ts - start) // step
        values, flags = dict(reading.values), dict(reading.flags)
        for station, first, last, metric, value, flag in INCIDENTS:
            if reading.station == station and first <= minute <= last:
                values[metric] = value
                if flag:
                    flags[metric] = flag
        changed.append(reading.model_copy(update={"values": values, "flags": flags}))
    return changed
