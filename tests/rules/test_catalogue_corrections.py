"""The shipped catalogue checked against the plan's text and the standards it cites."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pydantic import ValidationError

from envalert.core.contract import Kind
from envalert.core.stations import NoiseZone
from rules.derived import Facts, StationNight
from rules.evaluator import resolve, thresholds_for
from rules.fleet import CITY, FleetEvaluator, FleetState, FleetUpdate
from rules.model import Catalogue, FromStandard, FromStation, Severity
from rules.standards.noise import night_end
from tests.rules.conftest import T0, Run, every, reading, station

#: The plan's 市区: the districts and development zones of 附件1 that are not counties or county-level cities.
URBAN = {
    "郑州航空港区",
    "上街区",
    "惠济区",
    "金水区",
    "郑州高新区",
    "中原区",
    "二七区",
    "管城回族区",
    "郑州经开区",
    "郑东新区",
}
STANDARD_RULES = [
    "air.aqi.heavy", "air.pm25.24h", "air.o3.8h", "noise.night.leq", "noise.night.sudden",
    "ammonia.slip.1h", "ammonia.slip.cement.1h", "vocs.nmhc.1h", "vocs.nmhc.single",
]  # fmt: skip


@pytest.mark.parametrize("rule_id", STANDARD_RULES)
def test_a_number_a_standard_defines_comes_from_rules_standards(catalogue: Catalogue, rule_id: str) -> None:
    (rule,) = [rule for rule in catalogue.rules if rule.id == rule_id]
    for threshold in (rule.condition.warning, rule.condition.critical):
        assert threshold is None or isinstance(threshold, FromStandard | FromStation), (rule_id, threshold)


def test_the_air_thresholds_are_the_standards_numbers(catalogue: Catalogue) -> None:
    air = station(Kind.AIR)
    found = {rule.id: thresholds_for(rule, air) for rule in catalogue.rules if rule.id.startswith("air.")}
    assert found == {
        "air.aqi.heavy": {Severity.WARNING: 201, Severity.CRITICAL: 301},  # HJ 633-2012 重度, 严重
        "air.pm25.24h": {Severity.WARNING: 75, Severity.CRITICAL: 150},  # GB 3095-2012; IAQI 200
        "air.o3.8h": {Severity.WARNING: 160, Severity.CRITICAL: 265},
    }


def test_heavy_pollution_is_cited_to_the_plans_goal_where_it_stands(catalogue: Catalogue) -> None:
    (rule,) = [rule for rule in catalogue.rules if rule.id == "air.aqi.heavy"]
    assert "二(三) 基本消除重污染天气" in rule.source and "六(五) 基本消除" not in rule.source


def test_a_cement_kiln_is_judged_by_the_cement_standard(catalogue: Catalogue) -> None:
    (power_rule,) = [rule for rule in catalogue.rules if rule.id == "ammonia.slip.1h"]
    (rule,) = [rule for rule in catalogue.rules if rule.id == "ammonia.slip.cement.1h"]
    kiln = station(Kind.AMMONIA, unit_type="SNCR", sector="cement", special_limits=True)
    assert thresholds_for(rule, kiln) == {Severity.WARNING: 8, Severity.CRITICAL: 16}
    ordinary = station(Kind.AMMONIA, unit_type="SNCR", sector="cement")
    assert thresholds_for(rule, ordinary) == {Severity.WARNING: 10, Severity.CRITICAL: 20}
    power = station(Kind.AMMONIA, unit_type="SCR")
    assert thresholds_for(power_rule, power) == {Severity.WARNING: 2.5, Severity.CRITICAL: 5}
    assert "GB 4915-2013" in rule.source and "GB 4915" not in power_rule.source
    assert not rule.applies_to.matches(power) and not power_rule.applies_to.matches(kiln)


def test_a_cement_kiln_exactly_at_its_limit_complies(catalogue: Catalogue) -> None:
    """GB 4915-2013's limits are maxima (≤ 10); the power plants' specifications ask for less than
    the value, so there the value itself breaks it."""
    kiln = station(Kind.AMMONIA, unit_type="SNCR", sector="cement")
    at_limit = Run(catalogue, "ammonia.slip.cement.1h", kiln)
    at_limit.feed(reading(Kind.AMMONIA, at, nh3=10) for at in every(T0, timedelta(minutes=1), 61))
    assert at_limit.story() == []
    power = station(Kind.AMMONIA, unit_type="SCR")
    at_power_limit = Run(catalogue, "ammonia.slip.1h", power)
    at_power_limit.feed(reading(Kind.AMMONIA, at, nh3=2.5) for at in every(T0, timedelta(minutes=1), 61))
    assert at_power_limit.story() == [("firing", "warning")]


def test_the_4b_night_limit_applies_to_new_railway_lines_only() -> None:
    night = FromStandard(standard="gb3096_night")
    assert resolve(night, station(Kind.NOISE, zone=NoiseZone.Z4B, railway="new")) == 60
    assert resolve(night, station(Kind.NOISE, zone=NoiseZone.Z4B, railway="existing")) == 55
    with pytest.raises(ValidationError, match="railway"):
        station(Kind.NOISE, zone=NoiseZone.Z4B)


def test_night_compliance_counts_the_urban_functional_zones_only(catalogue: Catalogue) -> None:
    (rule,) = [rule for rule in catalogue.fleet_rules if rule.id == "city.noise.night-compliance"]
    assert set(rule.applies_to.districts or []) == URBAN
    fleet = FleetEvaluator([rule], ["U", "C"])
    nights = [
        StationNight(station="U", district="金水区", night=date(2026, 7, 1), leq=49, limit=50),
        StationNight(station="C", district="登封市", night=date(2026, 7, 1), leq=70, limit=50),
    ]
    done = night_end(date(2026, 7, 1)) + timedelta(minutes=1)
    fleet.update(
        state := FleetState(), FleetUpdate(facts=Facts(nights=nights), judged_to={"U": done, "C": done})
    )
    (figure,) = [f for f in state.figures if f.measurement == "noise_compliance"]
    assert (figure.fields["compliant"], figure.fields["assessed"]) == (1, 1), "登封市 is not 市区"
    assert CITY == "郑州市"
