"""The alert state machine of one rule for one subject: inactive → pending → firing → resolved.

Severity rises as soon as a value breaks the critical threshold, and steps down or clears only
once the value is ``hysteresis`` on the safe side, so a signal hovering at a limit does not flap.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel

from rules.aggregations import Observation
from rules.model import Condition, Severity, breaks


class Status(StrEnum):
    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"


class AlertState(BaseModel):
    status: Status = Status.INACTIVE
    severity: Severity | None = None
    #: When the breach began (pending or firing), in event time.
    since: datetime | None = None
    breaches: int = 0


class Change(BaseModel):
    """What the state machine says happened; the evaluator adds rule and subject."""

    state: Literal["pending", "firing", "resolved"]
    severity: Severity | None
    value: float
    threshold: float
    window: str
    window_zh: str
    at: datetime
    started_at: datetime


#: Distances to a threshold are compared to this many decimals: readings and limits are decimal
#: numbers, and in binary floats -0.25 lies 0.04999999999999999 from -0.3, not the 0.05 it is.
DISTANCE_DECIMALS = 9


def cleared(condition: Condition, value: float, threshold: float) -> bool:
    """On the safe side of ``threshold`` by at least the hysteresis."""
    distance = round(abs(value - threshold), DISTANCE_DECIMALS)
    return not breaks(condition.op, value, threshold) and distance >= condition.hysteresis


def worst_breach(condition: Condition, thresholds: dict[Severity, float], value: float) -> Severity | None:
    for severity in (Severity.CRITICAL, Severity.WARNING):
        if severity in thresholds and breaks(condition.op, value, thresholds[severity]):
            return severity
    return None


def judge(
    condition: Condition, thresholds: dict[Severity, float], state: AlertState, seen: Observation
) -> list[Change]:
    """Update ``state`` with one observation and return what changed."""
    breach = worst_breach(condition, thresholds, seen.value)

    lowest = _lowest(thresholds)

    def change(status: Literal["pending", "firing", "resolved"], severity: Severity | None) -> Change:
        """A change, with the threshold it is about: a resolution's is the one it cleared."""
        assert state.since is not None
        threshold = thresholds[lowest if status == "resolved" else severity or lowest]
        return Change(
            state=status,
            severity=severity,
            value=seen.value,
            threshold=threshold,
            window=seen.window,
            window_zh=seen.window_zh,
            at=seen.at,
            started_at=state.since,
        )

    if state.status is Status.FIRING:
        assert state.severity is not None
        if breach is None and cleared(condition, seen.value, thresholds[lowest]):
            resolved = change("resolved", state.severity)
            state.status, state.severity, state.since, state.breaches = Status.INACTIVE, None, None, 0
            return [resolved]
        if breach is Severity.CRITICAL and state.severity is Severity.WARNING:
            state.severity = Severity.CRITICAL
            return [change("firing", Severity.CRITICAL)]
        stepping_down = state.severity is Severity.CRITICAL and Severity.WARNING in thresholds
        if stepping_down and cleared(condition, seen.value, thresholds[Severity.CRITICAL]):
            state.severity = Severity.WARNING
            return [change("firing", Severity.WARNING)]
        return []

    if breach is None:
        if state.status is Status.PENDING:
            cancelled = change("resolved", None)
            state.status, state.since, state.breaches = Status.INACTIVE, None, 0
            return [cancelled]
        return []

    state.breaches += 1
    state.since = state.since or seen.at
    if state.breaches >= condition.pending_count and seen.at - state.since >= condition.pending_for:
        state.status, state.severity = Status.FIRING, breach
        return [change("firing", breach)]
    if state.status is Status.INACTIVE:
        state.status = Status.PENDING
        return [change("pending", breach)]
    return []


def _lowest(thresholds: dict[Severity, float]) -> Severity:
    return Severity.WARNING if Severity.WARNING in thresholds else Severity.CRITICAL
