"""What each rule computes from one station's readings, on the event clock.

``on_reading`` and ``on_tick`` update a rule's small ``WindowState`` in place and return the
observations that are ready to be judged: a trailing mean at each reading, a clock hour or a
night when the event clock passes its end, minutes of silence at each tick.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from envalert.core.contract import Flag, Reading
from envalert.core.stations import Station
from rules import hourly
from rules.hourly import at_ms, ms, period_start, span_ms
from rules.model import (
    Aggregation,
    FlaggedFor,
    HourlyAqi,
    HourlyMean,
    LackingHours,
    Latest,
    Mean,
    NightLeq,
    OutOfRange,
    Rate,
    Silence,
    Stuck,
)
from rules.samples import Samples
from rules.standards import noise

DAY = timedelta(days=1)


@dataclass(frozen=True)
class Observation:
    value: float
    at: datetime
    #: What the value covers, for people: "1h mean to 14:00", "night of 2026-07-01".
    window: str
    #: The same in Chinese, for the alert texts: "2026-07-01夜间".
    window_zh: str


class WindowState(BaseModel):
    """Everything any aggregation keeps between readings; each uses the fields it needs."""

    samples: Samples = Field(default_factory=Samples, description="(epoch ms, value), by time")
    period: int | None = Field(None, description="start of the open calendar period or night, epoch ms")
    total: float = 0.0
    count: int = 0
    hour: hourly.HourState = Field(default_factory=hourly.HourState)
    hourly_so2: list[float] = Field(default_factory=list, description="the last 24 hourly SO2 means")
    last_value: float | None = None
    repeats: int = 0
    last_seen: int | None = None
    flagged_since: int | None = None
    lacking_hours: int = 0
    lacking_until: int | None = Field(None, description="end of the last hour counted, epoch ms")


def judged_value(reading: Reading, metric: str) -> float | None:
    """A metric's value if it may be judged against a limit: present and flagged N."""
    value = reading.values.get(metric)
    return value if value is not None and reading.flag(metric) is Flag.NORMAL else None


def on_reading(
    compute: Aggregation, state: WindowState, reading: Reading, station: Station
) -> list[Observation]:
    match compute:
        case Latest():
            value = judged_value(reading, compute.metric)
            if value is None or (compute.period == "night" and not noise.is_night(reading.ts)):
                return []
            return [
                Observation(
                    value,
                    reading.ts,
                    *(("reading", "读数") if compute.period == "always" else ("night reading", "夜间读数")),
                )
            ]
        case HourlyMean() | HourlyAqi() | LackingHours():
            return _by_hours(compute, state, hourly.add(state.hour, reading, _hour_metrics(compute, reading)))
        case Mean(align="sliding"):
            return _trailing_mean(compute, state, reading)
        case Mean():
            return _calendar_mean(compute, state, reading)
        case NightLeq():
            return _night_leq(compute, state, reading)
        case Rate():
            return _rate(compute, state, reading)
        case Stuck():
            return _repeats(compute, state, reading)
        case Silence():
            state.last_seen = max(state.last_seen or 0, ms(reading.ts))
            return [Observation(0, reading.ts, "since the last reading", "距上次数据")]
        case FlaggedFor():
            return _flagged(compute, state, reading)
        case OutOfRange():
            return _out_of_range(compute, reading, station)
    raise AssertionError(f"unhandled aggregation {compute!r}")


def clocked(compute: Aggregation) -> bool:
    """Whether ``on_tick`` has anything to do for ``compute``: for the others a tick is a no-op."""
    calendar = isinstance(compute, Mean) and compute.align == "calendar"
    return calendar or isinstance(
        compute, HourlyMean | NightLeq | HourlyAqi | Silence | FlaggedFor | LackingHours
    )


def on_tick(compute: Aggregation, state: WindowState, now: datetime) -> list[Observation]:
    """The event clock reached ``now``: close what has ended, measure what grows with time."""
    match compute:
        case HourlyMean() | HourlyAqi() | LackingHours():
            return _by_hours(compute, state, hourly.close_due(state.hour, now))
        case Mean(align="calendar"):
            if state.period is not None and ms(now) >= state.period + span_ms(compute.window):
                return _close_mean(compute, state)
        case NightLeq():
            _file_night_hour(compute, state, hourly.close_due(state.hour, now, energy=True))
            return _close_night_if_over(compute, state, now)
        case Silence():
            if state.last_seen is not None:
                minutes = (ms(now) - state.last_seen) / 60_000
                return [
                    Observation(
                        max(0.0, minutes), now, "minutes since the last reading", "距上次数据（分钟）"
                    )
                ]
        case FlaggedFor():
            if state.flagged_since is not None:
                return [Observation((ms(now) - state.flagged_since) / 60_000, now, *_flag_window(compute))]
    return []


HourBased = HourlyMean | HourlyAqi | LackingHours


