"""The fleet's state in table rows: small rows for a large city, and no fact lost to a torn write."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from rules.derived import Facts, StationHour
from rules.figures import Figure
from rules.fleet import FleetEvaluator, FleetUpdate, hand_over, shards_for
from streams.fleet_rows import CITY_KEY, FleetRows
from tests.rules.conftest import T0

HOUR = timedelta(hours=1)
SOURCE = "partition-0"
#: Kafka's default limit on a record, which the single row of old passed.
RECORD_LIMIT = 1_000_000


class Event:
    """What ``save`` needs of the event in hand: something to point the changelog at."""


class LoggedTable(dict[bytes, str]):
    """A table that remembers the order of its writes, as its changelog would."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[bytes, str]] = []

    def __setitem__(self, key: bytes, row: str) -> None:
        self.writes.append((key, row))
        super().__setitem__(key, row)

    def recovered(self, writes: int) -> dict[bytes, str]:
        """The table rebuilt from the first ``writes`` records of its changelog."""
        return dict(self.writes[:writes])


def hours(stations: range, at: datetime, pm25: float = 60.0) -> Facts:
    return Facts(
        hours=[
            StationHour(
                station=f"ZZ-AIR-{n:06d}",
                district="郑州经开区",
                hour=at,
                means={"pm25": pm25, "pm10": 90.0, "so2": 8.0, "no2": 30.0, "co": 0.7, "o3": 80.0},
                aqi=82,
                primary=["pm25"],
            )
            for n in stations
        ]
    )


class Fleet:
    """The stream's fleet agent without Kafka: an evaluator, and its state in ``table``'s rows."""

    def __init__(self, table: dict[bytes, str], stations: int) -> None:
        self.rows = FleetRows(cast(Any, table))
        self.evaluator = FleetEvaluator([], [SOURCE], shards_for(stations))

    def batch(self, facts: Facts, judged_to: datetime) -> list[Figure]:
        state = self.rows.take()
        self.evaluator.update(state, FleetUpdate(facts=facts, judged_to={SOURCE: judged_to}))
        made = hand_over(state)
        changed = {self.evaluator.shard_of(station) for station in facts.stations()}
        self.rows.save(state, changed, cast(Any, Event()))
        return made


def city_hour(figures: list[Figure]) -> list[object]:
    return [f.fields for f in figures if f.measurement == "aqi_hourly" and f.tags["scope"] == "city"]


def test_the_hours_of_30000_stations_fit_rows_far_below_kafkas_record_limit() -> None:
    table = LoggedTable()
    Fleet(table, 30_000).batch(hours(range(30_000), T0), T0 + HOUR / 2)
    sizes = [len(row.encode()) for _, row in table.writes]
    as_one_row = FleetRows(cast(Any, table)).take().model_dump_json()
    assert len(as_one_row.encode()) > 5 * RECORD_LIMIT, "as one row, the state would not fit"
    assert max(sizes) < RECORD_LIMIT / 5, f"largest row {max(sizes):,} bytes"
    assert len(table[CITY_KEY]) < 1000, "the city row holds no station's facts"


def test_a_crash_between_a_batchs_rows_loses_no_fact_of_the_hour_it_closed() -> None:
    table = LoggedTable()
    fleet = Fleet(table, 1000)
    fleet.batch(hours(range(0, 500), T0, pm25=40.0), T0 + HOUR / 2)
    written_before = len(table.writes)
    # The batch that closes T0's hour also brings facts of the next hour, for every shard.
    closing = hours(range(500, 1000), T0 + HOUR, pm25=90.0)
    whole_run = fleet.batch(closing, T0 + HOUR + HOUR / 4)
    assert city_hour(whole_run), "this batch closes the hour"
    city_row_last = table.writes[-1][0] == CITY_KEY
    assert city_row_last and len(table.writes) - written_before > 2

    # The worker dies with the shards of that batch written and its city row not: the batch is
    # replayed over the rows recovered from the changelog.
    torn = Fleet(table.recovered(len(table.writes) - 1), 1000)
    replayed = torn.batch(closing, T0 + HOUR + HOUR / 4)
    assert city_hour(replayed) == city_hour(whole_run)


def test_a_closed_hour_leaves_the_rows_one_batch_later_and_the_parsed_state_is_kept() -> None:
    table = LoggedTable()
    fleet = Fleet(table, 1000)
    fleet.batch(hours(range(0, 50), T0), T0 + HOUR / 2)
    fleet.batch(hours(range(0, 50), T0 + HOUR), T0 + HOUR + HOUR / 4)  # closes T0's hour

    def hours_stored() -> set[datetime]:
        state = FleetRows(cast(Any, dict(table))).take()
        return {hour for shard in state.shards.values() for hour in shard.hours}

    assert hours_stored() == {T0 + HOUR}, "read back, the closed hour is pruned"
    assert any(T0.isoformat() in row for key, row in table.items() if key != CITY_KEY), "still stored"
    kept = fleet.rows.take()
    assert fleet.rows.take() is not kept, "handed out once: a failed batch parses the rows again"
    fleet.batch(hours(range(0, 50), T0 + 2 * HOUR), T0 + 2 * HOUR + HOUR / 4)
    assert not any(T0.isoformat() in row for key, row in table.items() if key != CITY_KEY)
