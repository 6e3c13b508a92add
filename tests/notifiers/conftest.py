"""Alert events as the stream makes them (shipped rules, the demo's stations), and a hand clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

import pytest

from envalert.core.stations import DEFAULT_STATIONS, Station, load_stations
from notifiers.directory import Directory, load_directory
from notifiers.routing import Routing, load_routing
from rules.catalogue import all_rules, load_catalogue
from rules.evaluator import Transition
from rules.events import AlertEvent, alert_event
from rules.fleet import CITY
from rules.model import Severity

T0 = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
STATIONS = load_stations(DEFAULT_STATIONS)
RULES = all_rules(load_catalogue())


class Clock:
    """Wall time that moves only when a test says so."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **span: float) -> datetime:
        self.now += timedelta(**span)
        return self.now


def event(
    rule: str,
    subject: str,
    state: Literal["firing", "resolved", "pending"] = "firing",
    severity: Severity | None = Severity.WARNING,
    *,
    at: datetime = T0,
    started_at: datetime | None = None,
    value: float = 100.0,
    threshold: float = 75.0,
) -> AlertEvent:
    """The AlertEvent the stream would publish for this transition."""
    transition = Transition(
        state=state,
        severity=severity,  # a resolution keeps the severity it had, as the stream does
        value=value,
        threshold=threshold,
        window="1 h mean",
        window_zh="1小时均值",
        at=at,
        started_at=started_at or at,
        rule=rule,
        subject=subject,
    )
    station: Station | None = STATIONS.get(subject)
    assert station or subject == CITY or subject in {s.district for s in STATIONS.values()}, subject
    return alert_event(transition, RULES[rule], station)


@pytest.fixture(scope="session")
def directory() -> Directory:
    return load_directory(environ={})


@pytest.fixture(scope="session")
def routing() -> Routing:
    return load_routing()
