"""The alert state machine on its own: pending, firing, escalation, hysteresis, resolution."""

from __future__ import annotations

from datetime import timedelta

from rules.aggregations import Observation
from rules.alerting import AlertState, Status, judge
from rules.model import Condition, Severity
from tests.rules.conftest import T0

LIMITS = {Severity.WARNING: 100.0, Severity.CRITICAL: 200.0}


def run(
    condition: Condition, values: list[float], step: timedelta = timedelta(minutes=1)
) -> list[tuple[str, str | None, float]]:
    state = AlertState()
    changes = []
    for index, value in enumerate(values):
        for change in judge(condition, LIMITS, state, Observation(value, T0 + index * step, "test", "测试")):
            changes.append((change.state, change.severity.value if change.severity else None, change.value))
    return changes


def test_fires_at_once_escalates_steps_down_and_resolves_with_hysteresis() -> None:
    condition = Condition(op=">", warning=100, critical=200, hysteresis=10)
    assert run(condition, [50, 101, 150, 201, 195, 189, 95, 89, 80]) == [
        ("firing", "warning", 101),
        ("firing", "critical", 201),
        ("firing", "warning", 189),  # 195 is within 10 of 200: still critical
        ("resolved", "warning", 89),  # 95 is within 10 of 100: still firing
    ]


def test_pending_count_waits_for_consecutive_breaches_and_a_dip_cancels() -> None:
    condition = Condition(op=">=", warning=100, pending_count=3)
    assert run(condition, [100, 120, 90, 100, 100, 100, 100]) == [
        ("pending", "warning", 100),
        ("resolved", None, 90),
        ("pending", "warning", 100),
        ("firing", "warning", 100),
    ]


def test_pending_for_waits_for_event_time() -> None:
    condition = Condition(op=">", warning=100, pending_for=timedelta(minutes=10))
    changes = run(condition, [150] * 12)
    assert changes == [("pending", "warning", 150), ("firing", "warning", 150)]
    state = AlertState()
    for minute in range(11):
        judge(condition, LIMITS, state, Observation(150, T0 + timedelta(minutes=minute), "t", "t"))
    assert state.status is Status.FIRING and state.since == T0


def test_below_thresholds_for_lower_is_worse() -> None:
    condition = Condition(op="<", warning=-0.3, critical=-1.0, hysteresis=0.05)
    limits = {Severity.WARNING: -0.3, Severity.CRITICAL: -1.0}
    state = AlertState()
    seen = [
        judge(condition, limits, state, Observation(v, T0, "t", "t"))
        for v in (-0.2, -0.31, -1.2, -0.27, -0.2)
    ]
    assert [(c.state, c.severity) for changes in seen for c in changes] == [
        ("firing", Severity.WARNING),
        ("firing", Severity.CRITICAL),
        ("firing", Severity.WARNING),  # -0.27 is well clear of -1.0 but within 0.05 of -0.3
        ("resolved", Severity.WARNING),
    ]


def test_a_critical_only_rule_fires_critical() -> None:
    condition = Condition(op=">", critical=30, hysteresis=5)
    state = AlertState()
    limits = {Severity.CRITICAL: 30.0}
    changes = [
        c for v in (29, 31, 26, 24) for c in judge(condition, limits, state, Observation(v, T0, "t", "t"))
    ]
    assert [(c.state, c.severity, c.threshold) for c in changes] == [
        ("firing", Severity.CRITICAL, 30),
        ("resolved", Severity.CRITICAL, 30),
    ]
