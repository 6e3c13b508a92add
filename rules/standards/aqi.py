"""HJ 633-2012 Technical Regulation on Ambient Air Quality Index: IAQI, AQI, category, primary pollutants.

Arithmetic is exact (fractions of the decimal concentration), so a concentration on a breakpoint
gives the breakpoint's index and never one more through floating-point error before rounding up.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass
from enum import Enum, StrEnum
from fractions import Fraction


class Pollutant(StrEnum):
    """Named by our metric names (envalert.core.contract.METRICS)."""

    SO2 = "so2"
    NO2 = "no2"
    PM10 = "pm10"
    CO = "co"
    O3 = "o3"
    PM25 = "pm25"


class Averaging(StrEnum):
    HOUR = "1h"
    EIGHT_HOURS = "8h"
    DAY = "24h"


IAQI_LEVELS = (0, 50, 100, 150, 200, 300, 400, 500)

#: Concentration breakpoints of HJ 633-2012 table 1 (µg/m³; CO in mg/m³), one per IAQI level.
BREAKPOINTS: dict[tuple[Pollutant, Averaging], tuple[float, ...]] = {
    (Pollutant.SO2, Averaging.DAY): (0, 50, 150, 475, 800, 1600, 2100, 2620),
    (Pollutant.SO2, Averaging.HOUR): (0, 150, 500, 650, 800),
    (Pollutant.NO2, Averaging.DAY): (0, 40, 80, 180, 280, 565, 750, 940),
    (Pollutant.NO2, Averaging.HOUR): (0, 100, 200, 700, 1200, 2340, 3090, 3840),
    (Pollutant.PM10, Averaging.DAY): (0, 50, 150, 250, 350, 420, 500, 600),
    (Pollutant.CO, Averaging.DAY): (0, 2, 4, 14, 24, 36, 48, 60),
    (Pollutant.CO, Averaging.HOUR): (0, 5, 10, 35, 60, 90, 120, 150),
    (Pollutant.O3, Averaging.HOUR): (0, 160, 200, 300, 400, 800, 1000, 1200),
    (Pollutant.O3, Averaging.EIGHT_HOURS): (0, 100, 160, 215, 265, 800),
    (Pollutant.PM25, Averaging.DAY): (0, 35, 75, 115, 150, 250, 350, 500),
}


class NotComputedError(Exception):
    """HJ 633 says not to compute this IAQI; another averaging period reports it instead."""


#: Which averaging period reports a pollutant when HJ 633 forbids computing the other.
FALLBACK = {
    (Pollutant.SO2, Averaging.HOUR): (Pollutant.SO2, Averaging.DAY),
    (Pollutant.O3, Averaging.EIGHT_HOURS): (Pollutant.O3, Averaging.HOUR),
}


def iaqi(pollutant: Pollutant, averaging: Averaging, concentration: float) -> int:
    """The individual air quality index, rounded up to an integer.

    Raises NotComputedError for SO2 1 h above 800 µg/m³ (report the 24 h IAQI instead) and O3 8 h
    above 800 µg/m³ (report the 1 h IAQI instead). Above the last breakpoint the index is 500.
    """
    points = BREAKPOINTS.get((pollutant, averaging))
    if points is None:
        raise ValueError(f"HJ 633-2012 has no {averaging} breakpoints for {pollutant}")
    if concentration < 0 or not math.isfinite(concentration):
        raise ValueError(f"{pollutant} concentration must be a finite value ≥ 0, got {concentration}")
    if concentration > points[-1]:
        if len(points) < len(IAQI_LEVELS):
            raise NotComputedError(f"{pollutant} {averaging} above {points[-1]:g}")
        return IAQI_LEVELS[-1]
    # The segment whose upper breakpoint is the first not below the concentration; 0 is in the first.
    index = max(bisect_left(points, concentration), 1)
    low, high = Fraction(str(points[index - 1])), Fraction(str(points[index]))
    i_low, i_high = IAQI_LEVELS[index - 1], IAQI_LEVELS[index]
    return math.ceil((i_high - i_low) / (high - low) * (Fraction(str(concentration)) - low) + i_low)


def concentration_at(pollutant: Pollutant, averaging: Averaging, level: int) -> float:
    """The concentration breakpoint of an IAQI level (HJ 633-2012 table 1), e.g. PM2.5 24 h at 200: 150."""
    return BREAKPOINTS[(pollutant, averaging)][IAQI_LEVELS.index(level)]


class Category(Enum):
    """AQI categories with their upper bound, level, Chinese and English names."""

    EXCELLENT = (50, "一级", "优", "excellent")
    GOOD = (100, "二级", "良", "good")
    LIGHT = (150, "三级", "轻度污染", "lightly polluted")
    MODERATE = (200, "四级", "中度污染", "moderately polluted")
    HEAVY = (300, "五级", "重度污染", "heavily polluted")
    SEVERE = (math.inf, "六级", "严重污染", "severely polluted")

    # The enum calls this while the class is being made, before mutmut's trampoline can find it.
    def __init__(self, upper: float, level: str, zh: str, en: str) -> None:  # pragma: no mutate block
        self.upper = upper
        self.level = level
        self.zh = zh
        self.en = en

    @classmethod
    def of(cls, aqi: int) -> Category:
        return next(category for category in cls if aqi <= category.upper)


#: The lowest AQI of 重度污染 (heavy pollution), and of 严重污染 (severe).
HEAVY_AQI = int(Category.MODERATE.upper) + 1
SEVERE_AQI = int(Category.HEAVY.upper) + 1


@dataclass(frozen=True)
class AqiResult:
    aqi: int
    category: Category
    #: Pollutants whose IAQI equals the AQI, when the AQI is above 50.
    primary: tuple[Pollutant, ...]
    iaqi: dict[tuple[Pollutant, Averaging], int]


def aqi(concentrations: dict[tuple[Pollutant, Averaging], float]) -> AqiResult:
    """AQI = the largest IAQI; SO2 1 h and O3 8 h above 800 fall back as HJ 633 prescribes.

    Daily AQI: pass the 24 h means of SO2, NO2, PM10, PM2.5, CO and O3's daily maximum 1 h and
    8 h means. Hourly AQI: pass the 1 h values, PM10 and PM2.5 under the 24 h key (the 24 h
    breakpoints apply to their 1 h concentrations), and SO2's 24 h mean if known.
    """
    indices: dict[tuple[Pollutant, Averaging], int] = {}
    for key, concentration in concentrations.items():
        try:
            indices[key] = iaqi(*key, concentration)
        except NotComputedError as reason:
            if FALLBACK[key] not in concentrations:
                pollutant, averaging = FALLBACK[key]
                raise ValueError(
                    f"{reason}: HJ 633 reports the {averaging} {pollutant} IAQI instead; pass it"
                ) from None
    if not indices:
        raise ValueError(f"no index can be computed from {sorted(concentrations)}")
    top = max(indices.values())
    primary = tuple(sorted({p for (p, _), index in indices.items() if index == top})) if top > 50 else ()
    return AqiResult(top, Category.of(top), primary, indices)
