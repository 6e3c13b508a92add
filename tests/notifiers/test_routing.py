"""Default routing: each family of alerts reaches exactly the units the plan makes responsible."""

from __future__ import annotations

from pathlib import Path

import pytest

from envalert.core.config_files import ConfigError
from notifiers.directory import Directory
from notifiers.routing import Match, Routing, load_routing
from rules.events import CITY_BUREAU, WATER_BUREAU, AlertEvent, responsible_units
from rules.fleet import CITY
from rules.model import Role, Severity
from tests.notifiers.conftest import STATIONS, event

CRITICAL, WARNING = Severity.CRITICAL, Severity.WARNING


@pytest.mark.parametrize(
    ("rule", "subject", "severity", "units"),
    [
        ("air.pm25.24h", "ZZ-AIR-JS01", CRITICAL, ["金水区"]),
        ("air.aqi.heavy", "ZZ-AIR-XZ01", WARNING, ["新郑市"]),
        ("noise.night.leq", "ZZ-NOI-GC01", WARNING, ["管城回族区"]),
        ("noise.night.sudden", "ZZ-NOI-JS01", CRITICAL, ["金水区"]),
        ("ammonia.slip.1h", "ZZ-NH3-XY01", WARNING, ["荥阳电厂", "市生态环境局荥阳市分局"]),
        (
            "ammonia.slip.1h",
            "ZZ-NH3-GY01",
            CRITICAL,
            ["巩义水泥厂", "市生态环境局巩义市分局", "市生态环境局"],
        ),
        ("vocs.nmhc.1h", "ZZ-VOC-SJ01", WARNING, ["上街区装备产业集聚区管委会", "市生态环境局上街区分局"]),
        (
            "vocs.nmhc.single",
            "ZZ-VOC-SJ01",
            CRITICAL,
            ["上街区装备产业集聚区管委会", "市生态环境局上街区分局", "市生态环境局"],
        ),
        ("groundwater.level.low", "ZZ-GW-JWT01", WARNING, ["市水利局", "惠济区"]),
        ("dq.silent", "ZZ-AIR-ZD01", CRITICAL, ["河南省郑州生态环境监测中心"]),
        ("dq.stuck.vocs", "ZZ-VOC-SJ01", WARNING, ["上街区装备产业集聚区管委会"]),
        ("dq.out-of-range", "ZZ-GW-JWT01", WARNING, ["市水利局"]),
        ("city.heavy-days.budget", CITY, WARNING, ["市生态环境局"]),
        ("district.pm25.ytd", "金水区", WARNING, ["金水区", "市生态环境局"]),
    ],
)
def test_default_routes(
    rule: str, subject: str, severity: Severity, units: list[str], routing: Routing
) -> None:
    alert = event(rule, subject, severity=severity)
    assert routing.units_for(alert, STATIONS.get(subject)) == units


def test_every_unit_an_alert_can_name_is_in_the_shipped_directory(directory: Directory) -> None:
    """Every unit an alert of a shipped station can name (each role of the plan) is in the
    shipped directory, and a directory that lacks one of them is refused at start, naming it."""
    named = {CITY_BUREAU, WATER_BUREAU}.union(
        *(responsible_units(list(Role), station.district, station) for station in STATIONS.values())
    )
    assert [name for name in sorted(named) if directory.find(name) is None] == []
    directory.check_covers(STATIONS)
    operator = next(station.operator for station in STATIONS.values() if station.operator)
    lacking = Directory([unit for unit in directory.units() if unit.name != operator], directory.source)
    with pytest.raises(ConfigError, match=f"lacks: {operator}; fix: add a unit"):
        lacking.check_covers(STATIONS)


def test_a_route_naming_units_of_the_directory_by_name_or_id_passes_the_check(
    tmp_path: Path, directory: Directory
) -> None:
    unit = directory.units()[0]
    path = tmp_path / "routing.yaml"
    path.write_text(f"routes:\n  - match: {{}}\n    units: [{unit.name}, {unit.id}]\n", encoding="utf-8")
    load_routing(path).check_against(directory, path)


def test_a_route_naming_a_unit_the_directory_lacks_fails_at_start(
    tmp_path: Path, directory: Directory
) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text(
        "routes:\n  - match: {severity: [critical]}\n    units: [市应急管理局]\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError) as refused:
        load_routing(path).check_against(directory, path)
    assert str(refused.value) == (
        f"{path}: routes[0].units: '市应急管理局' is not a unit of {directory.source}; "
        "fix: use a unit name from the directory, or add the unit there"
    )


def test_a_bad_routing_file_names_the_field_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text(
        "timings: {group_wait: soon}\nroutes:\n  - match: {severity: [urgent]}\n    notify: [mayor]\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as refused:
        load_routing(path)
    message = str(refused.value)
    assert "timings.group_wait: Value error, 'soon' is not a duration" in message
    assert "routes[0].match.severity[0]" in message and "routes[0].notify[0]" in message
    assert "use one of the values listed" in message


PLANT_SLIP = event("ammonia.slip.1h", "ZZ-NH3-XY01")
NIGHT_NOISE = event("noise.night.leq", "ZZ-NOI-JS01", value=58, threshold=45)


@pytest.mark.parametrize(
    ("match", "alert", "matches"),
    [
        ({}, PLANT_SLIP, True),
        ({"rule": ["ammonia.*"]}, PLANT_SLIP, True),
        ({"rule": ["air.*", "vocs.*"]}, PLANT_SLIP, False),
        ({"severity": ["warning"]}, PLANT_SLIP, True),
        ({"severity": ["critical"]}, PLANT_SLIP, False),
        ({"subject_kind": ["station"]}, PLANT_SLIP, True),
        ({"subject_kind": ["district", "city"]}, PLANT_SLIP, False),
        ({"district": ["荥阳市"]}, PLANT_SLIP, True),
        ({"district": ["金水区"]}, PLANT_SLIP, False),
        ({"kind": ["ammonia"]}, PLANT_SLIP, True),
        ({"kind": ["air"]}, PLANT_SLIP, False),
        ({"unit_type": ["SCR"]}, PLANT_SLIP, True),
        ({"unit_type": ["SNCR"]}, PLANT_SLIP, False),
        ({"zone": ["1"]}, NIGHT_NOISE, True),
        ({"zone": ["2", "3"]}, NIGHT_NOISE, False),
        ({"zone": ["1"]}, PLANT_SLIP, False),
        ({"rule": ["ammonia.*"], "severity": ["critical"]}, PLANT_SLIP, False),
    ],
)
def test_a_route_matches_when_every_condition_it_gives_holds(
    match: dict[str, list[str]], alert: AlertEvent, matches: bool
) -> None:
    assert Match.model_validate(match).matches(alert, STATIONS[alert.subject]) is matches


def test_a_route_names_units_by_the_alerts_district_and_station(tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text(
        "routes:\n  - match: {kind: [air]}\n    notify: [district_branch, operator]\n", encoding="utf-8"
    )
    alert, station = event("air.pm25.24h", "ZZ-AIR-JS01"), STATIONS["ZZ-AIR-JS01"]
    assert station.operator and station.operator not in alert.units
    assert load_routing(path).units_for(alert, station) == [
        *alert.units,
        "市生态环境局金水区分局",
        station.operator,
    ]
