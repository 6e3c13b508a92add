"""Each shipped scenario, run end to end: `envalert simulate` → mosquitto → bridge → Kafka →
worker, judged live exactly as offline, firing exactly the rules it expects."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import timedelta

import pytest

from envalert.core.contract import Kind
from envalert.core.stations import DEFAULT_STATIONS, Station, load_stations
from rules.catalogue import load_catalogue
from rules.offline import judge_offline
from simulators.scenarios import Scenario, load_scenario, shipped
from tests.conftest import Pipeline, Services, envalert, wait_until

pytestmark = pytest.mark.integration

FULL_FLEET = load_stations(DEFAULT_STATIONS)
LATENESS = timedelta(seconds=60)  # the worker's default allowed lateness


def touched(scenario: Scenario) -> dict[str, Station]:
    """Every station of the kinds its episodes touch (the city's figures need them all), and the
    first station of each other kind, whose readings move the event clock on."""
    kinds = {s.kind for s in FULL_FLEET.values() if any(e.touches(s) for e in scenario.episodes)}
    firsts = {next(s.id for s in FULL_FLEET.values() if s.kind == kind) for kind in Kind}
    return {sid: s for sid, s in FULL_FLEET.items() if s.kind in kinds or sid in firsts}


@pytest.mark.parametrize("name", shipped())
def test_a_scenario_end_to_end(
    name: str, services: Services, pipeline_factory: Callable[..., Pipeline]
) -> None:
    scenario = load_scenario(name)
    stations = touched(scenario)
    pipeline = pipeline_factory(
        {
            sid: s.model_dump(mode="json", exclude={"id"}, exclude_defaults=True)
            for sid, s in stations.items()
        },
        ENVALERT_IDLE_SECONDS="3",
    )
    pipeline.start_all()
    readings = scenario.readings(stations)
    offline = judge_offline(load_catalogue(), stations, readings, readings[-1].ts - LATENESS)
    expected = {(t.rule, t.subject, t.state, t.severity, t.at) for t in offline.transitions}
    assert {t.rule for t in offline.transitions if t.state == "firing"} == set(scenario.expects)

    started = time.monotonic()
    env = {**os.environ, "ENVALERT_MQTT_PORT": str(services.mqtt_port)}
    catalogue = str(pipeline.stations_file)
    simulated = envalert(
        "simulate", "--scenario", name, "--stations", catalogue, "--speed", "0", env=env, timeout=300
    )
    assert simulated.returncode == 0, simulated.stderr
    assert f"published {len(readings)} readings" in simulated.stdout

    def live() -> set[tuple[object, ...]]:
        return {(e.rule, e.subject, e.state, e.severity, e.event_time) for e in services.alert_events()}

    wait_until(lambda: len(live()) >= len(expected), 120, f"{len(expected)} transitions on Kafka alerts")
    assert live() == expected
    took = time.monotonic() - started
    print(f"\n{name}: {len(readings)} readings, {len(expected)} transitions live = offline in {took:.1f} s")
