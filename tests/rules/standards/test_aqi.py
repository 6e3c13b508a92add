"""HJ 633-2012 with values worked out by hand from its table 1, at and on both sides of every breakpoint."""

from __future__ import annotations

import pytest

from rules.standards.aqi import Averaging, Category, NotComputedError, Pollutant, aqi, iaqi

A = Averaging
P = Pollutant

#: Table 1 of HJ 633-2012, copied from STANDARDS.md (not from the code under test).
TABLE = {
    (P.SO2, A.DAY): "0 50 150 475 800 1600 2100 2620",
    (P.SO2, A.HOUR): "0 150 500 650 800",
    (P.NO2, A.DAY): "0 40 80 180 280 565 750 940",
    (P.NO2, A.HOUR): "0 100 200 700 1200 2340 3090 3840",
    (P.PM10, A.DAY): "0 50 150 250 350 420 500 600",
    (P.CO, A.DAY): "0 2 4 14 24 36 48 60",
    (P.CO, A.HOUR): "0 5 10 35 60 90 120 150",
    (P.O3, A.HOUR): "0 160 200 300 400 800 1000 1200",
    (P.O3, A.EIGHT_HOURS): "0 100 160 215 265 800",
    (P.PM25, A.DAY): "0 35 75 115 150 250 350 500",
}
LEVELS = [0, 50, 100, 150, 200, 300, 400, 500]
BREAKPOINTS = [
    (pollutant, averaging, float(point), LEVELS[index])
    for (pollutant, averaging), row in TABLE.items()
    for index, point in enumerate(row.split())
]


@pytest.mark.parametrize(("pollutant", "averaging", "point", "level"), BREAKPOINTS)
def test_at_a_breakpoint_the_index_is_the_breakpoints_level(
    pollutant: Pollutant, averaging: Averaging, point: float, level: int
) -> None:
    assert iaqi(pollutant, averaging, point) == level


@pytest.mark.parametrize(("pollutant", "averaging", "point", "level"), [b for b in BREAKPOINTS if b[2] > 0])
def test_just_below_a_breakpoint_rounds_up_to_its_level(
    pollutant: Pollutant, averaging: Averaging, point: float, level: int
) -> None:
    assert iaqi(pollutant, averaging, point - 0.01) == level


#: Above the last breakpoint: 500 at the top of the scale; SO2 1 h and O3 8 h are not computed
#: above 800 (test_the_special_cases).
INNER_BREAKPOINTS = [b for b in BREAKPOINTS if b[3] < 500 and b[2] != float(TABLE[b[:2]].split()[-1])]


@pytest.mark.parametrize(("pollutant", "averaging", "point", "level"), INNER_BREAKPOINTS)
def test_just_above_a_breakpoint_is_one_more(
    pollutant: Pollutant, averaging: Averaging, point: float, level: int
) -> None:
    assert iaqi(pollutant, averaging, point + 0.01) == level + 1


@pytest.mark.parametrize(
    ("pollutant", "averaging", "concentration", "expected"),
    [
        # PM2.5 24 h, 75.1: 100 + (150-100)/(115-75)·0.1 = 100.125 → 101
        (P.PM25, A.DAY, 75.1, 101),
        # PM2.5 24 h, 100: 100 + 50/40·25 = 131.25 → 132
        (P.PM25, A.DAY, 100, 132),
        # PM10 24 h, 200: 100 + 50/100·50 = 125
        (P.PM10, A.DAY, 200, 125),
        # NO2 1 h, 150: 50 + 50/100·50 = 75
        (P.NO2, A.HOUR, 150, 75),
        # CO 24 h, 3.3 mg/m³: 50 + 50/2·1.3 = 82.5 → 83
        (P.CO, A.DAY, 3.3, 83),
        # O3 1 h, 170: 50 + 50/40·10 = 62.5 → 63
        (P.O3, A.HOUR, 170, 63),
        # O3 8 h, 180: 100 + 50/55·20 = 118.18… → 119
        (P.O3, A.EIGHT_HOURS, 180, 119),
        # SO2 24 h, 1000: 200 + 100/800·200 = 225
        (P.SO2, A.DAY, 1000, 225),
        # PM2.5 above the last breakpoint is reported as 500
        (P.PM25, A.DAY, 720, 500),
    ],
)
def test_values_inside_segments(
    pollutant: Pollutant, averaging: Averaging, concentration: float, expected: int
) -> None:
    assert iaqi(pollutant, averaging, concentration) == expected


