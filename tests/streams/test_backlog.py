"""A backlog delivered flat out with the default lateness: every reading in its station's order is judged."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from envalert.core.contract import CHINA_STANDARD_TIME, METRICS, Kind, Reading
from envalert.core.stations import Station
from ingest.publisher import publish_readings
from rules.catalogue import load_catalogue
from rules.offline import judge_offline
from streams.settings import WorkerSettings
from tests.conftest import (
    Pipeline,
    Services,
    judged_live,
    judged_offline,
    kafka_records,
    wait_until,
)
from tests.streams.fleets import fleet_of

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 30, 6, 0, tzinfo=CHINA_STANDARD_TIME)
DEFAULT_LATENESS = timedelta(seconds=WorkerSettings.model_fields["allowed_lateness_seconds"].default)


def station_by_station(fleet: dict[str, dict[str, object]], minutes: int) -> list[Reading]:
    """Every station once a minute, one station's readings after another's, as loggers upload the
    history they kept through an outage: each station's in order, stations hours apart."""
    rng = random.Random(24)
    return [
        Reading(
            station=station,
            kind=Kind(str(attrs["kind"])),
            ts=START + timedelta(minutes=minute),
            values={
                metric: round(rng.uniform(spec.low, min(spec.high, spec.low + 300)), 2)
                for metric, spec in METRICS[Kind(str(attrs["kind"]))].items()
            },
        )
        for station, attrs in fleet.items()
        for minute in range(minutes)
    ]


def test_a_backlog_drained_flat_out_is_judged_live_exactly_as_offline(
    services: Services, pipeline_factory: Callable[..., Pipeline]
) -> None:
    """100 stations' 100 minutes each, station after station, wait in Kafka while the worker is
    down; it then takes them as fast as it can, with the default lateness and idleness. No reading
    is late, however far its partition's other stations are ahead, and the worker's transitions
    are exactly the offline judgement's, reading for reading."""
    fleet = fleet_of(100)
    readings = station_by_station(fleet, 100)
    pipeline = pipeline_factory(fleet)
    pipeline.start_all()
    pipeline.kill("worker")
    publish_readings(services.mqtt_settings(), readings)
    wait_until(
        lambda: len(kafka_records(services.kafka_bootstrap, "readings")) >= len(readings),
        120,
        "the backlog in Kafka",
    )
    pipeline.start("worker")

    stations = {sid: Station(id=sid, **attrs) for sid, attrs in fleet.items()}  # type: ignore[arg-type]
    offline = judge_offline(load_catalogue(), stations, readings, readings[-1].ts - DEFAULT_LATENESS)
    expected = judged_offline(offline.transitions)
    assert len(expected) > 200, "the backlog should give plenty to judge"

    wait_until(lambda: len(services.points()) >= len(readings), 180, f"{len(readings)} readings in InfluxDB")

    def late() -> list[dict[str, object]]:
        return services.influx_query("SELECT * FROM late_readings")

    wait_until(
        lambda: len(judged_live(services)) >= len(expected) or late(),
        120,
        f"{len(expected)} transitions on Kafka alerts",
    )
    assert late() == [], "no reading in its station's order is late"
    assert judged_live(services) == expected
