"""Line protocol of a reading, and how failures are sorted into 'wait' and 'refused'."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from envalert.core.contract import Flag, Kind, Reading
from envalert.core.influx import (
    InfluxRefusedError,
    InfluxUnavailableError,
    V1Writer,
    _classify,
    influx_execute,
    influxql,
    reading_line,
)
from envalert.core.stations import NoiseZone, Station
from streams.settings import WorkerSettings
from tests.conftest import Services


def test_a_reading_becomes_one_line_with_tags_fields_flags_and_nanoseconds() -> None:
    reading = Reading(
        station="ZZ-NOI-1",
        kind=Kind.NOISE,
        ts=datetime(2026, 11, 28, 14, 0, 0, 123456, tzinfo=UTC),
        values={"laeq": 52.3, "lmax": 70.0},
        flags={"lmax": Flag.MAINTENANCE},
    )
    station = Station(id="ZZ-1", kind=Kind.NOISE, name="文化路", district="高新区 A,B", zone=NoiseZone.Z4A)
    assert reading_line(reading, station) == (
        r"noise,district=高新区\ A\,B,station=ZZ-NOI-1,zone=4a "
        'laeq=52.3,laeq_flag="N",lmax=70,lmax_flag="M" 1795874400123456000'
    )


def test_a_station_missing_from_the_catalogue_is_stored_with_its_id_only() -> None:
    reading = Reading(station="X1", kind=Kind.AMMONIA, ts=datetime(2026, 1, 1, tzinfo=UTC), values={"nh3": 3})
    assert reading_line(reading, None).startswith("ammonia,station=X1 nh3=3,")


@pytest.mark.parametrize("status", [400, 413, 422])
def test_bad_data_is_refused(status: int) -> None:
    assert isinstance(_classify(status, "partial write", "influx"), InfluxRefusedError)


@pytest.mark.parametrize("status", [0, 401, 403, 404, 429, 500, 503])
def test_outages_and_misconfiguration_are_waited_out(status: int) -> None:
    assert isinstance(_classify(status, "down", "influx"), InfluxUnavailableError)


@pytest.mark.integration
def test_a_database_dropped_while_the_worker_runs_is_created_again_and_the_points_kept(
    services: Services,
) -> None:
    settings = WorkerSettings(influx_url=services.influx_url, influx_database="dropped")
    reading = Reading(station="X1", kind=Kind.AMMONIA, ts=datetime(2026, 1, 1, tzinfo=UTC), values={"nh3": 3})

    async def write_after_a_drop() -> None:
        writer = V1Writer(settings)
        try:
            await writer.prepare()
            influx_execute(services.influx_url, "dropped", 'DROP DATABASE "dropped"')
            await writer.write([reading_line(reading, None)])
        finally:
            await writer.close()

    asyncio.run(write_after_a_drop())
    assert [row["nh3"] for row in influxql(services.influx_url, "dropped", "SELECT nh3 FROM ammonia")] == [3]
