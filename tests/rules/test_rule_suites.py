"""A rule test suite loaded and judged without the command line (``rules.rule_tests``): the
readings its series make, the files it names found beside it, each malformed file refused with
the file and the field, and the lines a failing test is told with."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from envalert.core.config_files import ConfigError
from envalert.core.contract import CHINA_STANDARD_TIME, Flag, Kind, Reading
from envalert.core.stations import DEFAULT_STATIONS
from rules.catalogue import SHIPPED, load_catalogue
from rules.rule_tests import Suite, load_suite, run_suite

START = datetime(2026, 12, 1, tzinfo=CHINA_STANDARD_TIME)
STATIONS = [
    {
        "id": "AIR-1",
        "kind": "air",
        "name": "测试一",
        "district": "金水区",
        "instrument_ranges": {"pm10": [0, 1000]},
    },
    {"id": "AIR-2", "kind": "air", "name": "测试二", "district": "金水区"},
    {"id": "AIR-3", "kind": "air", "name": "测试三", "district": "金水区"},
    {"id": "NOI-1", "kind": "noise", "name": "测试噪声站", "district": "金水区", "zone": "2"},
]
#: A test that any judgement passes: for suites looked at for what they load.
ANY_TIME = [{"eval_time": "1m"}]


def write_suite(folder: Path, **fields: Any) -> Path:
    """A suite file of the stations above starting at START, one value a minute, with ``fields``
    added or replaced (``stations=None`` to give none)."""
    spec = {"start": START.isoformat(), "interval": "1m", "stations": STATIONS, **fields}
    path = folder / "suite.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def load(folder: Path, **fields: Any) -> Suite:
    return load_suite(write_suite(folder, **fields), DEFAULT_STATIONS)


def failures(folder: Path, **fields: Any) -> list[tuple[int, datetime, list[str]]]:
    return [(failure.index, failure.at, failure.lines) for failure in run_suite(load(folder, **fields))]


def series(station: str, metric: str, values: str, **more: str) -> dict[str, str]:
    return {"station": station, "metric": metric, "values": values, **more}


def alert(rule: str, subject: str, severity: str) -> dict[str, str]:
    return {"rule": rule, "subject": subject, "severity": severity}


def shipped_rules(*ids: str) -> list[dict[str, Any]]:
    """Rules of the shipped catalogue as a catalogue file writes them."""
    rules = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))["rules"]
    return [rule for rule in rules if rule["id"] in ids]


def write_rules(path: Path, rules: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"rules": rules}, allow_unicode=True), encoding="utf-8")
    return path


# --- what a suite loads -------------------------------------------------------------------------


def test_the_readings_are_in_time_order_then_by_station_each_value_with_its_series_flag(
    tmp_path: Path,
) -> None:
    loaded = load(
        tmp_path,
        input_series=[
            series("AIR-2", "pm25", "1 2", flag="M"),
            series("AIR-1", "pm25", "3 _ 4"),
            series("AIR-1", "pm10", "5 6", flag="N"),
        ],
        tests=ANY_TIME,
    )
    minute = timedelta(minutes=1)
    assert loaded.path == tmp_path / "suite.yaml"
    assert loaded.readings == [
        Reading(station="AIR-1", kind=Kind.AIR, ts=START, values={"pm25": 3, "pm10": 5}),
        Reading(
            station="AIR-2", kind=Kind.AIR, ts=START, values={"pm25": 1}, flags={"pm25": Flag.MAINTENANCE}
        ),
        Reading(station="AIR-1", kind=Kind.AIR, ts=START + minute, values={"pm10": 6}),
        Reading(
            station="AIR-2",
            kind=Kind.AIR,
            ts=START + minute,
            values={"pm25": 2},
            flags={"pm25": Flag.MAINTENANCE},
        ),
        Reading(station="AIR-1", kind=Kind.AIR, ts=START + 2 * minute, values={"pm25": 4}),
    ]


def test_the_judged_stations_are_those_of_the_series_even_one_without_a_value(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        input_series=[series("AIR-2", "pm25", "_ stale"), series("AIR-1", "pm25", "30")],
        tests=ANY_TIME,
    )
    assert list(loaded.stations) == ["AIR-1", "AIR-2"]


@pytest.mark.parametrize("stations_file", [None, "default"])
def test_a_suite_without_its_own_stations_judges_the_shipped_fleets(
    tmp_path: Path, stations_file: str | None
) -> None:
    loaded = load(
        tmp_path,
        stations=None,
        stations_file=stations_file,
        input_series=[series("ZZ-AIR-JS01", "pm25", "30")],
        tests=ANY_TIME,
    )
    assert {station_id: station.name for station_id, station in loaded.stations.items()} == {
        "ZZ-AIR-JS01": "金水区银行学校"
    }


@pytest.mark.parametrize("absolute", [False, True], ids=["beside the suite", "absolute"])
def test_a_stations_file_is_found_beside_the_suite_or_where_its_absolute_path_says(
    tmp_path: Path, absolute: bool
) -> None:
    stations = tmp_path / "fleet" / "stations.yaml"
    stations.parent.mkdir()
    stations.write_text(yaml.safe_dump({"stations": STATIONS[2:3]}, allow_unicode=True), encoding="utf-8")
    loaded = load(
        tmp_path,
        stations=None,
        stations_file=str(stations) if absolute else "fleet/stations.yaml",
        input_series=[series("AIR-3", "pm25", "30")],
        tests=ANY_TIME,
    )
    assert {station_id: station.name for station_id, station in loaded.stations.items()} == {
        "AIR-3": "测试三"
    }


def test_rule_files_beside_the_suite_are_merged_in_their_order(tmp_path: Path) -> None:
    copy = {**shipped_rules("dq.silent")[0], "id": "dq.silent.copy"}
    write_rules(tmp_path / "extra" / "rules.yaml", [copy])
    shipped = load_catalogue()
    loaded = load(
        tmp_path,
        rule_files=["default", "extra/rules.yaml"],
        input_series=[series("AIR-1", "pm25", "30")],
        tests=[{"eval_time": "1m", "rule": "dq.silent.copy", "exp_alerts": []}],
    )
    assert [rule.id for rule in loaded.catalogue.rules] == [rule.id for rule in shipped.rules] + [
        "dq.silent.copy"
    ]
    assert [rule.id for rule in loaded.catalogue.fleet_rules] == [rule.id for rule in shipped.fleet_rules]


def test_a_rule_file_is_found_where_its_absolute_path_says(tmp_path: Path) -> None:
    rules = write_rules(tmp_path / "elsewhere" / "rules.yaml", shipped_rules("dq.silent"))
    loaded = load(
        tmp_path,
        rule_files=[str(rules)],
        input_series=[series("AIR-1", "pm25", "30")],
        tests=ANY_TIME,
    )
    assert [rule.id for rule in loaded.catalogue.rules] == ["dq.silent"]


# --- malformed suites -----------------------------------------------------------------------------


def refusal(folder: Path, **fields: Any) -> str:
    with pytest.raises(ConfigError) as refused:
        load(folder, **fields)
    return str(refused.value)


def test_a_rule_in_two_rule_files_is_refused_naming_each_such_rule(tmp_path: Path) -> None:
    write_rules(tmp_path / "again.yaml", shipped_rules("dq.silent", "air.aqi.heavy"))
    assert (
        refusal(
            tmp_path,
            rule_files=["default", "again.yaml"],
            input_series=[series("AIR-1", "pm25", "30")],
            tests=ANY_TIME,
        )
        == f"{tmp_path / 'suite.yaml'}: rule_files: rule(s) air.aqi.heavy, dq.silent in more than one file"
    )


def test_a_rule_named_only_by_an_expected_alert_must_be_in_the_rule_files(tmp_path: Path) -> None:
    write_rules(
        tmp_path / "extra" / "rules.yaml", [{**shipped_rules("dq.silent")[0], "id": "dq.silent.copy"}]
    )
    assert refusal(
        tmp_path,
        rule_files=["default", "extra/rules.yaml"],
        input_series=[series("AIR-1", "pm25", "30")],
        tests=[*ANY_TIME, {"eval_time": "2m", "exp_alerts": [alert("dq.silent.kopy", "AIR-1", "warning")]}],
    ) == (f"{tmp_path / 'suite.yaml'}: tests[1]: no rule 'dq.silent.kopy' in default, extra/rules.yaml")


@pytest.mark.parametrize(
    ("one", "refused"),
    [
        (
            series("AIR-1", "pm99", "30"),
            "input_series[0].metric: 'pm99' is not a air metric (pm25, pm10, so2, no2, co, o3)",
        ),
        (
            series("NOI-1", "pm25", "30"),
            "input_series[0].metric: 'pm25' is not a noise metric (laeq, lmax)",
        ),
        (series("AIR-9", "pm25", "30"), "input_series[0].station: 'AIR-9' is not in the stations"),
        (
            series("AIR-1", "pm25", "30 high"),
            "input_series[0].values: 'high' is not a value: write a number, a+bxN, axN, _ or stale",
        ),
    ],
    ids=["air metric", "noise metric", "station", "values"],
)
def test_a_series_that_cannot_be_read_is_refused_naming_the_file_and_the_field(
    tmp_path: Path, one: dict[str, str], refused: str
) -> None:
    assert refusal(tmp_path, input_series=[one], tests=ANY_TIME) == f"{tmp_path / 'suite.yaml'}: {refused}"


# --- judging ------------------------------------------------------------------------------------


def test_the_tests_are_judged_in_time_order_and_their_failures_told_in_the_files_order(
    tmp_path: Path,
) -> None:
    # AIR-1 is heard from at 00:00 only, AIR-2 until 00:20: at 02:10 AIR-1 has been silent two
    # hours and more (critical), AIR-2 less (warning). The tests are listed out of time order: the
    # one judge only moves forward, so 00:29 and 00:30 must be judged before 02:10.
    silent = [alert("dq.silent", "AIR-2", "warning"), alert("dq.silent", "AIR-1", "critical")]
    got = failures(
        tmp_path,
        input_series=[series("AIR-1", "pm25", "30"), series("AIR-2", "pm25", "30+1x20")],
        tests=[
            {"eval_time": "130m", "rule": "dq.silent", "exp_alerts": []},
            {"eval_time": "29m", "rule": "dq.silent", "exp_alerts": []},
            {"eval_time": "130m", "rule": "dq.silent", "exp_alerts": silent},
            {"eval_time": "30m", "rule": "dq.silent", "exp_alerts": silent},
        ],
    )
    assert got == [
        (
            0,
            START + timedelta(minutes=130),
            ["alerts expected: []", "alerts got:      [dq.silent AIR-1 critical, dq.silent AIR-2 warning]"],
        ),
        (
            3,
            START + timedelta(minutes=30),
            [
                "alerts expected: [dq.silent AIR-1 critical, dq.silent AIR-2 warning]",
                "alerts got:      [dq.silent AIR-1 warning]",
            ],
        ),
    ]


# --- expected figures -----------------------------------------------------------------------------

H0, H1 = START.isoformat(), (START + timedelta(hours=1)).isoformat()
#: Two hours of AIR-1 (PM2.5 75 and PM10 150 are both IAQI 100, then PM2.5 80 alone is 107) and of
#: AIR-2 at nothing at all, judged at 02:00.
TWO_HOURS = [
    series("AIR-1", "pm25", "75x59 80x59"),
    series("AIR-1", "pm10", "150x59 60x59"),
    series("AIR-2", "pm25", "0x119"),
]


def figure(subject: str, measurement: str = "aqi_hourly", **fields: Any) -> dict[str, Any]:
    return {"measurement": measurement, "subject": subject, **fields}


def figure_lines(folder: Path, *expected: dict[str, Any]) -> list[str]:
    """The lines the figures expected at 02:00 fail with (no alerts expected: not compared)."""
    got = failures(folder, input_series=TWO_HOURS, tests=[{"eval_time": "2h", "exp_figures": list(expected)}])
    return [line for _, _, lines in got for line in lines]


@pytest.mark.parametrize(
    ("expected", "lines"),
    [
        (
            [figure("AIR-1", hour=H0, aqi=100, pm25=75, pm10=150, primary=["pm10", "pm25"], valid=True)],
            [],
        ),
        ([figure("AIR-1", at=H0, aqi=100)], []),
        ([figure("AIR-1", aqi=107, primary=["pm25"])], []),
        ([figure("金水区", hour=H1, aqi=57, pm25=40)], []),
        (
            [figure("AIR-1", hour=H1, aqi=100, pm25=80, primary=[])],
            [
                "figure aqi_hourly AIR-1 at 2026-12-01T01:00:00+08:00: expected {'aqi': 100, 'primary': []}, "
                "got aqi: 107, primary: ['pm25']"
            ],
        ),
        ([figure("AIR-1", aqi=100)], ["figure aqi_hourly AIR-1: expected {'aqi': 100}, got aqi: 107"]),
        (
            [figure("AIR-1", at=H0, valid=False, lacking="pm25")],
            [
                "figure aqi_hourly AIR-1 at 2026-12-01T00:00:00+08:00: "
                "expected {'valid': False, 'lacking': 'pm25'}, got valid: True, lacking: None"
            ],
        ),
        (
            [figure("AIR-1", hour=H0, aqi="100")],
            ["figure aqi_hourly AIR-1 at 2026-12-01T00:00:00+08:00: expected {'aqi': '100'}, got aqi: 100"],
        ),
        (
            [figure("AIR-1", hour=(START + timedelta(hours=5)).isoformat())],
            ["figure expected: aqi_hourly AIR-1 at 2026-12-01T05:00:00+08:00, got none"],
        ),
        (
            [figure("AIR-1", "aqi_daily"), figure("AIR-2", hour=H0, aqi=1)],
            [
                "figure expected: aqi_daily AIR-1, got none",
                "figure aqi_hourly AIR-2 at 2026-12-01T00:00:00+08:00: expected {'aqi': 1}, got aqi: 0",
            ],
        ),
    ],
    ids=[
        "by its hour",
        "by its start",
        "the latest",
        "a district's",
        "differing at its hour",
        "the latest differing",
        "fields it lacks",
        "a number written as text",
        "none at that hour",
        "none of that measurement, then one differing",
    ],
)
def test_an_expected_figure_is_found_by_measurement_subject_and_time_and_told_field_by_field(
    tmp_path: Path, expected: list[dict[str, Any]], lines: list[str]
) -> None:
    assert figure_lines(tmp_path, *expected) == lines


@pytest.mark.parametrize(
    ("subject", "pm25", "same"),
    [
        ("AIR-1", 75.00000007, True),
        ("AIR-1", 74.99999993, True),
        ("AIR-1", 75.00000008, False),
        ("AIR-1", 74.99999992, False),
        ("AIR-2", 0.0000000009, True),
        ("AIR-2", -0.0000000009, True),
        ("AIR-2", 0.0000000011, False),
        ("AIR-2", -0.0000000011, False),
    ],
)
def test_a_figures_number_is_the_same_to_nine_significant_digits_or_to_a_billionth_near_zero(
    tmp_path: Path, subject: str, pm25: float, same: bool
) -> None:
    got = {"AIR-1": 75.0, "AIR-2": 0.0}[subject]
    differs = f"figure aqi_hourly {subject} at {H0}: expected {{'pm25': {pm25!r}}}, got pm25: {got!r}"
    assert figure_lines(tmp_path, figure(subject, hour=H0, pm25=pm25)) == ([] if same else [differs])


def test_a_noise_nights_figure_is_found_by_its_station(tmp_path: Path) -> None:
    night = START + timedelta(hours=22)
    expected = figure(
        "NOI-1", "noise_night", at=night.isoformat(), leq=45, limit=50, compliant=True, valid=True
    )
    assert (
        failures(
            tmp_path,
            start=night.isoformat(),
            interval="10m",
            input_series=[series("NOI-1", "laeq", "45x47")],
            tests=[{"eval_time": "8h", "exp_figures": [expected]}],
        )
        == []
    )
