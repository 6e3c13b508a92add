"""Figures: the derived measurements the stream writes to InfluxDB beside the raw readings.

Each is one point: a measurement, tags naming what it is about, numeric fields, and the start of
the period it covers (the hour, the day, the night at 22:00). Written again after a restart, a
figure lands on the same series and time, so InfluxDB keeps it once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from rules.derived import StationDay, StationHour, StationNight
from rules.hourly import day_start

Scope = Literal["station", "district", "city"]
FieldValue = bool | int | float | str


class Figure(BaseModel):
    model_config = ConfigDict(frozen=True)

    measurement: str
    tags: dict[str, str]
    fields: dict[str, FieldValue]
    at: datetime


def area_tags(scope: Scope, area: str, district: str | None = None) -> dict[str, str]:
    return {"scope": scope, "area": area, **({"district": district} if district else {})}


def aqi_figure(
    measurement: Literal["aqi_hourly", "aqi_daily"],
    tags: dict[str, str],
    index: int,
    means: dict[str, float],
    at: datetime,
    *,
    primary: list[str] | None = None,
) -> Figure:
    fields: dict[str, FieldValue] = {"aqi": index, **{metric: float(v) for metric, v in means.items()}}
    if primary is not None:
        fields["primary"] = ",".join(primary)
    return Figure(measurement=measurement, tags=tags, fields=fields, at=at)


def not_valid(measurement: str, tags: dict[str, str], at: datetime, lacking: list[str]) -> Figure:
    """A period without enough data for its figure: published as such, with what lacked data, so
    that a gap is seen as a gap and not taken for a quiet hour."""
    return Figure(
        measurement=measurement, tags=tags, fields={"valid": False, "lacking": ",".join(lacking)}, at=at
    )


def station_hour(fact: StationHour) -> Figure:
    tags = area_tags("station", fact.station, fact.district)
    if fact.aqi is None:
        return not_valid("aqi_hourly", tags, fact.hour, fact.lacking)
    return aqi_figure("aqi_hourly", tags, fact.aqi, fact.means, fact.hour, primary=fact.primary)


def station_day(fact: StationDay) -> Figure:
    means = {**fact.means}
    means.pop("o3", None)  # a daily O3 figure is its maximum 1 h and 8 h means, below
    extra = {"o3_max_1h": fact.o3_max_1h, "o3_max_8h": fact.o3_max_8h}
    means |= {name: value for name, value in extra.items() if value is not None}
    tags = area_tags("station", fact.station, fact.district)
    return aqi_figure("aqi_daily", tags, fact.aqi, means, day_start(fact.day))


def station_night(fact: StationNight) -> Figure:
    return Figure(
        measurement="noise_night",
        tags={"station": fact.station, "district": fact.district},
        fields={"leq": round(fact.leq, 2), "limit": fact.limit, "compliant": fact.compliant},
        at=day_start(fact.night) + timedelta(hours=22),
    )


def late_reading(station: str, late_so_far: int, at: datetime) -> Figure:
    """A reading that came after its time was judged: the station's count so far, at its time."""
    return Figure(measurement="late_readings", tags={"station": station}, fields={"late": late_so_far}, at=at)
