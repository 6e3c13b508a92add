"""The simulators speak HJ 212-2017: `envalert simulate --hj212` through the real gateway gives
the same messages on MQTT as publishing the same readings over MQTT would."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from envalert.core.contract import Kind
from envalert.core.stations import DEFAULT_STATIONS, load_stations
from ingest.publisher import message_of
from simulators.fleet import write_catalogue
from simulators.hj212_logger import data_packet, resolved
from simulators.scenarios import load_scenario
from tests.conftest import Services, envalert, wait_until
from tests.ingest.hj212.test_gateway import gateway, mqtt_messages

SCENARIO = "scr-catalyst-failure"


def test_a_reading_becomes_a_real_time_data_packet_of_its_logger() -> None:
    stations = load_stations(DEFAULT_STATIONS)
    reading = next(r for r in load_scenario(SCENARIO).readings(stations) if r.kind is Kind.AMMONIA)
    packet = data_packet(reading, resolved(stations, {"ENVALERT_HJ212_PASSWORD": "7c1e0a"})[reading.station])
    assert packet is not None and (packet.cn, packet.st, packet.flag, packet.pw) == (
        "2011",
        "31",
        5,
        "7c1e0a",
    )
    assert packet.mn == stations[reading.station].hj212.mn  # type: ignore[union-attr]
    assert packet.factors == {"a21001": {"Rtd": repr(reading.values["nh3"]), "Flag": "N"}}
    air = next(r for r in load_scenario(SCENARIO).readings(stations) if r.kind is Kind.AIR)
    assert data_packet(air, stations[air.station]) is None, "air stations here have no HJ 212 logger"


@pytest.mark.integration
def test_simulate_over_hj212_delivers_what_mqtt_would(services: Services, tmp_path: Path) -> None:
    fleet = load_stations(DEFAULT_STATIONS)
    chosen = {sid: s for sid, s in fleet.items() if s.kind in {Kind.AMMONIA, Kind.AIR}}
    catalogue = tmp_path / "stations.yaml"
    write_catalogue(chosen, catalogue)
    readings = load_scenario(SCENARIO).readings(chosen)
    expected = sorted(
        (m.topic, json.dumps(json.loads(m.payload), sort_keys=True))
        for m in map(message_of, readings)
        if chosen[m.topic.rsplit("/", 1)[1]].hj212
    )
    password = {"ENVALERT_HJ212_PASSWORD": "7c1e0a"}
    with (
        mqtt_messages(services) as received,
        gateway(services, catalogue, tmp_path / "gw", **password) as gw,
    ):
        env = {**os.environ, "ENVALERT_STACK_DIR": str(tmp_path / "no-stack"), **password}
        done = envalert(
            "simulate", "--scenario", SCENARIO, "--stations", str(catalogue), "--speed", "0",
            "--hj212", f"127.0.0.1:{gw.port}", env=env, timeout=240,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        wait_until(lambda: len(received) >= len(expected), 30, "every HJ 212 reading on MQTT")
    assert f"sent {len(expected)} readings as HJ 212 real-time data" in done.stdout
    assert f"skipped {len(readings) - len(expected)} readings" in done.stdout
    got = sorted((topic, json.dumps(json.loads(payload), sort_keys=True)) for topic, payload in received)
    assert got == expected
    print(f"\nsimulate --hj212: {len(expected)} readings through the gateway, identical on MQTT")
