"""Per-station results that the fleet gathers: a station's hour and day of air, its night of noise.

A day of air follows GB 3095-2012 §6's data validity: an hourly mean needs 45 minutes of data, a
pollutant's 24 h mean 20 hourly means; O3's daily maximum 8 h mean is taken over the 8 h windows
inside the day that hold at least 6 hourly means, and needs 14 of them unless it is above the
limit anyway (HJ 663-2013). The day's AQI (HJ 633-2012) uses whatever is valid. A night of noise
is the energy average of its valid hourly Leq, and needs 6 of its 8 hours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from pydantic import BaseModel, Field

from envalert.core.contract import Kind, Reading
from envalert.core.stations import Station
from rules import hourly
from rules.aggregations import Observation, WindowState, on_reading, on_tick
from rules.hourly import at_ms, day_end
from rules.model import NightLeq
from rules.standards.aqi import Averaging, Pollutant, aqi
from rules.standards.limits import AMBIENT_CLASS_II
from rules.standards.noise import night_limit
from rules.standards.validity import EIGHT_HOUR_MEANS_FOR_A_DAY, HOURS_FOR_8H, HOURS_FOR_A_DAY


class StationHour(BaseModel):
    station: str
    district: str
    #: The clock hour's start.
    hour: datetime
    #: Valid 1 h means (µg/m³; CO mg/m³) by metric name.
    means: dict[str, float]
    #: None: no pollutant had an hourly value (too little data), so the hour has no AQI.
    aqi: int | None
    primary: list[str]
    #: The pollutants with some data in the hour, but too little for an hourly value.
    lacking: list[str] = Field(default_factory=list)


class StationDay(BaseModel):
    station: str
    district: str
    day: date
    #: 24 h means (µg/m³; CO mg/m³) of the pollutants with enough hours, by metric name.
    means: dict[str, float]
    o3_max_1h: float | None = None
    o3_max_8h: float | None = None
    aqi: int


class StationNight(BaseModel):
    station: str
    district: str
    night: date
    leq: float
    limit: float

    @property
    def compliant(self) -> bool:
        return self.leq <= self.limit


class Facts(BaseModel):
    """What a station's readings amounted to, for the fleet: closed hours, days and nights."""

    hours: list[StationHour] = Field(default_factory=list)
    days: list[StationDay] = Field(default_factory=list)
    nights: list[StationNight] = Field(default_factory=list)

    def add(self, other: Facts) -> None:
        self.hours += other.hours
        self.days += other.days
        self.nights += other.nights

    def __bool__(self) -> bool:
        return bool(self.hours or self.days or self.nights)

    def stations(self) -> set[str]:
        return {fact.station for facts in (self.hours, self.days, self.nights) for fact in facts}


class DayState(BaseModel):
    hour: hourly.HourState = Field(default_factory=hourly.HourState)
    day: date | None = None
    #: Hourly means of the open day: metric → 24 slots.
    hours: dict[str, list[float | None]] = Field(default_factory=dict)
    hourly_so2: list[float] = Field(default_factory=list, description="the last 24 hourly SO2 means")


class DerivedState(BaseModel):
    """A station's part of the fleet's figures, kept in its timeline; each kind uses its field."""

    air: DayState = Field(default_factory=DayState)
    noise: WindowState = Field(default_factory=WindowState)


def _day_of(hour_start: int) -> date:
    return at_ms(hour_start).date()


class DailyAir:
    """One air station's closed hours (with their AQI), and its days, each closed into a StationDay."""

    def __init__(self, station: Station) -> None:
        self.station = station

    def on_reading(self, state: DerivedState, reading: Reading) -> Facts:
        return self._file(state.air, hourly.add(state.air.hour, reading))

    def on_tick(self, state: DerivedState, now: datetime) -> Facts:
        facts = self._file(state.air, hourly.close_due(state.air.hour, now))
        if state.air.day is not None and now >= day_end(state.air.day):
            facts.days += self._close(state.air)
        return facts

    def _file(self, state: DayState, hour: hourly.ClosedHour | None) -> Facts:
        facts = Facts()
        if hour is None:
            return facts
        index, primary = None, []
        if hour.means:
            result, state.hourly_so2 = hourly.hourly_aqi(hour, state.hourly_so2)
            index, primary = result.aqi, [pollutant.value for pollutant in result.primary]
        facts.hours.append(
            StationHour(
                station=self.station.id,
                district=self.station.district,
                hour=at_ms(hour.start),
                means=hour.means,
                aqi=index,
                primary=primary,
                lacking=sorted(hour.lacking),
            )
        )
        day = _day_of(hour.start)
        if state.day is not None and day > state.day:
            facts.days += self._close(state)
        if state.day is None:
            state.day = day
        if day == state.day:
            slot = at_ms(hour.start).hour
            for metric, mean in hour.means.items():
                state.hours.setdefault(metric, [None] * 24)[slot] = mean
        return facts

    def _close(self, state: DayState) -> list[StationDay]:
        assert state.day is not None
        day, hours = state.day, state.hours
        state.day, state.hours = None, {}
        means = {
            metric: math.fsum(values) / len(values)
            for metric, slots in hours.items()
            if len(values := [v for v in slots if v is not None]) >= HOURS_FOR_A_DAY
        }
        day_values = DayValues.of(means, hours.get("o3", []))
        if day_values.aqi is None:
            return []
        return [
            StationDay(
                station=self.station.id,
                district=self.station.district,
                day=day,
                means=means,
                o3_max_1h=day_values.o3_max_1h,
                o3_max_8h=day_values.o3_max_8h,
                aqi=day_values.aqi,
            )
        ]


