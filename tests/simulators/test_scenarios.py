"""Scenarios: each shipped one, laid over the fleet's baseline and judged by the shipped rules,
fires exactly the rules it promises."""

from __future__ import annotations

from pathlib import Path

import pytest

from envalert.core.config_files import ConfigError
from envalert.core.contract import CHINA_STANDARD_TIME
from envalert.core.stations import DEFAULT_STATIONS, load_stations
from rules.catalogue import load_catalogue
from rules.offline import judge_offline
from simulators.scenarios import load_scenario, shipped

STATIONS = load_stations(DEFAULT_STATIONS)


def test_every_kind_of_episode_the_issue_names_is_shipped() -> None:
    assert shipped() == [
        "demo",
        "groundwater-overpumping",
        "heavy-pollution",
        "night-construction",
        "o3-episode",
        "scr-catalyst-failure",
        "sensor-faults",
        "station-silent",
        "vocs-leak",
    ]


@pytest.mark.parametrize("name", shipped())
def test_a_scenario_fires_exactly_the_rules_it_expects(name: str) -> None:
    scenario = load_scenario(name)
    readings = scenario.readings(STATIONS)
    judged = judge_offline(load_catalogue(), STATIONS, readings, scenario.start + scenario.duration)
    fired = {t.rule for t in judged.transitions if t.state == "firing"}
    assert fired == set(scenario.expects)


def test_a_scenario_gives_the_same_readings_every_time() -> None:
    scenario = load_scenario("sensor-faults")
    first = scenario.readings(STATIONS)
    assert first == scenario.readings(STATIONS)
    silent = [r for r in first if r.station == "ZZ-NOI-ZY01"]
    assert len(silent) == 144 - 2, "twenty minutes without its readings, at a ten-minute step"

    def pm25_at(hour: int) -> set[float]:
        return {
            r.values["pm25"]
            for r in first
            if r.station == "ZZ-AIR-ZM01" and r.ts.astimezone(CHINA_STANDARD_TIME).hour == hour
        }

    assert len(pm25_at(7)) == 1 and len(pm25_at(10)) == 6, "06:00–09:00 the analyser repeats itself"


def test_a_bad_scenario_file_names_the_field_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(
        "name: broken\ntitle: {zh: 坏, en: bad}\nstart: 2026-10-20T00:00:00+08:00\nduration: 1d\n"
        "expects: [dq.silent]\nepisodes:\n"
        "  - {effect: melt, stations: [A], after: 1h, for: 1h}\n"
        "  - {effect: silence, after: 1h, for: 1h}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as refused:
        load_scenario(str(path))
    message = str(refused.value)
    assert f"{path}: 2 invalid field(s)" in message
    assert (
        "episodes[0]: Input tag 'melt' found using 'effect' does not match any of the expected tags"
        in message
    )
    assert (
        "episodes[1].silence: Value error, say which stations: give stations, kinds or districts" in message
    )
