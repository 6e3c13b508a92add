"""The fleet's clock, duplicates and late facts, and the figures it makes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest

from rules import figures
from rules.derived import Facts, StationDay, StationHour, StationNight
from rules.figures import FieldValue, Figure
from rules.fleet import (
    CITY,
    FleetEvaluator,
    FleetState,
    FleetUpdate,
    days_in_year,
    hand_over,
    threshold_for,
)
from rules.hourly import day_end, day_start
from rules.model import ByAttribute, Catalogue, FromStation
from rules.standards.noise import night_end
from tests.rules.conftest import T0

HOUR = timedelta(hours=1)


def hour_of(station: str, district: str, pm25: float, at: datetime = T0) -> StationHour:
    return StationHour(station=station, district=district, hour=at, means={"pm25": pm25}, aqi=0, primary=[])


def update(*hours: StationHour, **judged_to: datetime) -> FleetUpdate:
    return FleetUpdate(facts=Facts(hours=list(hours)), judged_to=judged_to)


def area_figure(measurement: str, area: str, at: datetime, **fields: FieldValue) -> Figure:
    scope = "city" if area == CITY else "district"
    return Figure(measurement=measurement, tags={"scope": scope, "area": area}, fields=fields, at=at)


def area_figures(made: list[Figure], *measurements: str) -> list[Figure]:
    """The city's and the districts' figures of these measurements, without the stations' own."""
    return [f for f in made if f.measurement in measurements and f.tags.get("scope") != "station"]


def city_hours(made: list[Figure]) -> list[tuple[datetime, FieldValue]]:
    return [(f.at, f.fields["aqi"]) for f in area_figures(made, "aqi_hourly") if f.tags["scope"] == "city"]


def test_the_city_hour_waits_for_the_slowest_station_and_averages_concentrations() -> None:
    fleet, state = FleetEvaluator([], ["A", "B"]), FleetState()
    fleet.update(state, update(hour_of("A", "金水区", 60), A=T0 + HOUR))
    assert city_hours(hand_over(state)) == [], "B has not been heard from: the hour stays open"
    fleet.update(state, update(B=T0 + HOUR / 2))
    assert city_hours(hand_over(state)) == [], "B is judged only to half past"
    fleet.update(state, update(hour_of("B", "中原区", 80), B=T0 + HOUR))
    made = hand_over(state)
    # City PM2.5 (60 + 80) / 2 = 70 → IAQI 50 + 50/40·35 = 93.75 → 94
    assert city_hours(made) == [(T0, 94)]
    districts = {f.tags["area"]: f.fields["aqi"] for f in made if f.tags["scope"] == "district"}
    assert districts == {"金水区": 82, "中原区": 107}


def test_a_fact_sent_twice_counts_once_and_one_for_a_closed_hour_is_late() -> None:
    fleet, state = FleetEvaluator([], ["A", "B"]), FleetState()
    twice = hour_of("A", "金水区", 60)
    fleet.update(state, update(twice, twice, hour_of("B", "金水区", 60), A=T0 + HOUR, B=T0 + HOUR))
    assert city_hours(hand_over(state)) == [(T0, 82)] and state.late == 0
    fleet.update(state, update(hour_of("B", "金水区", 500)))
    assert state.late == 1 and city_hours(hand_over(state)) == []


def test_the_state_round_trips_through_json() -> None:
    fleet, state = FleetEvaluator([], ["A"]), FleetState()
    fleet.update(state, update(hour_of("A", "金水区", 60), A=T0 + HOUR / 2))
    assert FleetState.model_validate_json(state.model_dump_json()) == state
    assert fleet.clock(state) == T0 + HOUR / 2 and CITY == "郑州市"


def test_a_station_found_in_two_shards_after_the_fleet_grew_counts_once() -> None:
    small, state = FleetEvaluator([], ["A", "B"]), FleetState()
    small.update(state, update(hour_of("A", "金水区", 60), A=T0 + HOUR))
    grown = FleetEvaluator([], ["A", "B"], shards=3)
    assert grown.shard_of("A") != small.shard_of("A"), "A's facts move to another shard"
    grown.update(state, update(hour_of("A", "金水区", 60), hour_of("B", "中原区", 80), B=T0 + HOUR))
    # (60 + 80) / 2 = 70 → 94; counting A twice would give 66.7 → 90.
    assert city_hours(hand_over(state)) == [(T0, 94)]


