"""What a rule's threshold means for one station: a number, a value per attribute, a standard."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from envalert.core.contract import Kind
from rules.evaluator import StationEvaluator, StationState, resolve
from rules.model import ByAttribute, Catalogue, FromStandard, FromStation, Mean
from tests.rules.conftest import T0, Run, reading, station


@pytest.mark.parametrize(
    ("threshold", "attributes", "expected"),
    [
        (None, {}, None),
        (45, {}, 45.0),
        (ByAttribute(by="district", values={"金水区": 39, "中原区": 40}), {"district": "中原区"}, 40.0),
        (ByAttribute(by="district", values={"金水区": 39}), {"district": "登封市"}, None),
        # A zone is an enum: the table is keyed by its value, "4a".
        (ByAttribute(by="zone", values={"1": 45, "4a": 55}), {"zone": "4a"}, 55.0),
        (ByAttribute(by="zone", values={"1": 45}), {}, None),
        (ByAttribute(by="unit_type", values={"SCR": 2.5, "SNCR": 8}), {"unit_type": "SNCR"}, 8.0),
        (FromStation(station_attribute="warning_level"), {"warning_level": 85.5}, 85.5),
        (FromStation(station_attribute="warning_level"), {}, None),
        # GB 3096-2008: in zone 4b the night limit is 60 beside a new railway line and 55 beside an
        # existing one; a sudden noise may pass the night limit by 15 dB(A).
        (FromStandard(standard="gb3096_night"), {"zone": "4b", "railway": "existing"}, 55.0),
        (FromStandard(standard="gb3096_night"), {"zone": "4b", "railway": "new"}, 60.0),
        (FromStandard(standard="gb3096_sudden"), {"zone": "4b", "railway": "existing"}, 70.0),
        (FromStandard(standard="gb3096_sudden"), {"zone": "4b", "railway": "new"}, 75.0),
        (FromStandard(standard="gb3096_sudden"), {}, None),
    ],
)
def test_a_threshold_resolves_to_the_number_it_means_for_the_station(
    threshold: Any, attributes: dict[str, Any], expected: float | None
) -> None:
    assert resolve(threshold, station(Kind.NOISE, **attributes)) == expected


def test_an_alert_outlives_a_change_of_what_its_rule_computes(catalogue: Catalogue) -> None:
    """A timeline kept from another release may hold a window built for another computation: the
    window starts afresh, but an alert already told stays firing instead of being raised again."""
    run = Run(catalogue, "vocs.nmhc.single", station(Kind.VOCS))
    run.feed([reading(Kind.VOCS, T0, nmhc=45)])
    assert run.story() == [("firing", "critical")]
    run.state.rules["vocs.nmhc.single"].computes = 0
    run.feed([reading(Kind.VOCS, T0.replace(minute=1), nmhc=46)])
    assert run.story() == [("firing", "critical")], "the alert was kept, not raised a second time"
    assert run.state.rules["vocs.nmhc.single"].computes == run.evaluator.computes["vocs.nmhc.single"]


def test_a_calendar_mean_is_judged_when_its_hour_ends_without_another_reading(catalogue: Catalogue) -> None:
    """The clock closes a calendar period; a trailing mean has nothing to do on a tick."""
    rule = next(rule for rule in catalogue.rules if rule.id == "vocs.nmhc.1h").model_copy(
        update={"compute": Mean(function="mean", metric="nmhc", window="1h", align="calendar")}
    )
    evaluator = StationEvaluator([rule], station(Kind.VOCS))
    assert [clocked_rule.id for clocked_rule, _ in evaluator.clocked] == ["vocs.nmhc.1h"]
    state = StationState()
    assert evaluator.evaluate(state, reading(Kind.VOCS, T0 + timedelta(minutes=10), nmhc=12)) == []
    (fired,) = evaluator.tick(state, T0 + timedelta(hours=1))
    assert (fired.state, fired.value, fired.at) == ("firing", 12, T0 + timedelta(hours=1))
    sliding = rule.model_copy(update={"compute": Mean(function="mean", metric="nmhc", window="1h")})
    assert StationEvaluator([sliding], station(Kind.VOCS)).clocked == []