def _hour_metrics(compute: HourBased, reading: Reading) -> list[str]:
    """The metrics whose clock-hour values ``compute`` is built from."""
    match compute:
        case HourlyMean():
            return [compute.metric]
        case HourlyAqi():
            return hourly.POLLUTANTS
    return list(reading.values)


def _by_hours(compute: HourBased, state: WindowState, hour: hourly.ClosedHour | None) -> list[Observation]:
    if hour is None:
        return []
    match compute:
        case HourlyMean():
            return _hourly_mean(compute, state, hour)
        case HourlyAqi():
            return _hourly_aqi(state, hour)
    return _lacking(state, hour)


def _trailing_mean(compute: Mean, state: WindowState, reading: Reading) -> list[Observation]:
    value = judged_value(reading, compute.metric)
    if value is None:
        return []
    now = ms(reading.ts)
    state.samples.add(now, value)
    newest = state.samples.times[-1]
    state.samples.drop_before(newest - span_ms(compute.window), including=True)
    if len(state.samples) < compute.min_samples:
        return []
    mean = math.fsum(state.samples.values) / len(state.samples)
    return [
        Observation(
            mean,
            at_ms(newest),
            f"trailing {_span(compute.window)} mean",
            f"{_span_zh(compute.window)}滑动平均",
        )
    ]


def _span(window: timedelta) -> str:
    hours = window / timedelta(hours=1)
    return f"{hours:g}h" if hours >= 1 else f"{window / timedelta(minutes=1):g}min"


def _span_zh(window: timedelta) -> str:
    hours = window / timedelta(hours=1)
    return f"{hours:g}小时" if hours >= 1 else f"{window / timedelta(minutes=1):g}分钟"


def _calendar_mean(compute: Mean, state: WindowState, reading: Reading) -> list[Observation]:
    value = judged_value(reading, compute.metric)
    if value is None:
        return []
    start = period_start(reading.ts, compute.window)
    closed: list[Observation] = []
    if state.period is not None and start > state.period:
        closed = _close_mean(compute, state)
    if state.period is None or start == state.period:
        state.period = start
        state.total += value
        state.count += 1
    return closed  # a reading for a period already closed is late: not judged


def _close_mean(compute: Mean, state: WindowState) -> list[Observation]:
    assert state.period is not None
    end = at_ms(state.period + span_ms(compute.window))
    enough = state.count >= compute.min_samples
    observed = [Observation(state.total / state.count, end, *_period_name(state.period, compute.window))]
    state.period, state.total, state.count = None, 0.0, 0
    return observed if enough else []


def _period_name(start: int, window: timedelta) -> tuple[str, str]:
    begin = at_ms(start)
    if window >= DAY:
        return f"day {begin:%Y-%m-%d}", f"{begin:%Y-%m-%d}日"
    hours = f"{begin:%Y-%m-%d %H}:00–{begin.hour + 1:02d}:00"
    return f"hour {hours}", f"{hours}时段"


def _hourly_mean(compute: HourlyMean, state: WindowState, hour: hourly.ClosedHour) -> list[Observation]:
    mean = hour.means.get(compute.metric)
    if mean is not None:
        state.samples.add(hour.start, mean)
    end = hour.start + hourly.HOUR_MS
    state.samples.drop_before(end - span_ms(compute.window))
    if len(state.samples) < compute.min_hours:
        return []
    average = math.fsum(state.samples.values) / len(state.samples)
    if span_ms(compute.window) == hourly.HOUR_MS:
        names = _period_name(hour.start, compute.window)
    else:
        names = (
            f"{_span(compute.window)} mean of hourly values to {at_ms(end):%Y-%m-%d %H}:00",
            f"截至{at_ms(end):%Y-%m-%d %H}时的{_span_zh(compute.window)}平均",
        )
    return [Observation(average, at_ms(end), *names)]


def _night_leq(compute: NightLeq, state: WindowState, reading: Reading) -> list[Observation]:
    _file_night_hour(compute, state, hourly.add(state.hour, reading, [compute.metric], energy=True))
    return _close_night_if_over(compute, state, reading.ts)


def _file_night_hour(compute: NightLeq, state: WindowState, hour: hourly.ClosedHour | None) -> None:
    """File a valid hourly Leq of the night in the open night. No hour can close past the end of
    the open night: the first reading or tick past that end closed the night already."""
    if hour is None or (leq := hour.means.get(compute.metric)) is None:
        return
    begin = at_ms(hour.start)
    if not noise.is_night(begin):
        return
    start = ms(noise.night_end(noise.night_of(begin)) - timedelta(hours=8))
    if state.period is None:
        state.period = start
    if start == state.period:
        state.total += 10 ** (leq / 10)
        state.count += 1


def _close_night_if_over(compute: NightLeq, state: WindowState, now: datetime) -> list[Observation]:
    if state.period is not None and now >= noise.night_end(at_ms(state.period).date()):
        return _close_night(compute, state)
    return []


