"""A fleet of any size from the catalogue: its stations, then copies of them, for load tests.

Copy n of station ``ZZ-AIR-JS01`` is ``ZZ-AIR-JS01-n`` (n from 2), in the same district, run
by the same operator, a few hundred metres away; its readings differ because generators are
seeded per station id. The stream and the notifiers must load the same catalogue, so
``envalert simulate --size N --catalogue-out FILE`` writes it for ``ENVALERT_STATIONS_FILE``.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from envalert.core.stations import Station


def scaled(stations: dict[str, Station], size: int) -> dict[str, Station]:
    """The first ``size`` stations of the catalogue, repeated as copies when it has fewer."""
    originals = list(stations.values())
    fleet: dict[str, Station] = {}
    for index in range(size):
        original, copy = originals[index % len(originals)], index // len(originals) + 1
        if copy == 1:
            fleet[original.id] = original
            continue
        shift = 0.003 * copy
        fleet[f"{original.id}-{copy}"] = original.model_copy(
            update={
                "id": f"{original.id}-{copy}",
                "name": f"{original.name}（{copy}）",
                "lat": None if original.lat is None else round(original.lat + shift, 4),
                "lon": None if original.lon is None else round(original.lon + shift, 4),
                "hj212": original.hj212.model_copy(update={"mn": f"{original.hj212.mn}C{copy}"})
                if original.hj212
                else None,
            }
        )
    return fleet


def write_catalogue(stations: dict[str, Station], path: Path) -> None:
    rows = [station.model_dump(mode="json", exclude_defaults=True) for station in stations.values()]
    path.write_text(yaml.safe_dump({"stations": rows}, allow_unicode=True, sort_keys=False), encoding="utf-8")