def test_an_hour_is_published_for_the_city_and_each_district_and_one_without_means_as_not_valid() -> None:
    fleet, state = FleetEvaluator([]), FleetState()
    gaps = [
        StationHour(
            station=station, district="中原区", hour=T0, means={}, aqi=None, primary=[], lacking=lacking
        )
        for station, lacking in [("B", ["pm25"]), ("C", ["o3", "pm25"])]
    ]
    fleet.update(state, update(hour_of("A", "金水区", 60), *gaps, A=T0 + HOUR))
    # 中原区 sorts before 金水区: the districts after one without means are still published.
    assert area_figures(hand_over(state), "aqi_hourly") == [
        area_figure("aqi_hourly", CITY, T0, aqi=82, pm25=60.0, primary="pm25"),
        area_figure("aqi_hourly", "中原区", T0, valid=False, lacking="o3,pm25"),
        area_figure("aqi_hourly", "金水区", T0, aqi=82, pm25=60.0, primary="pm25"),
    ]


def test_an_area_hour_of_so2_above_800_reports_the_areas_24h_mean_of_its_hours() -> None:
    fleet, state = FleetEvaluator([]), FleetState()
    for at, so2 in [(T0, 100), (T0 + HOUR, 900)]:
        fact = StationHour(station="A", district="金水区", hour=at, means={"so2": so2}, aqi=0, primary=[])
        fleet.update(state, update(fact, A=at + HOUR))
    # 100 → 1 h IAQI 34; 900 has no 1 h IAQI: the 24 h mean (100 + 900) / 2 = 500 → 154 (900 alone: 213)
    assert city_hours(hand_over(state)) == [(T0, 34), (T0 + HOUR, 154)]


@pytest.mark.parametrize(
    ("sources", "judged_to", "clock"),
    [
        ([], {}, None),
        ([], {"A": T0 + HOUR, "B": T0}, T0),
        (["A"], {"A": T0 + HOUR, "X": T0}, T0 + HOUR),
        (["A", "B"], {"A": T0 + HOUR}, None),
    ],
    ids=["nothing heard", "no sources named: the slowest heard", "only the named sources", "one not heard"],
)
def test_the_clock_is_the_slowest_of_the_sources_waited_for(
    sources: list[str], judged_to: dict[str, datetime], clock: datetime | None
) -> None:
    assert FleetEvaluator([], sources).clock(FleetState(judged_to=judged_to)) == clock


def test_a_sources_progress_never_goes_back() -> None:
    fleet, state = FleetEvaluator([], ["A"]), FleetState()
    fleet.update(state, update(A=T0 + HOUR))
    fleet.update(state, update(A=T0))
    assert fleet.clock(state) == T0 + HOUR


def test_a_shard_without_facts_of_an_hour_leaves_the_hour_to_the_others() -> None:
    fleet, state = FleetEvaluator([], shards=2), FleetState()
    assert fleet.shard_of("A") != fleet.shard_of("S1")
    fleet.update(state, update(hour_of("A", "金水区", 60), hour_of("S1", "金水区", 80, T0 + HOUR)))
    fleet.tick(state, T0 + 2 * HOUR)
    assert city_hours(hand_over(state)) == [(T0, 82), (T0 + HOUR, 107)]


def test_by_default_a_fleet_keeps_its_facts_in_one_shard_and_else_uses_each_of_its_shards() -> None:
    stations = [f"S{index}" for index in range(50)]
    assert {FleetEvaluator([]).shard_of(s) for s in stations} == {0}
    assert {FleetEvaluator([], shards=3).shard_of(s) for s in stations} == {0, 1, 2}


D0 = T0.date()


@pytest.mark.parametrize(
    ("add", "fact", "figure", "closed_at"),
    [
        (FleetEvaluator.add_hour, hour_of("A", "金水区", 60), figures.station_hour, T0 + HOUR),
        (
            FleetEvaluator.add_day,
            StationDay(station="A", district="金水区", day=D0, means={"pm25": 60.0}, aqi=82),
            figures.station_day,
            day_end(D0),
        ),
        (
            FleetEvaluator.add_night,
            StationNight(station="A", district="金水区", night=D0, leq=44, limit=45),
            figures.station_night,
            night_end(D0),
        ),
    ],
    ids=["hour", "day", "night"],
)
def test_each_fact_for_a_closed_period_counts_as_late_and_every_fact_is_published_for_its_station(
    add: Callable[..., None], fact: object, figure: Callable[..., Figure], closed_at: datetime
) -> None:
    fleet, state = FleetEvaluator([]), FleetState()
    add(fleet, state, fact)
    assert (state.late, hand_over(state)) == (0, [figure(fact)])
    fleet.tick(state, closed_at)
    hand_over(state)
    add(fleet, state, fact)
    add(fleet, state, fact)
    assert (state.late, hand_over(state)) == (2, [figure(fact), figure(fact)])