O3_DAILY_MAX_8H = AMBIENT_CLASS_II[(Pollutant.O3, Averaging.EIGHT_HOURS)]


def o3_max_8h(o3: list[float | None]) -> float | None:
    """The day's maximum 8 h mean of O3 over the 17 windows inside the day, each valid with 6
    hourly values; it needs 14 valid windows, unless it is above the limit even so (HJ 663-2013)."""
    windows = [[v for v in o3[start : start + 8] if v is not None] for start in range(17)] if o3 else []
    means = [math.fsum(w) / len(w) for w in windows if len(w) >= HOURS_FOR_8H]
    highest = max(means, default=None)
    if highest is None or (
        len(means) < EIGHT_HOUR_MEANS_FOR_A_DAY and not O3_DAILY_MAX_8H.broken_by(highest)
    ):
        return None
    return highest


@dataclass(frozen=True)
class DayValues:
    """A day's AQI as HJ 633-2012 and HJ 663-2013 evaluate it: SO2, NO2, CO, PM10 and PM2.5 by
    their 24 h means; O3 by the day's maximum 1 h value and maximum 8 h mean, both from the same
    hourly series (where the 8 h IAQI is not computed above 800 µg/m³, the 1 h one reports O3)."""

    aqi: int | None
    o3_max_1h: float | None
    o3_max_8h: float | None

    @classmethod
    def of(cls, means: dict[str, float], o3: list[float | None]) -> DayValues:
        """From the 24 h means by metric (O3's is not used) and the day's 24 hourly O3 values."""
        max_1h = max((v for v in o3 if v is not None), default=None)
        max_8h = o3_max_8h(o3)
        concentrations = {(Pollutant(m), Averaging.DAY): mean for m, mean in means.items() if m != "o3"}
        if max_1h is not None:
            concentrations[(Pollutant.O3, Averaging.HOUR)] = max_1h
        if max_8h is not None:
            concentrations[(Pollutant.O3, Averaging.EIGHT_HOURS)] = max_8h
        return cls(aqi(concentrations).aqi if concentrations else None, max_1h, max_8h)


class NightlyNoise:
    """One noise station's nights, each closed at 06:00 into a StationNight against its zone's limit."""

    COMPUTE = NightLeq(function="night_leq")

    def __init__(self, station: Station) -> None:
        if station.zone is None:
            raise ValueError(
                f"noise station {station.id} has no functional zone: its nights cannot be judged"
            )
        self.station = station
        self.limit = night_limit(station.zone, station.railway)

    def on_reading(self, state: DerivedState, reading: Reading) -> Facts:
        return self._nights(on_reading(self.COMPUTE, state.noise, reading, self.station))

    def on_tick(self, state: DerivedState, now: datetime) -> Facts:
        return self._nights(on_tick(self.COMPUTE, state.noise, now))

    def _nights(self, observed: list[Observation]) -> Facts:
        nights = [
            StationNight(
                station=self.station.id,
                district=self.station.district,
                night=(seen.at - timedelta(days=1)).date(),
                leq=seen.value,
                limit=self.limit,
            )
            for seen in observed
        ]
        return Facts(nights=nights)


StationDeriver = DailyAir | NightlyNoise


def deriver_for(station: Station) -> StationDeriver | None:
    """What a station contributes to the fleet's figures: air stations their hours and days,
    noise stations with a functional zone their nights; other kinds nothing."""
    if station.kind is Kind.AIR:
        return DailyAir(station)
    if station.kind is Kind.NOISE and station.zone is not None:
        return NightlyNoise(station)
    return None
