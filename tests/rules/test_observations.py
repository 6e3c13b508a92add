"""What each aggregation observes, value, time and words, over a day and a half of one station.

Every distinct computation of the shipped catalogue, and a few it does not use (a trailing and a
calendar mean, a short rate, flags and ranges of one named metric), is fed the same scripted
readings and a tick every five minutes. The stream holds what moves an aggregation's answer: two
nights, a gap of two and a half hours, a run of identical values, flagged minutes, values at and
beyond the instrument's range. The golden file is what they observe. After a deliberate change,
read the new text and write it back with:

    python -m tests.rules.test_observations > tests/rules/golden/observations.txt
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import TypeAdapter

from envalert.core.contract import Flag, Kind, Reading
from rules.aggregations import Observation, WindowState, on_reading, on_tick
from rules.catalogue import load_catalogue
from rules.model import Aggregation
from tests.rules import golden
from tests.rules.conftest import T0, station

STEP = timedelta(minutes=10)
SPAN = timedelta(hours=36)
GAP = (T0 + timedelta(hours=12), T0 + timedelta(hours=14, minutes=30))
#: The instrument's range of each metric the stream's out-of-range readings leave.
RANGES = {"pm25": (0.0, 500.0), "pm10": (0.0, 1000.0)}
BASE = {
    "pm25": 60.0, "pm10": 90.0, "so2": 12.0, "no2": 40.0, "co": 0.8, "o3": 120.0,
    "laeq": 48.0, "lmax": 62.0, "level": 85.0, "nmhc": 4.0, "nh3": 1.5,
}  # fmt: skip
#: What each kind's scripted readings carry: the metrics the shipped rules read.
METRICS = {
    Kind.AIR: ["pm25", "pm10", "so2", "no2", "co", "o3"],
    Kind.NOISE: ["laeq", "lmax"],
    Kind.GROUNDWATER: ["level"],
    Kind.VOCS: ["nmhc"],
    Kind.AMMONIA: ["nh3"],
}
FLAGS = {40: Flag.FAULT, 41: Flag.FAULT, 42: Flag.FAULT, 43: Flag.MAINTENANCE, 44: Flag.CALIBRATION}
ONE_METRIC_FLAGGED = {46: {"pm10": Flag.FAULT}, 47: {"pm25": Flag.OVER_RANGE}}
OUT_OF_RANGE = {50: {"pm25": 600.0, "pm10": 1200.0}, 51: {"pm25": 500.0, "pm10": 0.0}, 52: {"pm10": 1000.5}}
MADE_UP: list[tuple[Kind, dict[str, Any]]] = [
    (Kind.AIR, {"function": "mean", "metric": "pm25", "window": "30m", "min_samples": 3}),
    (Kind.AIR, {"function": "mean", "metric": "pm25", "window": "1h", "align": "calendar", "min_samples": 4}),
    (Kind.AIR, {"function": "mean", "metric": "pm25", "window": "24h", "align": "calendar"}),
    (Kind.AIR, {"function": "flagged_minutes", "metric": "pm25", "flags": ["D", "M"]}),
    (Kind.AIR, {"function": "outside_instrument_range", "metric": "pm25"}),
    (Kind.GROUNDWATER, {"function": "rate_per_day", "metric": "level", "window": "1h"}),
    (Kind.NOISE, {"function": "latest", "metric": "laeq"}),
]


def computations() -> list[tuple[Kind, Aggregation]]:
    shipped: dict[str, tuple[Kind, Aggregation]] = {}
    for rule in load_catalogue().rules:
        shipped.setdefault(rule.compute.model_dump_json(), (rule.applies_to.kinds[0], rule.compute))
    adapter: TypeAdapter[Aggregation] = TypeAdapter(Aggregation)
    return [*shipped.values(), *((kind, adapter.validate_python(compute)) for kind, compute in MADE_UP)]


def readings(kind: Kind) -> list[Reading]:
    """Every 10 minutes for 36 h but in the gap; values that change with each reading but for a
    run of twelve alike; flags on a few, on every metric or on one; values out of range, exactly
    at its bounds, and out of range in one metric only."""
    stream, at, index = [], T0, 0
    while at < T0 + SPAN:
        if not GAP[0] <= at < GAP[1]:
            step = 20 if 20 <= index < 32 else index
            values = {metric: BASE[metric] + (step * 7 % 13) * BASE[metric] / 40 for metric in METRICS[kind]}
            flags = {metric: FLAGS[index] for metric in values} if index in FLAGS else {}
            if kind is Kind.AIR:
                values |= OUT_OF_RANGE.get(index, {})
                flags |= ONE_METRIC_FLAGGED.get(index, {})
            stream.append(Reading(station=f"S-{kind.value}", kind=kind, ts=at, values=values, flags=flags))
            index += 1
        at += STEP
    return stream


def observed(kind: Kind, compute: Aggregation) -> list[str]:
    at = (
        station(kind, zone="1", instrument_ranges=RANGES)
        if kind is Kind.NOISE
        else station(kind, instrument_ranges=RANGES)
    )
    state, lines = WindowState(), []

    def write(source: str, observations: list[Observation]) -> None:
        lines.extend(
            f"  {source} {seen.at:%d %H:%M} {seen.value:.10g} | {seen.window} | {seen.window_zh}"
            for seen in observations
        )

    pending = readings(kind)
    tick = T0
    while tick <= T0 + SPAN:
        while pending and pending[0].ts <= tick:
            write("reading", on_reading(compute, state, pending.pop(0), at))
        write("tick   ", on_tick(compute, state, tick))
        tick += timedelta(minutes=5)
    return lines


def text() -> str:
    return "".join(
        f"{kind.value} {compute.model_dump_json(exclude_defaults=True)}\n"
        + "".join(f"{line}\n" for line in observed(kind, compute))
        for kind, compute in computations()
    )


def test_each_aggregation_observes_what_it_did() -> None:
    golden.assert_matches("observations.txt", text(), "the observations")


if __name__ == "__main__":
    print(text(), end="")