def _close_night(compute: NightLeq, state: WindowState) -> list[Observation]:
    """The open night's Leq, the energy average of its valid hourly Leq, if it has enough of them."""
    assert state.period is not None
    night = at_ms(state.period).date()
    enough = state.count >= compute.min_hours
    leq = 10 * math.log10(state.total / state.count) if state.count else math.nan
    state.period, state.total, state.count = None, 0.0, 0
    return (
        [Observation(leq, noise.night_end(night), f"night of {night:%Y-%m-%d}", f"{night:%Y-%m-%d}夜间")]
        if enough
        else []
    )


def _rate(compute: Rate, state: WindowState, reading: Reading) -> list[Observation]:
    value = judged_value(reading, compute.metric)
    if value is None:
        return []
    samples = state.samples
    samples.add(ms(reading.ts), value)
    newest = samples.times[-1]
    samples.drop_before(newest - span_ms(compute.window))
    (first_at, first), (last_at, last) = (samples.times[0], samples.values[0]), (newest, samples.values[-1])
    # A rate over a sliver of the window would magnify noise: wait for half of it.
    if 2 * (last_at - first_at) < span_ms(compute.window):
        return []
    per_day = (last - first) * span_ms(DAY) / (last_at - first_at)
    return [
        Observation(
            per_day,
            at_ms(newest),
            f"change per day over {_span(compute.window)}",
            f"{_span_zh(compute.window)}内日变化",
        )
    ]


def _hourly_aqi(state: WindowState, hour: hourly.ClosedHour) -> list[Observation]:
    if not hour.means:
        return []  # no pollutant with an hourly value: no AQI for the hour
    result, state.hourly_so2 = hourly.hourly_aqi(hour, state.hourly_so2)
    name, name_zh = _period_name(hour.start, timedelta(hours=1))
    end = at_ms(hour.start + hourly.HOUR_MS)
    return [Observation(result.aqi, end, f"AQI of {name}", f"{name_zh} 小时AQI")]


def _lacking(state: WindowState, hour: hourly.ClosedHour) -> list[Observation]:
    in_a_row = state.lacking_until == hour.start
    state.lacking_hours = (state.lacking_hours + 1 if in_a_row else 1) if hour.lacking else 0
    state.lacking_until = hour.start + hourly.HOUR_MS
    end = at_ms(hour.start + hourly.HOUR_MS)
    names = ",".join(sorted(hour.lacking)) or "none"
    return [
        Observation(
            state.lacking_hours,
            end,
            f"hours lacking data to {end:%Y-%m-%d %H}:00: {names}",
            f"截至{end:%Y-%m-%d %H}时数据不足的小时数：{names}",
        )
    ]


def _repeats(compute: Stuck, state: WindowState, reading: Reading) -> list[Observation]:
    value = reading.values.get(compute.metric)
    if value is None:
        return []
    state.repeats = state.repeats + 1 if value == state.last_value else 1
    state.last_value = value
    return [
        Observation(
            state.repeats,
            reading.ts,
            f"consecutive identical {compute.metric} readings",
            f"{compute.metric}连续相同读数",
        )
    ]


def _flag_window(compute: FlaggedFor) -> tuple[str, str]:
    flags = "/".join(flag.value for flag in compute.flags)
    return (
        f"minutes {compute.metric or 'a metric'} flagged {flags}",
        f"{compute.metric or '数据'}带{flags}标记（分钟）",
    )


def _metrics(metric: str | None, reading: Reading) -> list[str]:
    """The named metric if the reading has it; every metric of the reading if none is named."""
    if metric is None:
        return list(reading.values)
    return [metric] if metric in reading.values else []


def _flagged(compute: FlaggedFor, state: WindowState, reading: Reading) -> list[Observation]:
    metrics = _metrics(compute.metric, reading)
    if not metrics:
        return []
    if any(reading.flag(metric) in compute.flags for metric in metrics):
        state.flagged_since = min(state.flagged_since or ms(reading.ts), ms(reading.ts))
        minutes = (ms(reading.ts) - state.flagged_since) / 60_000
    else:
        state.flagged_since, minutes = None, 0.0
    return [Observation(minutes, reading.ts, *_flag_window(compute))]


def _out_of_range(compute: OutOfRange, reading: Reading, station: Station) -> list[Observation]:
    metrics = _metrics(compute.metric, reading)
    if not metrics:
        return []
    outside = [
        metric
        for metric in metrics
        if reading.flag(metric) is Flag.OVER_RANGE
        or not _within(reading.values[metric], station.instrument_ranges.get(metric))
    ]
    if outside:
        named = ", ".join(outside)
        return [
            Observation(1.0, reading.ts, f"outside the instrument's range: {named}", f"超出仪器量程：{named}")
        ]
    return [Observation(0.0, reading.ts, "instrument range", "仪器量程内")]


def _within(value: float, span: tuple[float, float] | None) -> bool:
    return span is None or span[0] <= value <= span[1]
