"""Baseline readings that behave like Zhengzhou's stations, reproducible from a seed.

Each metric is a typical level for the moment (season, weekday, hour of the day, all in Beijing
time) times or plus a slowly wandering noise (an AR(1) process, so that one hour resembles the
next). The shapes are the ones the plan and the monitoring record describe:
- PM2.5 and CO high on winter nights, O3 high on summer afternoons, NO2 at the rush hours;
- noise just under its functional zone's limits, with traffic peaks and quieter weekends;
- groundwater falling through the irrigation season and recovering with the summer rains;
- VOCs with the working day of their cluster; ammonia slip with the plant's load cycle.

The baseline is a city where nothing is wrong: the shipped rules stay quiet on it (a test says
so). Episodes and faults are laid over it by scenarios.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from envalert.core.contract import CHINA_STANDARD_TIME, Kind, Reading
from envalert.core.stations import NoiseZone, Station
from rules.standards.noise import is_night, limit

Moment = datetime  # a reading time, tz-aware


def winter(at: Moment) -> float:
    """+1 in mid-January, -1 in mid-July: the season's sign for heating-season pollutants."""
    day = at.astimezone(CHINA_STANDARD_TIME).timetuple().tm_yday
    return math.cos(2 * math.pi * (day - 15) / 365.25)


def hour_of(at: Moment) -> float:
    local = at.astimezone(CHINA_STANDARD_TIME)
    return local.hour + local.minute / 60


def weekday(at: Moment) -> bool:
    return at.astimezone(CHINA_STANDARD_TIME).weekday() < 5


def peak(hour: float, at_hour: float, width: float) -> float:
    """A bump of height 1 centred on ``at_hour`` (wrapping round midnight)."""
    distance = min(abs(hour - at_hour), 24 - abs(hour - at_hour))
    return math.exp(-((distance / width) ** 2))


@dataclass(frozen=True)
class Metric:
    """How one metric behaves: its typical level at a moment, and its noise."""

    level: Callable[[Station, Moment], float]
    noise: float  # standard deviation of the wandering part
    multiplicative: bool  # noise in log space (concentrations) or added (dB, metres)
    digits: int
    hours: float = 3.0  # how long the noise takes to forget (AR(1) time constant)
    #: The metric this one follows: ``level`` is then a ratio to it (or an offset, if additive),
    #: so that PM10 stays above PM2.5 and Lmax above LAeq.
    of: str | None = None


def _pm25(station: Station, at: Moment) -> float:
    hour = hour_of(at)
    return (35 + 22 * winter(at)) * (0.85 + 0.3 * peak(hour, 1, 5) + 0.15 * peak(hour, 8, 2))


def _o3(station: Station, at: Moment) -> float:
    summer = -winter(at)
    return (62 + 38 * summer) * (0.3 + 1.25 * peak(hour_of(at), 15, 3.5))


def _no2(station: Station, at: Moment) -> float:
    hour, work = hour_of(at), weekday(at)
    rush = 0.35 * (peak(hour, 8, 1.5) + peak(hour, 18, 1.5)) * (1 if work else 0.5)
    return (34 + 8 * winter(at)) * (0.8 + rush)


def _laeq(station: Station, at: Moment) -> float:
    """Just under the zone's limit (GB 3096-2008), louder at the rush hours of working days."""
    allowed = limit(station.zone or NoiseZone.Z2, at, station.railway)
    if is_night(at):
        return allowed - 3.5
    hour = hour_of(at)
    traffic = 2.0 * (peak(hour, 8, 1.2) + peak(hour, 18, 1.2)) * (1 if weekday(at) else 0.4)
    return allowed - 4.5 + traffic


def _level(station: Station, at: Moment) -> float:
    """Highest in December, lowest in June after the spring irrigation; lower in the afternoon."""
    day = at.astimezone(CHINA_STANDARD_TIME).timetuple().tm_yday
    season = math.cos(2 * math.pi * (day - 350) / 365.25)
    pumping = 0.04 * peak(hour_of(at), 14, 5)
    return (station.warning_level or 60.0) + 1.1 + 0.45 * season - pumping


