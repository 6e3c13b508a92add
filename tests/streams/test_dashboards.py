"""The Grafana dashboard: provisioned by docker-compose.yml, and every query asks for data the
pipeline really writes (readings, alerts, and the figures of an offline-judged fleet day)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from envalert.core.contract import CHINA_STANDARD_TIME, METRICS
from envalert.core.stations import Station
from rules.catalogue import all_rules, load_catalogue
from rules.events import alert_event
from rules.figures import late_reading
from rules.offline import judge_offline
from streams.points import alert_line
from tests.rules.conftest import T0
from tests.streams.fleets import a_day_of, fleet_of

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DASHBOARD: dict[str, Any] = json.loads((ROOT / "streams/dashboards/envalert.json").read_text())
FILTER = re.compile(r'r\._measurement == "(\w+)" and r\._field == "(\w+)"')
TAG_FILTER = re.compile(r'r\.(\w+) [!=]= "([^"]+)"')
ALERT_FIELDS = {"message_zh", "value", "threshold", "window", "key", "started_at"}


def written() -> dict[str, tuple[set[str], dict[str, set[str]]]]:
    """measurement → (fields, tag → values) of what the pipeline writes for a fleet's day."""
    found: dict[str, tuple[set[str], dict[str, set[str]]]] = {
        kind.value: ({*specs, *(f"{m}_flag" for m in specs)}, {"station": set()})
        for kind, specs in METRICS.items()
    }
    fleet = fleet_of(20)
    readings = a_day_of(fleet, T0.astimezone(CHINA_STANDARD_TIME))
    stations = {sid: Station(id=sid, **attrs) for sid, attrs in fleet.items()}  # type: ignore[arg-type]
    judged = judge_offline(load_catalogue(), stations, readings, readings[-1].ts - timedelta(minutes=1))
    for figure in judged.figures:
        fields, tags = found.setdefault(figure.measurement, (set(), {}))
        fields |= set(figure.fields)
        for tag, value in figure.tags.items():
            tags.setdefault(tag, set()).add(value)
    late = late_reading("F-000", 1, T0)
    found[late.measurement] = (set(late.fields), {tag: {value} for tag, value in late.tags.items()})
    rules = all_rules(load_catalogue())
    transition = judged.transitions[0]
    line = alert_line(alert_event(transition, rules[transition.rule], stations.get(transition.subject)))
    found["alerts"] = ({field for field in ALERT_FIELDS if f",{field}=" in line or f" {field}=" in line}, {})
    return found


def queries() -> list[tuple[str, str]]:
    return [(panel["title"], target["query"]) for panel in DASHBOARD["panels"] for target in panel["targets"]]


def test_compose_provisions_the_dashboard_with_its_datasource() -> None:
    grafana = COMPOSE["services"]["grafana"]
    targets = {config["source"]: config["target"] for config in grafana["configs"]}
    provider = yaml.safe_load(COMPOSE["configs"]["grafana-dashboards"]["content"])["providers"][0]
    dashboard_file = COMPOSE["configs"]["grafana-dashboard-envalert"]["file"]
    assert (ROOT / dashboard_file).resolve() == ROOT / "streams/dashboards/envalert.json"
    assert Path(targets["grafana-dashboard-envalert"]).parent == Path(provider["options"]["path"])
    datasource = yaml.safe_load(COMPOSE["configs"]["grafana-datasource"]["content"])["datasources"][0]
    assert all(panel["datasource"]["uid"] == datasource["uid"] for panel in DASHBOARD["panels"])


def test_the_dashboard_shows_readings_aqi_noise_compliance_groundwater_and_alerts() -> None:
    asked = {match for _, query in queries() for match in FILTER.findall(query)}
    assert {("air", "pm25"), ("aqi_hourly", "aqi"), ("noise_compliance", "rolling_rate")} <= asked
    assert {
        ("groundwater", "level"),
        ("alerts", "message_zh"),
        ("plan_progress", "heavy_budget_used_pct"),
    } <= asked


def test_every_query_asks_for_a_measurement_field_and_tags_the_pipeline_writes() -> None:
    data = written()
    for title, query in queries():
        matches = FILTER.findall(query)
        assert matches, f"{title}: no measurement and field to read"
        for measurement, field in matches:
            assert measurement in data, f"{title}: nothing writes measurement {measurement}"
            fields, tags = data[measurement]
            assert field in fields, f"{title}: {measurement} has no field {field} (it has {sorted(fields)})"
            for tag, value in TAG_FILTER.findall(query):
                if tag not in {"_measurement", "_field"}:
                    assert value in tags.get(tag, set()), f"{title}: {measurement} has no {tag}={value}"