def test_the_special_cases() -> None:
    with pytest.raises(NotComputedError, match=r"^so2 1h above 800$"):
        iaqi(P.SO2, A.HOUR, 801)
    with pytest.raises(NotComputedError, match=r"^o3 8h above 800$"):
        iaqi(P.O3, A.EIGHT_HOURS, 801)
    # SO2 1 h above 800: the 24 h IAQI reports SO2. 24 h 300: 100 + 50/325·150 = 123.07… → 124
    result = aqi({(P.SO2, A.HOUR): 900, (P.SO2, A.DAY): 300})
    assert result.aqi == 124 and (P.SO2, A.HOUR) not in result.iaqi
    # O3 8 h above 800: the 1 h IAQI reports O3. 1 h 850: 300 + 100/200·50 = 325
    result = aqi({(P.O3, A.EIGHT_HOURS): 820, (P.O3, A.HOUR): 850})
    assert result.aqi == 325 and result.primary == (P.O3,)
    with pytest.raises(
        ValueError, match=r"^so2 1h above 800: HJ 633 reports the 24h so2 IAQI instead; pass it$"
    ):
        aqi({(P.SO2, A.HOUR): 900, (P.PM25, A.DAY): 40})


def test_an_aqi_of_nothing_is_refused_with_what_was_given() -> None:
    with pytest.raises(ValueError, match=r"^no index can be computed from \[\]$"):
        aqi({})


@pytest.mark.parametrize(
    ("index", "category", "zh"),
    [
        (0, Category.EXCELLENT, "优"),
        (50, Category.EXCELLENT, "优"),
        (51, Category.GOOD, "良"),
        (100, Category.GOOD, "良"),
        (101, Category.LIGHT, "轻度污染"),
        (150, Category.LIGHT, "轻度污染"),
        (151, Category.MODERATE, "中度污染"),
        (200, Category.MODERATE, "中度污染"),
        (201, Category.HEAVY, "重度污染"),
        (300, Category.HEAVY, "重度污染"),
        (301, Category.SEVERE, "严重污染"),
        (500, Category.SEVERE, "严重污染"),
    ],
)
def test_categories_at_their_bounds(index: int, category: Category, zh: str) -> None:
    assert Category.of(index) is category and category.zh == zh


def test_primary_pollutants_are_those_at_the_aqi_above_50() -> None:
    # PM2.5 75 → 100, PM10 150 → 100, NO2 1 h 100 → 50: both particulates are primary.
    tied = aqi({(P.PM25, A.DAY): 75, (P.PM10, A.DAY): 150, (P.NO2, A.HOUR): 100})
    assert (tied.aqi, tied.category, tied.primary) == (100, Category.GOOD, (P.PM10, P.PM25))
    clean = aqi({(P.PM25, A.DAY): 35, (P.PM10, A.DAY): 50})
    assert (clean.aqi, clean.primary) == (50, ())
    just_over = aqi({(P.PM25, A.DAY): 35, (P.PM10, A.DAY): 51})  # PM10 51 → IAQI 50.5, up to 51
    assert (just_over.aqi, just_over.primary) == (51, (P.PM10,))


def test_bad_concentrations_are_refused() -> None:
    with pytest.raises(ValueError, match="finite value"):
        iaqi(P.PM25, A.DAY, -1)
    with pytest.raises(ValueError, match="no 8h breakpoints"):
        iaqi(P.PM25, A.EIGHT_HOURS, 10)
