"""A short, reproducible burst of plausible readings from the demo fleet (#6 brings real generators)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta

from ingest.contract import Kind, Reading
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
