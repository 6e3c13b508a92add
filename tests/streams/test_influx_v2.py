"""The v2 write path (influxdb-client) against a real server that speaks /api/v2/write.

No InfluxDB 2.x or 3.x server can be installed here; VictoriaMetrics accepts influxdb-client's
writes unchanged (it keeps milliseconds and names series <measurement>_<field>).
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from envalert.command.host import apt_install, free_port, port_open
from envalert.command.stack import ManagedService
from envalert.core.contract import Kind, Reading
from envalert.core.influx import InfluxUnavailableError, V2Writer, reading_line
from envalert.core.stations import Station
from ingest.publisher import publish_readings
from streams.settings import WorkerSettings
from tests.conftest import Pipeline, Services, wait_until
from tests.streams.test_pipeline import fleet, readings

pytestmark = pytest.mark.integration


@dataclass
class VictoriaMetrics:
    port: int
    name: str = "victoria-metrics"

    def command(self, folder: Path) -> list[str]:
        return [
            apt_install("victoria-metrics"),
            f"-httpListenAddr=127.0.0.1:{self.port}",
            f"-storageDataPath={folder}/data",
            "-retentionPeriod=100y",
        ]

    def healthy(self) -> bool:
        return port_open(self.port)

    def address(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def export(self, pattern: str) -> list[dict[str, Any]]:
        urllib.request.urlopen(f"{self.address()}/internal/force_flush", timeout=10).read()
        query = urllib.parse.urlencode({"match[]": f'{{__name__=~"{pattern}"}}'}).encode()
        with urllib.request.urlopen(f"{self.address()}/api/v1/export", data=query, timeout=10) as reply:
            return [json.loads(line) for line in reply.read().splitlines() if line.strip()]


@pytest.fixture
def victoria(tmp_path: Path) -> Iterator[ManagedService]:
    service = ManagedService(VictoriaMetrics(free_port()), tmp_path)
    service.start()
    yield service
    service.stop()


def v2_settings(url: str) -> WorkerSettings:
    return WorkerSettings(influx_api="v2", influx_url=url, influx_token="t", influx_timeout_seconds=2)


def test_the_v2_writer_stores_points_through_influxdb_client(victoria: ManagedService) -> None:
    spec: VictoriaMetrics = victoria.spec  # type: ignore[assignment]
    station = Station(id="ZZ-NH3-1", kind=Kind.AMMONIA, name="一号", district="荥阳市", unit_type="SCR")
    sent = [
        Reading(
            station="ZZ-NH3-1",
            kind=Kind.AMMONIA,
            ts=datetime(2026, 11, 28, 8, m, tzinfo=UTC),
            values={"nh3": 2.4 + m},
        )
        for m in range(3)
    ]

    async def write() -> None:
        writer = V2Writer(v2_settings(spec.address()))
        try:
            await writer.write([reading_line(reading, station) for reading in sent])
        finally:
            await writer.close()

    asyncio.run(write())
    (series,) = spec.export("ammonia_nh3")
    assert series["metric"] == {
        "__name__": "ammonia_nh3",
        "station": "ZZ-NH3-1",
        "district": "荥阳市",
        "unit_type": "SCR",
    }
    assert series["values"] == [2.4, 3.4, 4.4]
    assert series["timestamps"] == [reading.epoch_ms for reading in sent]


def test_the_v2_writer_reports_an_unreachable_server_as_unavailable() -> None:
    async def write() -> None:
        writer = V2Writer(v2_settings(f"http://127.0.0.1:{free_port()}"))
        try:
            await writer.write(["air,station=A pm25=1 1"])
        finally:
            await writer.close()

    with pytest.raises(InfluxUnavailableError, match="v2, bucket envalert"):
        asyncio.run(write())


def test_the_pipeline_writes_through_the_v2_api_when_set_to(
    services: Services, pipeline_factory: Callable[..., Pipeline], victoria: ManagedService
) -> None:
    spec: VictoriaMetrics = victoria.spec  # type: ignore[assignment]
    stations = fleet(10)
    pipeline = pipeline_factory(
        stations, ENVALERT_INFLUX_API="v2", ENVALERT_INFLUX_URL=spec.address(), ENVALERT_INFLUX_TOKEN="t"
    )
    pipeline.start_all()
    sent = readings(stations, per_station=20)
    publish_readings(services.mqtt_settings(), sent)

    def stored() -> int:
        first_metrics = "air_pm25|noise_laeq|groundwater_level|vocs_nmhc|ammonia_nh3"
        return sum(len(series["timestamps"]) for series in spec.export(first_metrics))

    wait_until(lambda: stored() >= len(sent), 60, f"{len(sent)} readings in the v2 server")
    assert stored() == len(sent)
