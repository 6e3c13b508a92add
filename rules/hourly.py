"""Clock-hour means of the air pollutants: the building block of hourly AQI and of daily values.

Only N-flagged values count. A reading in a later hour closes the open one; a reading for an
hour already closed is late and ignored (the stream counts late readings).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from pydantic import BaseModel, Field

from ingest.contract import CHINA_STANDARD_TIME, EPOCH, Flag, Reading
from rules.standards.aqi import BREAKPOINTS, AqiResult, Averaging, Pollutant, aqi

HOUR_MS = 3_600_000
POLLUTANTS = [pollutant.value for pollutant in Pollutant]
PARTICULATES = {Pollutant.PM10.value, Pollutant.PM25.value}


def ms(ts: datetime) -> int:
    return (ts - EPOCH) // timedelta(milliseconds=1)


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
    means: dict[str, float]


class HourState(BaseModel):
    start: int | None = None
    sums: dict[str, tuple[float, int]] = Field(default_factory=dict)


def add(state: HourState, reading: Reading) -> list[ClosedHour]:
    start = period_start(reading.ts)
    closed = close(state) if state.start is not None and start > state.start else []
    if state.start is None:
        state.start = start
    if start == state.start:
        for metric in POLLUTANTS:
            value = reading.values.get(metric)
            if value is not None and reading.flag(metric) is Flag.NORMAL:
                total, count = state.sums.get(metric, (0.0, 0))
                state.sums[metric] = (total + value, count + 1)
    return closed


def close_due(state: HourState, now: datetime) -> list[ClosedHour]:
    return close(state) if state.start is not None and ms(now) >= state.start + HOUR_MS else []


def close(state: HourState) -> list[ClosedHour]:
    assert state.start is not None
    means = {metric: total / count for metric, (total, count) in state.sums.items()}
    closed = ClosedHour(state.start, means)
    state.start, state.sums = None, {}
    return [closed] if means else []


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
