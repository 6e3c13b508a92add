"""A generated fleet and a day of its readings, for the stream's tests."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

from envalert.core.contract import METRICS, Kind, Reading
from rules.catalogue import SHIPPED

DISTRICTS = ["金水区", "中原区", "二七区", "管城回族区", "惠济区"]
ATTRIBUTES = {
    Kind.NOISE: {"zone": "2"},
    Kind.AMMONIA: {"unit_type": "SCR"},
    Kind.GROUNDWATER: {"warning_level": 100.0},
}
#: Arrival may trail event time by up to 30 min here, so readings can come well out of order.
LATENESS = timedelta(minutes=30)


def fleet_of(size: int) -> dict[str, dict[str, object]]:
    kinds = list(Kind)
    return {
        f"F-{index:03d}": {
            "kind": kinds[index % 5].value,
            "name": f"站{index}",
            "district": DISTRICTS[index % len(DISTRICTS)],
            **ATTRIBUTES.get(kinds[index % 5], {}),
        }
        for index in range(size)
    }


def a_day_of(fleet: dict[str, dict[str, object]], start: datetime, seed: int = 11) -> list[Reading]:
    """Every station every 10 minutes for 24 h and 30 min, values across their whole ranges."""
    rng = random.Random(seed)
    return [
        Reading(
            station=station,
            kind=Kind(str(attrs["kind"])),
            ts=start + timedelta(minutes=10 * step),
            values={
                m: round(rng.uniform(spec.low, min(spec.high, spec.low + 300)), 2)
                for m, spec in METRICS[Kind(str(attrs["kind"]))].items()
            },
        )
        for step in range(24 * 6 + 4)
        for station, attrs in fleet.items()
    ]


def a_day_is_a_year(folder: Path) -> Path:
    """The shipped catalogue with the year's figures judged from the first day (``min_days: 1``),
    so that a day of a fleet exercises them; written to ``folder``."""
    text = SHIPPED.read_text(encoding="utf-8")
    assert text.count("min_days: 30") == 2, "the catalogue's year-to-date rules changed"
    path = folder / "catalogue-a-day-is-a-year.yaml"
    path.write_text(text.replace("min_days: 30", "min_days: 1"), encoding="utf-8")
    return path
