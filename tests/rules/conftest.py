"""Helpers to drive the evaluator with hand-made readings, on the event clock only."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import pytest

from envalert.core.contract import CHINA_STANDARD_TIME, Flag, Kind, Reading
from envalert.core.stations import Station
from rules.catalogue import load_catalogue
from rules.evaluator import StationEvaluator, StationState, Transition
from rules.model import Catalogue

T0 = datetime(2026, 7, 1, 0, 0, tzinfo=CHINA_STANDARD_TIME)


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue()


def station(kind: Kind, **attributes: Any) -> Station:
    return Station(
        **{"id": f"S-{kind.value}", "kind": kind, "name": "测试站", "district": "金水区", **attributes}
    )


def reading(kind: Kind, at: datetime, flags: dict[str, Flag] | None = None, **values: float) -> Reading:
    return Reading(station=f"S-{kind.value}", kind=kind, ts=at, values=values, flags=flags or {})


class Run:
    """One rule of the catalogue evaluated for one station, readings and ticks in event time."""

    def __init__(self, catalogue: Catalogue, rule_id: str, at: Station) -> None:
        rules = [rule for rule in catalogue.rules if rule.id == rule_id]
        assert rules, f"no rule {rule_id}"
        self.evaluator = StationEvaluator(rules, at)
        assert self.evaluator.rules, f"{rule_id} does not apply to {at}"
        self.state = StationState()
        self.transitions: list[Transition] = []

    def feed(self, readings: Iterable[Reading]) -> Run:
        for one in readings:
            self.transitions += self.evaluator.evaluate(self.state, one)
        return self

    def tick(self, now: datetime) -> Run:
        self.transitions += self.evaluator.tick(self.state, now)
        return self

    def story(self) -> list[tuple[str, str | None]]:
        """The transitions as (state, severity) pairs, the shape most tests assert on."""
        return [(t.state, t.severity.value if t.severity else None) for t in self.transitions]


def every(start: datetime, step: timedelta, count: int) -> list[datetime]:
    return [start + index * step for index in range(count)]
