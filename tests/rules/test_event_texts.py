"""What every rule's alerts say, word for word: keys, units, titles and messages in Chinese and
English, for a firing and a resolution of each, against a golden file.

After a deliberate change, read the new texts and write them back with:

    python -m tests.rules.test_event_texts > tests/rules/golden/events.jsonl
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from envalert.core.contract import CHINA_STANDARD_TIME
from envalert.core.stations import DEFAULT_STATIONS, load_stations
from rules.catalogue import load_catalogue
from rules.evaluator import Transition
from rules.events import alert_event, value_unit
from rules.fleet import CITY
from rules.model import Rule, Severity
from tests.rules import golden

AT = datetime(2026, 12, 1, 8, 0, tzinfo=CHINA_STANDARD_TIME)


def text() -> str:
    catalogue, stations = load_catalogue(), load_stations(DEFAULT_STATIONS)
    lines = []
    for rule in [*catalogue.rules, *catalogue.fleet_rules]:
        if isinstance(rule, Rule):
            station = next(s for s in stations.values() if rule.applies_to.matches(s))
            subject = station.id
        else:
            station, subject = None, CITY if rule.applies_to.scope == "city" else "金水区"
        for state, severity, value in [
            ("firing", Severity.CRITICAL, 12345.678),
            ("firing", Severity.WARNING, 1.23456),
            ("firing", Severity.WARNING, 10000.0),
            ("resolved", Severity.WARNING, 0.5),
        ]:
            transition = Transition(
                state=state,
                severity=severity,
                value=value,
                threshold=75.0,
                window="1 h mean",
                window_zh="1小时均值",
                at=AT + timedelta(hours=2),
                started_at=AT,
                rule=rule.id,
                subject=subject,
            )
            event = alert_event(transition, rule, station)
            lines.append(json.dumps(event.model_dump(mode="json"), ensure_ascii=False, sort_keys=True))
    return "\n".join(lines) + "\n"


def test_every_rules_alerts_say_what_the_golden_file_says() -> None:
    golden.assert_matches("events.jsonl", text(), "the alerts' texts")


if __name__ == "__main__":
    print(text(), end="")


@pytest.mark.parametrize(
    ("kind", "compute", "unit"),
    [
        ("air", {"function": "hourly_aqi"}, ""),
        ("air", {"function": "outside_instrument_range", "metric": "pm25"}, ""),
        ("air", {"function": "flagged_minutes", "metric": "pm25", "flags": ["M"]}, "min"),
        ("air", {"function": "repeats", "metric": "pm25"}, "readings"),
        ("air", {"function": "hourly_mean", "metric": "co", "window": "1h"}, "mg/m³"),
        ("noise", {"function": "night_leq"}, "dB(A)"),
        ("groundwater", {"function": "rate_per_day", "metric": "level", "window": "3d"}, "m/day"),
    ],
)
def test_the_unit_of_a_rules_value_is_its_metrics_unless_it_counts_something_else(
    kind: str, compute: dict[str, object], unit: str
) -> None:
    rule = Rule.model_validate(
        {
            "id": "t", "title": {"zh": "t", "en": "t"}, "description": {"zh": "t", "en": "t"},
            "source": "test", "applies_to": {"kinds": [kind]}, "compute": compute,
            "condition": {"op": ">", "warning": 1}, "notify": ["district"],
        }
    )  # fmt: skip
    assert value_unit(rule) == unit
