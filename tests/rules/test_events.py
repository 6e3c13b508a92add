"""AlertEvent: responsible units, units of measure and messages in Chinese and English."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from envalert.core.contract import Kind
from envalert.core.stations import Station
from rules.catalogue import all_rules, load_catalogue
from rules.evaluator import Transition
from rules.events import alert_event, reading_against_threshold, responsible_units, value_unit
from rules.fleet import CITY
from rules.model import Catalogue, Role, Severity
from rules.offline import judge_offline
from tests.rules.conftest import T0, Run, every, reading, station
from tests.streams.fleets import a_day_is_a_year, a_day_of, fleet_of


def test_an_ammonia_slip_alert_names_the_enterprise_and_the_district_branch(catalogue: Catalogue) -> None:
    scr = station(Kind.AMMONIA, unit_type="SCR", operator="荥阳电厂", name="1号机组SCR出口")
    run = Run(catalogue, "ammonia.slip.1h", scr)
    run.feed(reading(Kind.AMMONIA, at, nh3=3.2) for at in every(T0, timedelta(minutes=15), 4))
    run.tick(T0 + timedelta(hours=1))
    (transition,) = run.transitions
    event = alert_event(transition, all_rules(catalogue)["ammonia.slip.1h"], scr)
    assert event.fingerprint == "ammonia.slip.1h/S-ammonia" and event.subject_kind == "station"
    assert event.units == ["荥阳电厂", "市生态环境局金水区分局"]
    assert (event.state, event.severity, event.value, event.threshold, event.unit) == (
        "firing",
        Severity.WARNING,
        3.2,
        2.5,
        "mg/m³",
    )
    assert event.message_zh.startswith("【告警·预警】1号机组SCR出口（金水区） 氨逃逸小时均值超标：")
    assert "3.2 mg/m³，阈值 2.5 mg/m³，自 07-01 01:00 起。依据：HJ 562-2010" in event.message_zh
    assert event.message_en.startswith(
        "[firing warning] 1号机组SCR出口 (金水区, S-ammonia) Hourly ammonia slip"
    )
    assert event.key == f"ammonia.slip.1h/S-ammonia/firing/warning/{transition.at.isoformat()}"


def test_units_by_role_without_doubles() -> None:
    well = station(Kind.GROUNDWATER)
    roles = [Role.WATER_BUREAU, Role.DISTRICT, Role.CITY_BUREAU, Role.DISTRICT, Role.OPERATOR]
    assert responsible_units(roles, "惠济区", well) == ["市水利局", "惠济区", "市生态环境局"]
    assert responsible_units([Role.DISTRICT, Role.CITY_BUREAU], None, None) == ["市生态环境局"]


def test_units_of_measure_for_every_shipped_rule(catalogue: Catalogue) -> None:
    units = {rule_id: value_unit(rule) for rule_id, rule in all_rules(catalogue).items()}
    assert units["air.pm25.24h"] == "µg/m³" and units["air.aqi.heavy"] == ""
    assert units["noise.night.leq"] == "dB(A)" and units["groundwater.level.falling"] == "m/day"
    assert units["dq.silent"] == "min" and units["city.heavy-days.budget"] == "%"
    assert units["district.good-days.projected"] == "days" and units["vocs.nmhc.single"] == "mg/m³"


def firing(rule: str, subject: str, value: float, threshold: float, window: tuple[str, str]) -> Transition:
    """A warning that fired at T0."""
    return Transition(
        state="firing",
        severity=Severity.WARNING,
        value=value,
        threshold=threshold,
        window=window[0],
        window_zh=window[1],
        at=T0,
        started_at=T0,
        rule=rule,
        subject=subject,
    )


def test_a_city_alert(catalogue: Catalogue) -> None:
    transition = firing("city.heavy-days.budget", CITY, 78.28, 60, ("heavy days 4", "重污染4天"))
    event = alert_event(transition, all_rules(catalogue)["city.heavy-days.budget"], None)
    assert (event.subject_kind, event.district, event.units) == ("city", None, ["市生态环境局"])
    assert "郑州市 重污染天数占用全年额度：重污染4天 78.28 %，阈值 60 %" in event.message_zh


def test_every_window_has_its_chinese_wording(tmp_path: Path) -> None:
    """A day of a 20-station fleet (every kind, every family firing): the zh text never falls
    back to the English description of the window."""
    fleet = fleet_of(20)
    readings = a_day_of(fleet, T0)
    stations = {sid: Station(id=sid, **attrs) for sid, attrs in fleet.items()}  # type: ignore[arg-type]
    catalogue = load_catalogue(a_day_is_a_year(tmp_path))
    judged = judge_offline(catalogue, stations, readings, readings[-1].ts - timedelta(minutes=1))
    assert len({t.rule for t in judged.transitions}) >= 12
    for transition in judged.transitions:
        assert re.search(r"[\u4e00-\u9fff]", transition.window_zh), transition


def test_units_that_are_words_are_in_chinese_in_the_chinese_text(catalogue: Catalogue) -> None:
    window = ("consecutive identical nmhc readings", "nmhc连续相同读数")
    transition = firing("dq.stuck.vocs", "VOC-1", 12, 12, window)
    vocs = station(Kind.VOCS, operator="管委会")
    event = alert_event(transition, all_rules(catalogue)["dq.stuck.vocs"], vocs)
    assert "nmhc连续相同读数 12 个读数，阈值 12 个读数" in event.message_zh
    assert "12 readings, threshold 12 readings" in event.message_en


def test_a_reading_against_its_threshold_in_each_language(catalogue: Catalogue) -> None:
    window = ("consecutive identical nmhc readings", "nmhc连续相同读数")
    event = alert_event(
        firing("dq.stuck.vocs", "VOC-1", 12345.6, 12, window),
        all_rules(catalogue)["dq.stuck.vocs"],
        station(Kind.VOCS, operator="管委会"),
    )
    assert reading_against_threshold(event, "zh") == "12346 / 12 个读数"
    assert reading_against_threshold(event, "en") == "12346 / 12 readings"


def test_a_pending_alert_that_ends_before_it_fires_has_no_severity_in_its_key(catalogue: Catalogue) -> None:
    air = station(Kind.AIR)
    cancelled = Transition(
        state="resolved",
        severity=None,
        value=180,
        threshold=201,
        window="AQI of hour 2026-07-01 01:00–02:00",
        window_zh="2026-07-01 01:00–02:00时段 小时AQI",
        at=T0 + timedelta(hours=2),
        started_at=T0 + timedelta(hours=1),
        rule="air.aqi.heavy",
        subject=air.id,
    )
    event = alert_event(cancelled, all_rules(catalogue)["air.aqi.heavy"], air)
    assert event.key == "air.aqi.heavy/S-air/resolved/none/2026-07-01T02:00:00+08:00"
    assert event.severity is None
