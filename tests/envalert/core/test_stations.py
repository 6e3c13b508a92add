"""The station catalogue: a bad file fails at start with the file, the field and the fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from envalert.core.config_files import ConfigError
from envalert.core.contract import Kind
from envalert.core.stations import DEFAULT_STATIONS, load_stations


def test_the_shipped_catalogue_loads_and_covers_every_kind() -> None:
    stations = load_stations(DEFAULT_STATIONS)
    assert {station.kind for station in stations.values()} == set(Kind)
    assert stations["ZZ-NH3-XY01"].tags() == {"district": "荥阳市", "unit_type": "SCR"}


BAD = """stations:
  - {id: ZZ-1, kind: air, name: 一, district: 金水区}
  - {id: ZZ-2, kind: noise, name: 二, district: 金水区, zone: "5"}
"""


def test_a_bad_field_is_named_with_its_place(tmp_path: Path) -> None:
    path = tmp_path / "stations.yaml"
    path.write_text(BAD)
    with pytest.raises(ConfigError) as caught:
        load_stations(path)
    message = str(caught.value)
    assert str(path) in message
    assert "stations[ZZ-2].zone" in message
    assert "'0', '1', '2', '3', '4a' or '4b'" in message
    assert "Fix these fields in stations.yaml" in message


@pytest.mark.parametrize(
    ("text", "explains"),
    [
        (
            "stations: [{id: A, kind: air, name: a, district: b}, {id: A, kind: air, name: c, district: d}]",
            "appears twice",
        ),
        ("stations: [{id: A, kind: air", "not valid YAML"),
        ("stations: [{id: A, kind: rain, name: a, district: b}]", r"stations\[A\].kind"),
    ],
)
def test_duplicates_syntax_and_unknown_values_are_refused(tmp_path: Path, text: str, explains: str) -> None:
    path = tmp_path / "stations.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=explains):
        load_stations(path)


def test_the_worker_refuses_to_start_with_a_bad_catalogue(tmp_path: Path) -> None:
    path = tmp_path / "stations.yaml"
    path.write_text(BAD)
    worker = subprocess.run(
        [sys.executable, "-m", "envalert.command.cli", "worker"],
        env={**os.environ, "ENVALERT_STATIONS_FILE": str(path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert worker.returncode == 1
    assert f"Error: {path}: 1 invalid field(s)" in worker.stderr
    assert "stations[ZZ-2].zone" in worker.stderr
