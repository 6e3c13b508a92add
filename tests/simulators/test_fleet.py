"""A fleet of any size from the catalogue, and the catalogue written for the stream to load."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from envalert.core.contract import CHINA_STANDARD_TIME
from envalert.core.stations import DEFAULT_STATIONS, load_stations
from notifiers.directory import load_directory
from simulators.fleet import scaled, write_catalogue
from simulators.generators import StationSeries

STATIONS = load_stations(DEFAULT_STATIONS)


def test_a_thousand_stations_are_the_catalogue_and_copies_of_it(tmp_path: Path) -> None:
    fleet = scaled(STATIONS, 1000)
    assert len(fleet) == 1000 and list(fleet)[:39] == list(STATIONS)
    copy = fleet["ZZ-NH3-XY01-2"]
    original = STATIONS["ZZ-NH3-XY01"]
    assert (copy.kind, copy.district, copy.unit_type, copy.operator) == (
        original.kind,
        original.district,
        original.unit_type,
        original.operator,
    )
    assert copy.name == "荥阳电厂1号机组SCR出口（2）" and copy.lat != original.lat
    assert list(scaled(STATIONS, 5)) == list(STATIONS)[:5]
    path = tmp_path / "fleet-1000.yaml"
    write_catalogue(fleet, path)
    assert load_stations(path) == fleet
    load_directory(environ={}).check_covers(fleet)


def test_a_copy_reports_its_own_values() -> None:
    fleet = scaled(STATIONS, 80)
    at = datetime(2026, 1, 10, 8, 0, tzinfo=CHINA_STANDARD_TIME)
    original = StationSeries(fleet["ZZ-AIR-JS01"], seed=1).reading(at)
    copy = StationSeries(fleet["ZZ-AIR-JS01-2"], seed=1).reading(at)
    assert copy.station == "ZZ-AIR-JS01-2" and copy.values != original.values
