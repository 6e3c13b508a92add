"""Clock-hour means of the air pollutants: the building block of hourly AQI and of daily values.

Only N-flagged values count, and an hour's mean only when they cover 45 minutes of it at the
station's cadence (GB 3095-2012 §6). A reading in a later hour closes the open one; a reading for
an hour already closed is late and ignored (the stream counts late readings).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from pydantic import BaseModel, Field

from envalert.core.contract import CHINA_STANDARD_TIME, EPOCH, Flag, Reading
from rules.standards.aqi import BREAKPOINTS, AqiResult, Averaging, Pollutant, aqi
from rules.standards.validity import HOUR_COVERAGE

HOUR_MS = 3_600_000
MS = timedelta(milliseconds=1)
POLLUTANTS = [pollutant.value for pollutant in Pollutant]
PARTICULATES = {Pollutant.PM10.value, Pollutant.PM25.value}


def span_ms(span: timedelta) -> int:
    """A duration in whole milliseconds, the unit of every time the windows keep."""
    return span // MS


@functools.lru_cache(maxsize=256)
def ms(ts: datetime) -> int:
    """Epoch milliseconds. Cached: a tick asks it of the same time for every rule of every station."""
    return span_ms(ts - EPOCH)


def at_ms(value: int) -> datetime:
    return (EPOCH + timedelta(milliseconds=value)).astimezone(CHINA_STANDARD_TIME)


def period_start(ts: datetime, length: timedelta = timedelta(hours=1)) -> int:
    """The clock hour (or, for a day or longer, the Beijing-time day) ``ts`` falls in, as epoch ms."""
    start = ts.astimezone(CHINA_STANDARD_TIME).replace(minute=0, second=0, microsecond=0)
    return ms(start.replace(hour=0) if length >= timedelta(days=1) else start)


def day_start(day: date) -> datetime:
    """Midnight Beijing time at the start of ``day``."""
    return datetime.combine(day, datetime.min.time(), CHINA_STANDARD_TIME)


def day_end(day: date) -> datetime:
    """Midnight Beijing time after ``day``: when the day can be closed."""
    return day_start(day + timedelta(days=1))


@dataclass(frozen=True)
class ClosedHour:
    start: int  # epoch ms
    #: The hour's valid means by metric: those with ``HOUR_COVERAGE`` of data.
    means: dict[str, float]
    #: The metrics with some data in the hour, but too little to make an hourly value.
    lacking: list[str] = field(default_factory=list)


#: How many of a station's latest gaps between readings its cadence is taken from.
GAPS_KEPT = 15


class Cadence(BaseModel):
    """A station's usual spacing between readings: the median of its latest gaps, so that an
    outage or a burst does not change it, but a station that changes its cadence is followed."""

    last: int | None = None
    gaps: list[int] = Field(default_factory=list)

    def saw(self, at: int) -> None:
        if self.last is not None and at > self.last:
            self.gaps = [*self.gaps, at - self.last][-GAPS_KEPT:]
        self.last = max(at, self.last or at)

    def usual(self) -> int | None:
        """The usual gap in ms (at most an hour); None before the second reading."""
        return min(sorted(self.gaps)[len(self.gaps) // 2], HOUR_MS) if self.gaps else None


class HourState(BaseModel):
    start: int | None = None
    sums: dict[str, tuple[float, int]] = Field(default_factory=dict)
    cadence: Cadence = Field(default_factory=Cadence)


def add(
    state: HourState, reading: Reading, metrics: Iterable[str] = POLLUTANTS, energy: bool = False
) -> ClosedHour | None:
    """Count ``reading``'s N-flagged values of ``metrics`` in its clock hour, closing the open
    hour if this one is later (one at most: the open hour is the only one kept). ``energy``: sum
    sound levels as energies, for an energy-average Leq."""
    start = period_start(reading.ts)
    state.cadence.saw(ms(reading.ts))
    closed = close(state, energy) if state.start is not None and start > state.start else None
    if state.start is None:
        state.start = start
    if start == state.start:
        for metric in metrics:
            value = reading.values.get(metric)
            if value is not None and reading.flag(metric) is Flag.NORMAL:
                total, count = state.sums.get(metric, (0.0, 0))
                state.sums[metric] = (total + (10 ** (value / 10) if energy else value), count + 1)
    return closed


def close_due(state: HourState, now: datetime, energy: bool = False) -> ClosedHour | None:
    return close(state, energy) if state.start is not None and ms(now) >= state.start + HOUR_MS else None


def close(state: HourState, energy: bool) -> ClosedHour | None:
    """The open hour: a metric's mean is valid when its readings, each covering the station's
    usual gap, cover ``HOUR_COVERAGE`` of the hour (GB 3095-2012 §6)."""
    assert state.start is not None
    usual = state.cadence.usual()
    means, lacking = {}, []
    for metric, (total, count) in state.sums.items():
        if usual is not None and count * usual >= span_ms(HOUR_COVERAGE):
            means[metric] = 10 * math.log10(total / count) if energy else total / count
        else:
            lacking.append(metric)
    closed = ClosedHour(state.start, means, lacking)
    state.start, state.sums = None, {}
    return closed if means or lacking else None


def hourly_aqi(hour: ClosedHour, so2_history: list[float]) -> tuple[AqiResult, list[float]]:
    """An hour's AQI (HJ 633-2012 hourly report), and the last 24 hourly SO2 means with this one.

    The 24 h breakpoints apply to PM10's and PM2.5's 1 h values. SO2 counts by its 1 h value;
    only above 800 µg/m³, where HJ 633-2012 has no 1 h IAQI, does its 24 h mean stand in for it
    (HJ 633-2012, Table 1, the note on SO2 1 h values above 800 µg/m³).
    """
    so2 = hour.means.get("so2")
    if so2 is not None:
        so2_history = [*so2_history, so2][-24:]
    concentrations = {
        (Pollutant(metric), Averaging.DAY if metric in PARTICULATES else Averaging.HOUR): mean
        for metric, mean in hour.means.items()
    }
    if so2 is not None and so2 > BREAKPOINTS[(Pollutant.SO2, Averaging.HOUR)][-1]:
        concentrations[(Pollutant.SO2, Averaging.DAY)] = math.fsum(so2_history) / len(so2_history)
    return aqi(concentrations), so2_history
