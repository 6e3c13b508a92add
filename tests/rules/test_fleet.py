"""The fleet's clock, duplicates and late facts, and the figures it makes."""

from __future__ import annotations

from datetime import datetime, timedelta

from rules.derived import Facts, StationHour
from rules.fleet import CITY, FleetEvaluator, FleetState, FleetUpdate, hand_over
from tests.rules.conftest import T0

HOUR = timedelta(hours=1)


def hour_of(station: str, district: str, pm25: float, at: datetime = T0) -> StationHour:
    return StationHour(station=station, district=district, hour=at, means={"pm25": pm25}, aqi=0, primary=[])


def update(*hours: StationHour, **judged_to: datetime) -> FleetUpdate:
    return FleetUpdate(facts=Facts(hours=list(hours)), judged_to=judged_to)


def city_hours(figures: list[object]) -> list[tuple[datetime, object]]:
    return [
        (f.at, f.fields["aqi"])  # type: ignore[attr-defined]
        for f in figures
        if f.measurement == "aqi_hourly" and f.tags["scope"] == "city"  # type: ignore[attr-defined]
    ]


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