def night_of(station: str, leq: float, night: date, district: str = "金水区") -> StationNight:
    return StationNight(station=station, district=district, night=night, leq=leq, limit=45)


def close_night(fleet: FleetEvaluator, state: FleetState, night: date, *leqs: float) -> list[Figure]:
    """Station nights of these Leq (the limit: 45), then the night's end passes: its compliance figures."""
    nights = [night_of(f"N{index}", leq, night) for index, leq in enumerate(leqs)]
    fleet.update(state, FleetUpdate(facts=Facts(nights=nights), judged_to={"N": night_end(night)}))
    return area_figures(hand_over(state), "noise_compliance")


def test_a_nights_compliance_is_its_own_rate_and_the_rate_over_the_nights_kept() -> None:
    fleet, state = FleetEvaluator([]), FleetState()
    close_night(fleet, state, D0, 44, 44, 47)
    assert close_night(fleet, state, D0 + timedelta(days=1), 44, 47, 47, 47) == [
        Figure(
            measurement="noise_compliance",
            tags={"scope": "city", "area": CITY},
            fields={
                "night_rate": 25.0,
                "compliant": 1,
                "assessed": 4,
                "rolling_rate": 100 * 3 / 7,
                "rolling_nights": 2,
            },
            at=day_start(D0 + timedelta(days=1)) + timedelta(hours=22),
        )
    ]


def test_without_a_compliance_rule_the_rolling_rate_keeps_30_nights() -> None:
    fleet, state = FleetEvaluator([]), FleetState()
    close_night(fleet, state, D0, 47)
    for offset in range(1, 30):
        close_night(fleet, state, D0 + timedelta(days=offset), 44)
    (figure,) = close_night(fleet, state, D0 + timedelta(days=30), 44)
    # The first night, the only one failing, has left the 30 kept.
    assert (figure.fields["rolling_nights"], figure.fields["rolling_rate"]) == (30, 100.0)


@pytest.mark.parametrize(("year", "days"), [(2026, 365), (2028, 366), (2100, 365), (2000, 366)])
def test_a_year_has_366_days_when_it_is_a_leap_year(year: int, days: int) -> None:
    assert days_in_year(year) == days


JAN = date(2026, 1, 1)


def o3_hours(day: date, station: str, district: str, by_hour: dict[int, float]) -> list[StationHour]:
    at = day_start(day)
    return [
        StationHour(
            station=station, district=district, hour=at + h * HOUR, means={"o3": o3}, aqi=0, primary=[]
        )
        for h, o3 in by_hour.items()
    ]


def close_day(fleet: FleetEvaluator, state: FleetState, day: date, facts: Facts) -> list[Figure]:
    """The day's facts, then the day's end passes: the areas' daily AQI and plan progress figures."""
    fleet.update(state, FleetUpdate(facts=facts, judged_to={"clock": day_end(day)}))
    return area_figures(hand_over(state), "aqi_daily", "plan_progress")


