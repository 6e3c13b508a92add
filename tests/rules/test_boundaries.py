"""Every threshold, hysteresis and pending count of the shipped catalogue, judged at its edge.

The cases are generated from the catalogue itself, for each rule and each distinct set of
thresholds its stations (or, for fleet rules, its subjects) resolve, so a new rule gets them too:

- a value exactly at a threshold breaks it only for ``>=`` and ``<=``; the next float beyond it
  breaks it; the next float short of it does not;
- a firing alert clears at exactly its hysteresis on the safe side of its lowest threshold, and
  not a millionth short of it;
- it fires at its ``pending_count``-th breach held for ``pending_for``, and not before.

The expected outcomes come from Python's own comparison operators, not from rules/ code.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest

from envalert.core.contract import CHINA_STANDARD_TIME
from envalert.core.stations import DEFAULT_STATIONS, load_stations
from rules.aggregations import Observation
from rules.alerting import AlertState, Change, judge
from rules.catalogue import load_catalogue
from rules.evaluator import thresholds_for
from rules.fleet import threshold_for
from rules.model import Condition, FleetRule, Rule, Severity, breaks

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=CHINA_STANDARD_TIME)
#: A step short of the hysteresis, far beyond the rounding of distances (rules/alerting.py).
SHORT = 1e-6
COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


def subjects_of(rule: FleetRule) -> list[str]:
    districts = sorted({station.district for station in load_stations(DEFAULT_STATIONS).values()})
    return ["郑州市"] if rule.applies_to.scope == "city" else (rule.applies_to.districts or districts)


def threshold_sets() -> Iterator[tuple[str, Condition, dict[Severity, float]]]:
    """(rule id, condition, thresholds) for each distinct set of thresholds of each rule."""
    catalogue = load_catalogue()
    stations = load_stations(DEFAULT_STATIONS).values()
    for rule in [*catalogue.rules, *catalogue.fleet_rules]:
        found: list[dict[Severity, float]] = []
        if isinstance(rule, Rule):
            candidates = [thresholds_for(rule, s) for s in stations if rule.applies_to.matches(s)]
        else:
            candidates = [
                {
                    severity: value
                    for severity, threshold in [
                        (Severity.WARNING, rule.condition.warning),
                        (Severity.CRITICAL, rule.condition.critical),
                    ]
                    if (value := threshold_for(threshold, subject)) is not None
                }
                for subject in subjects_of(rule)
            ]
        for thresholds in candidates:
            if thresholds and thresholds not in found:
                found.append(thresholds)
        assert found, f"{rule.id}: no shipped station or subject resolves a threshold"
        for thresholds in found:
            yield rule.id, rule.condition, thresholds


CASES = list(threshold_sets())
IDS = [f"{rule_id}-{'-'.join(f'{s.value}{v:g}' for s, v in t.items())}" for rule_id, _, t in CASES]


def toward_breach(condition: Condition) -> float:
    """The direction in which a value breaks the condition: +inf for > and >=, -inf for < and <=."""
    return math.inf if condition.op in (">", ">=") else -math.inf


def expected_breach(condition: Condition, thresholds: dict[Severity, float], value: float) -> Severity | None:
    compare = COMPARE[condition.op]
    broken = [
        s for s in (Severity.CRITICAL, Severity.WARNING) if s in thresholds and compare(value, thresholds[s])
    ]
    return broken[0] if broken else None


class Alert:
    """One alert of a rule, fed values one step apart: a step long enough for ``pending_for``."""

    def __init__(self, condition: Condition, thresholds: dict[Severity, float]) -> None:
        self.condition, self.thresholds, self.state = condition, thresholds, AlertState()
        self.step = condition.pending_for or timedelta(minutes=1)
        self.at = T0
        #: Breaches in a row that make it fire: its count, and one more when it must also be held.
        self.to_fire = max(condition.pending_count, 2 if condition.pending_for else 1)

    def see(self, value: float) -> list[Change]:
        changes = judge(self.condition, self.thresholds, self.state, Observation(value, self.at, "w", "w"))
        self.at += self.step
        return changes

    def hold(self, value: float) -> list[Change]:
        """The value for as many steps as it takes to fire; every change made on the way."""
        return [change for _ in range(self.to_fire) for change in self.see(value)]


def fired(changes: list[Change]) -> Severity | None:
    firing = [change.severity for change in changes if change.state == "firing"]
    return firing[-1] if firing else None


@pytest.mark.parametrize(("rule_id", "condition", "thresholds"), CASES, ids=IDS)
def test_a_value_at_beyond_and_short_of_each_threshold(
    rule_id: str, condition: Condition, thresholds: dict[Severity, float]
) -> None:
    breach = toward_breach(condition)
    for severity, threshold in thresholds.items():
        for value in (threshold, math.nextafter(threshold, breach), math.nextafter(threshold, -breach)):
            expected = expected_breach(condition, thresholds, value)
            got = fired(Alert(condition, thresholds).hold(value))
            assert got == expected, (
                f"{rule_id}: {value!r} against {severity.value} {threshold:g} {condition.op}"
            )


@pytest.mark.parametrize(("rule_id", "condition", "thresholds"), CASES, ids=IDS)
def test_a_firing_alert_clears_at_exactly_its_hysteresis(
    rule_id: str, condition: Condition, thresholds: dict[Severity, float]
) -> None:
    breach = toward_breach(condition)
    lowest = thresholds.get(Severity.WARNING, thresholds.get(Severity.CRITICAL))
    assert lowest is not None
    clear_at = lowest - math.copysign(condition.hysteresis, breach)
    if COMPARE[condition.op](clear_at, lowest):  # no hysteresis and an inclusive op
        clear_at = math.nextafter(clear_at, -breach)
    alert = Alert(condition, thresholds)
    assert fired(alert.hold(math.nextafter(lowest, breach))) is not None
    short = clear_at + math.copysign(SHORT, breach)
    assert [c.state for c in alert.see(short)] == [], f"{rule_id}: cleared at {short!r}"
    assert [c.state for c in alert.see(clear_at)] == ["resolved"], f"{rule_id}: not cleared at {clear_at!r}"


def breaches_to_fire(alert: Alert, beyond: float) -> int:
    """Feed ``beyond`` until the alert fires; how many breaches that took."""
    for count in range(1, alert.to_fire + 2):
        if fired(alert.see(beyond)):
            return count
    return -1


@pytest.mark.parametrize(("rule_id", "condition", "thresholds"), CASES, ids=IDS)
def test_an_alert_fires_at_its_pending_count_and_not_before_in_every_episode(
    rule_id: str, condition: Condition, thresholds: dict[Severity, float]
) -> None:
    """Counted afresh after a resolution, and after a breach that ended before it fired."""
    alert = Alert(condition, thresholds)
    breach = toward_breach(condition)
    worst = max(thresholds.values()) if breach > 0 else min(thresholds.values())
    beyond, safe = (
        math.nextafter(worst, breach),
        min(thresholds.values(), key=abs) - math.copysign(1e6, breach),
    )
    assert breaches_to_fire(alert, beyond) == alert.to_fire, f"{rule_id}: the first episode"
    assert [c.state for c in alert.see(safe)] == ["resolved"]
    assert breaches_to_fire(alert, beyond) == alert.to_fire, f"{rule_id}: after a resolution"
    assert [c.state for c in alert.see(safe)] == ["resolved"]
    if alert.to_fire > 1:
        for _ in range(alert.to_fire - 1):
            alert.see(beyond)
        assert [(c.state, c.severity) for c in alert.see(safe)] == [("resolved", None)], "a breach cut short"
        assert breaches_to_fire(alert, beyond) == alert.to_fire, f"{rule_id}: after a breach cut short"


@pytest.mark.parametrize(("rule_id", "condition", "thresholds"), CASES, ids=IDS)
def test_each_change_names_the_threshold_it_is_about(
    rule_id: str, condition: Condition, thresholds: dict[Severity, float]
) -> None:
    """A firing names its severity's threshold; a resolution, even from critical, the lowest
    threshold, the one it cleared."""
    breach = toward_breach(condition)
    lowest = thresholds.get(Severity.WARNING, thresholds.get(Severity.CRITICAL))
    for threshold in thresholds.values():
        alert, beyond = Alert(condition, thresholds), math.nextafter(threshold, breach)
        severity = expected_breach(condition, thresholds, beyond)
        assert severity is not None
        firing = [change for change in alert.hold(beyond) if change.state == "firing"]
        assert [(c.severity, c.threshold) for c in firing] == [(severity, thresholds[severity])], rule_id
        (resolved,) = alert.see(min(thresholds.values(), key=abs) - math.copysign(1e6, breach))
        assert (resolved.state, resolved.severity, resolved.threshold) == ("resolved", severity, lowest), (
            rule_id
        )


@pytest.mark.parametrize("op", COMPARE)
def test_each_operator_at_below_and_above_a_threshold(op: str) -> None:
    """Every operator a rule may use, whether the shipped catalogue uses it or not."""
    for value in (math.nextafter(75.0, 0), 75.0, math.nextafter(75.0, math.inf)):
        assert breaks(op, value, 75.0) is COMPARE[op](value, 75.0), f"{value!r} {op} 75"