def _nmhc(station: Station, at: Moment) -> float:
    working = weekday(at) and 8 <= hour_of(at) < 18
    return 1.1 * (1.5 if working else 0.7)


def _nh3(station: Station, at: Moment) -> float:
    load = 0.8 + 0.4 * (1 if 8 <= hour_of(at) < 22 else 0)
    return (3.2 if station.unit_type == "SNCR" else 0.9) * load


METRICS: dict[Kind, dict[str, Metric]] = {
    Kind.AIR: {
        "pm25": Metric(_pm25, 0.25, True, 1),
        "pm10": Metric(lambda s, at: 1.75, 0.12, True, 1, of="pm25"),
        "so2": Metric(lambda s, at: 9 + 4 * winter(at), 0.2, True, 1),
        "no2": Metric(_no2, 0.2, True, 1),
        "co": Metric(
            lambda s, at: (0.8 + 0.35 * winter(at)) * (0.9 + 0.2 * peak(hour_of(at), 1, 5)), 0.15, True, 3
        ),
        "o3": Metric(_o3, 0.2, True, 1),
    },
    Kind.NOISE: {
        "laeq": Metric(_laeq, 1.2, False, 1, hours=1.0),
        "lmax": Metric(lambda s, at: 8.0, 1.5, False, 1, hours=0.5, of="laeq"),
    },
    Kind.GROUNDWATER: {
        "level": Metric(_level, 0.02, False, 3, hours=12.0),
    },
    Kind.VOCS: {
        "nmhc": Metric(_nmhc, 0.2, True, 3),
        "tvoc": Metric(lambda s, at: 1.6, 0.1, True, 3, of="nmhc"),
    },
    Kind.AMMONIA: {
        "nh3": Metric(_nh3, 0.2, True, 3, hours=2.0),
    },
}

#: Ground elevation above the well's warning level: depth to water = ground − level.
GROUND_ABOVE_WARNING = 39.6


class StationSeries:
    """One station's readings at fixed steps; the same seed gives the same values."""

    def __init__(self, station: Station, seed: int) -> None:
        self.station = station
        self._rng = random.Random(f"{seed}/{station.id}")
        self._noise = {metric: self._rng.gauss(0, 1) for metric in METRICS[station.kind]}
        self._last: Moment | None = None

    def reading(self, at: Moment) -> Reading:
        values: dict[str, float] = {}
        for name, metric in METRICS[self.station.kind].items():
            values[name] = self._value(name, metric, at, values)
        if self.station.kind == Kind.GROUNDWATER:
            ground = (self.station.warning_level or 60.0) + GROUND_ABOVE_WARNING
            values["depth"] = round(ground - values["level"], 3)
        self._last = at
        return Reading(station=self.station.id, kind=self.station.kind, ts=at, values=values)

    def _value(self, name: str, metric: Metric, at: Moment, values: dict[str, float]) -> float:
        if self._last is not None:
            keep = math.exp(-(at - self._last).total_seconds() / 3600 / metric.hours)
            self._noise[name] = keep * self._noise[name] + math.sqrt(1 - keep**2) * self._rng.gauss(0, 1)
        typical = metric.level(self.station, at)
        if metric.of is not None:
            typical = typical * values[metric.of] if metric.multiplicative else typical + values[metric.of]
        wander = metric.noise * self._noise[name]
        value = (
            typical * math.exp(wander - metric.noise**2 / 2) if metric.multiplicative else typical + wander
        )
        return round(max(0.0, value), metric.digits)

    def between(self, start: Moment, end: Moment, step: timedelta) -> Iterator[Reading]:
        at = start
        while at < end:
            yield self.reading(at)
            at += step


def baseline(
    stations: Iterable[Station], start: Moment, end: Moment, step: timedelta, seed: int = 2025
) -> Iterator[Reading]:
    """Every station's readings in [start, end), ``step`` apart, merged in time order."""
    series = [StationSeries(station, seed).between(start, end, step) for station in stations]
    return heapq.merge(*series, key=lambda reading: (reading.ts, reading.station))