def test_a_day_is_published_for_the_city_and_each_district_with_o3_from_the_areas_hours() -> None:
    fleet, state = FleetEvaluator([]), FleetState()
    hours = o3_hours(JAN, "A", "金水区", {h: 150.0 if h == 14 else 50.0 for h in range(24)})
    days = [
        StationDay(station="A", district="金水区", day=JAN, means={"pm25": 40.0, "o3": 55.0}, aqi=57),
        StationDay(station="B", district="中原区", day=JAN, means={"pm25": 80.0}, aqi=107),
        # A station of O3 alone, whose district has no O3 hours: the district has no daily AQI.
        StationDay(station="C", district="二七区", day=JAN, means={"o3": 60.0}, o3_max_1h=90.0, aqi=29),
    ]
    at = day_start(JAN)
    # O3: 1 h maximum 150 → IAQI 47; 8 h maximum (7 × 50 + 150) / 8 = 62.5 → 32. The 24 h PM2.5
    # means 60, 40 and 80 → 82, 57 and 107.
    o3 = {"o3_max_1h": 150.0, "o3_max_8h": 62.5}
    assert close_day(fleet, state, JAN, Facts(hours=hours, days=days)) == [
        area_figure("aqi_daily", CITY, at, aqi=82, pm25=60.0, **o3),
        area_figure("plan_progress", CITY, at, heavy_days=0, days=1, heavy_budget_used_pct=0.0),
        area_figure("aqi_daily", "中原区", at, aqi=107, pm25=80.0),
        area_figure(
            "plan_progress", "中原区", at, pm25_ytd_valid=True, pm25_ytd=80.0,
            good_days_valid=True, good_days=0, days=1, projected_good_days=0.0,
        ),
        area_figure("aqi_daily", "金水区", at, aqi=57, pm25=40.0, **o3),
        area_figure(
            "plan_progress", "金水区", at, pm25_ytd_valid=True, pm25_ytd=40.0,
            good_days_valid=True, good_days=1, days=1, projected_good_days=365.0,
        ),
    ]  # fmt: skip
    assert [day for by_day in state.area_o3.values() for day in by_day] == [], "no O3 hours of a closed day"
    jan2, at = JAN + timedelta(days=1), day_start(JAN + timedelta(days=1))
    heavy = [
        StationDay(station="A", district="金水区", day=jan2, means={"pm25": 151.0}, aqi=201),
        StationDay(station="B", district="中原区", day=jan2, means={"pm25": 151.0}, aqi=201),
    ]
    # PM2.5 151 → 201, a heavy day: 1 of 1.4 % of 365 days.
    used = 100 / (0.014 * 365)
    assert close_day(fleet, state, jan2, Facts(days=heavy)) == [
        area_figure("aqi_daily", CITY, at, aqi=201, pm25=151.0),
        area_figure("plan_progress", CITY, at, heavy_days=1, days=2, heavy_budget_used_pct=used),
        area_figure("aqi_daily", "中原区", at, aqi=201, pm25=151.0),
        area_figure(
            "plan_progress", "中原区", at, pm25_ytd_valid=True, pm25_ytd=115.5,
            good_days_valid=True, good_days=0, days=2, projected_good_days=0.0,
        ),
        area_figure("aqi_daily", "金水区", at, aqi=201, pm25=151.0),
        area_figure(
            "plan_progress", "金水区", at, pm25_ytd_valid=True, pm25_ytd=95.5,
            good_days_valid=True, good_days=1, days=2, projected_good_days=182.5,
        ),
    ]  # fmt: skip


@pytest.mark.parametrize(("january_days", "valid"), [(26, False), (27, True)])
def test_a_districts_year_to_date_figures_are_valid_once_each_month_gone_by_has_27_days(
    january_days: int, valid: bool
) -> None:
    fleet, state = FleetEvaluator([]), FleetState()
    for day in [*(JAN + timedelta(days=offset) for offset in range(january_days)), date(2026, 2, 1)]:
        made = close_day(
            fleet,
            state,
            day,
            Facts(days=[StationDay(station="B", district="中原区", day=day, means={"pm25": 80.0}, aqi=107)]),
        )
    (progress,) = [f for f in made if f.measurement == "plan_progress" and f.tags["area"] == "中原区"]
    assert (progress.fields["pm25_ytd_valid"], progress.fields["good_days_valid"]) == (valid, valid)


@pytest.mark.parametrize(
    ("threshold", "shown"),
    [
        (FromStation(station_attribute="warning_level"), "FromStation(station_attribute='warning_level')"),
        (ByAttribute(by="zone", values={"1": 45}), "ByAttribute(by='zone', values={'1': 45.0})"),
    ],
)
def test_a_fleet_rule_refuses_a_threshold_that_is_neither_a_number_nor_per_district(
    threshold: FromStation | ByAttribute, shown: str
) -> None:
    with pytest.raises(ValueError) as refused:
        threshold_for(threshold, "金水区")
    assert str(refused.value) == f"fleet rules take a number or a per-district table, not {shown}"


def test_a_state_kept_before_days_were_counted_by_month_judges_no_year_on_a_months_last_day(
    catalogue: Catalogue,
) -> None:
    """A FleetState stored before the months were counted holds a district's PM2.5 days without
    its months: on the last day of March, March has none of its 27 days, so the year is not judged."""
    rules = [rule for rule in catalogue.fleet_rules if rule.id == "district.pm25.ytd"]
    fleet = FleetEvaluator(rules)
    state = FleetState(year=2026, city_days=89, district_pm25={"中原区": (80.0 * 89, 89)})
    march_31 = date(2026, 3, 31)
    fact = StationDay(station="A", district="金水区", day=march_31, means={"pm10": 60.0}, aqi=55)
    fleet.update(state, FleetUpdate(facts=Facts(days=[fact]), judged_to={"clock": day_end(march_31)}))
    assert state.alerts == {}
