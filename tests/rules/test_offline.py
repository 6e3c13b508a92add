"""The stream's judgement in one process: judging in steps gives what judging at once gives."""

from __future__ import annotations

from datetime import timedelta

from envalert.core.contract import Kind, Reading
from envalert.core.stations import Station
from rules.catalogue import load_catalogue
from rules.offline import OfflineJudge, judge_offline
from tests.rules.conftest import T0, every, station

STATIONS = {
    "A-1": station(Kind.AIR, id="A-1", district="金水区"),
    "A-2": station(Kind.AIR, id="A-2", district="中原区"),
    "V-1": station(Kind.VOCS, id="V-1"),
}
DAYS = 2


def readings_of(at: Station, pm25: float) -> list[Reading]:
    return [
        Reading(station=at.id, kind=Kind.AIR, ts=ts, values={"pm25": pm25, "pm10": 2 * pm25})
        for ts in every(T0, timedelta(minutes=10), DAYS * 24 * 6)
    ]


def test_judging_in_steps_gives_what_judging_at_once_gives() -> None:
    catalogue = load_catalogue()
    readings = sorted(
        [*readings_of(STATIONS["A-1"], 80), *readings_of(STATIONS["A-2"], 160)], key=lambda one: one.ts
    )
    end = T0 + timedelta(days=DAYS, hours=1)
    at_once = judge_offline(catalogue, STATIONS, readings, end)
    judge = OfflineJudge(catalogue, STATIONS)
    middle = T0 + timedelta(days=1, hours=3)
    judge.judge([one for one in readings if one.ts <= middle], middle)
    in_steps = judge.judge([one for one in readings if one.ts > middle], end)
    # The same transitions and figures; each step hands on its own in the order it met them.
    assert sorted(map(repr, in_steps.transitions)) == sorted(map(repr, at_once.transitions))
    assert sorted(map(repr, in_steps.figures)) == sorted(map(repr, at_once.figures))
    assert {figure.measurement for figure in at_once.figures} >= {"aqi_hourly", "aqi_daily"}
    assert {transition.rule for transition in at_once.transitions} >= {"air.aqi.heavy", "dq.silent"}
