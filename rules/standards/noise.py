"""GB 3096-2008 Environmental quality standard for noise: zone limits, day and night, Leq, sudden noise."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from envalert.core.contract import CHINA_STANDARD_TIME
from envalert.core.stations import NoiseZone

#: LAeq limits in dB(A), (day 06:00–22:00, night 22:00–06:00), GB 3096-2008 table 1.
ZONE_LIMITS: dict[NoiseZone, tuple[float, float]] = {
    NoiseZone.Z0: (50, 40),
    NoiseZone.Z1: (55, 45),
    NoiseZone.Z2: (60, 50),
    NoiseZone.Z3: (65, 55),
    NoiseZone.Z4A: (70, 55),
    NoiseZone.Z4B: (70, 60),
}
#: Beside an existing railway trunk line through the city, GB 3096-2008 judges the noise without
#: trains against 70/55 dB(A); the 4b limits are for lines whose EIA was approved from 2011-01-01.
EXISTING_RAILWAY_LIMITS = (70.0, 55.0)
NIGHT_STARTS = time(22, 0)
DAY_STARTS = time(6, 0)
#: At night an Lmax may exceed the zone's night limit by at most this much (GB 3096-2008 5.4).
SUDDEN_NOISE_ALLOWANCE = 15.0


def local_time(ts: datetime) -> datetime:
    """Periods are in Beijing time, whatever offset a reading carries."""
    return ts.astimezone(CHINA_STANDARD_TIME)


def is_night(ts: datetime) -> bool:
    clock = local_time(ts).time()
    return clock >= NIGHT_STARTS or clock < DAY_STARTS


def night_of(ts: datetime) -> date:
    """The night a time belongs to, named by the evening it begins: 01:00 on the 2nd is night 1."""
    local = local_time(ts)
    return (local - timedelta(days=1)).date() if local.time() < DAY_STARTS else local.date()


def night_end(night: date) -> datetime:
    """06:00 Beijing time on the morning after ``night``: when its Leq can be judged."""
    return datetime.combine(night + timedelta(days=1), DAY_STARTS, CHINA_STANDARD_TIME)


def night_limit(zone: NoiseZone, railway: str | None = None) -> float:
    """The zone's night limit in dB(A); in zone 4b, by the railway line (GB 3096-2008)."""
    if zone is NoiseZone.Z4B and railway == "existing":
        return EXISTING_RAILWAY_LIMITS[1]
    return ZONE_LIMITS[zone][1]


def limit(zone: NoiseZone, ts: datetime, railway: str | None = None) -> float:
    return night_limit(zone, railway) if is_night(ts) else ZONE_LIMITS[zone][0]
