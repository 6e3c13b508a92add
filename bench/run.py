"""``python -m bench.run`` (``make bench``): the ceilings and our figures, printed and saved."""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from bench import ceilings, day_state, latency, soak, throughput
from bench.stack import bench_stack
from envalert.core import compat

PARTS = ["throughput", "latency", "memory", "day", "soak"]


def show(figures: dict[str, Any]) -> None:
    for name, value in figures.items():
        small = isinstance(value, float) and value < 10
        click.echo(f"  {name:28} {value:12,.3f}" if small else f"  {name:28} {value:12,.0f}")


@click.command()
@click.option("--part", "parts", multiple=True, type=click.Choice(PARTS), default=PARTS, show_default=True)
@click.option("--ceiling-messages", default=50_000, show_default=True)
@click.option("--fleet", "fleets", multiple=True, type=int, default=[1000, 10000], show_default=True)
@click.option(
    "--readings", default=60_000, show_default=True, help="throughput: readings, a minute apart per station"
)
@click.option(
    "--latency",
    "latency_runs",
    multiple=True,
    type=(int, float),
    default=[(1000, 300.0), (10000, 167.0)],
    show_default=True,
    metavar="STATIONS READINGS_PER_S",
    help="latency: a fleet, and the background readings/s its other stations send meanwhile "
    "(10,000 at 167/s: each once a minute, as real stations report)",
)
@click.option("--triggers", default=100, show_default=True, help="latency: alerts raised, a second apart")
@click.option(
    "--memory-fleet",
    "memory_fleets",
    multiple=True,
    type=int,
    default=[1000, 10000, 100000],
    show_default=True,
)
@click.option(
    "--memory-minutes", default=1, show_default=True, help="memory: minutes of readings per station"
)
@click.option(
    "--day-fleet", default=10000, show_default=True, help="day: stations holding a day of state each"
)
@click.option(
    "--day-minutes", default=1, show_default=True, help="day: minutes of readings per station after it"
)
@click.option("--soak-stations", default=2000, show_default=True, help="soak: stations, each reporting every")
@click.option("--soak-every", default=10, show_default=True, help="soak: … this many seconds")
@click.option("--soak-minutes", default=15.0, show_default=True, help="soak: for this long")
@click.option("--out", type=click.Path(path_type=Path), default=Path("bench/results.json"), show_default=True)
def main(
    *,
    parts: tuple[str, ...],
    ceiling_messages: int,
    fleets: tuple[int, ...],
    readings: int,
    latency_runs: tuple[tuple[int, float], ...],
    triggers: int,
    memory_fleets: tuple[int, ...],
    memory_minutes: int,
    day_fleet: int,
    day_minutes: int,
    soak_stations: int,
    soak_every: int,
    soak_minutes: float,
    out: Path,
) -> None:
    """Start a throwaway local stack, measure its raw ceilings, then the pipeline: throughput end to
    end, alert latency under load, the worker's memory against the number of stations, fresh
    and with a day of state, and Kafka's memory and disk through a long steady stream."""
    compat.apply()  # the ceilings' own clients, as the envalert command does for its processes
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()} {platform.python_version()}",
    }
    # Each figure on a fresh stack, so that none measures what an earlier one left on it.
    with bench_stack() as stack:
        click.secho("ceilings (nothing of ours in between):", bold=True)
        limits = ceilings.measure(stack, ceiling_messages)
    show(limits)
    results["ceilings"] = limits
    for part, sizes in (("throughput", fleets), ("memory", memory_fleets)):
        if part not in parts:
            continue
        for size in sizes:
            length = max(1, readings // size) if part == "throughput" else memory_minutes
            click.secho(
                f"{part}: {size} stations × {length} min, MQTT → bridge → Kafka → worker → InfluxDB:",
                bold=True,
            )
            with bench_stack() as stack:
                run = throughput.end_to_end(stack, size, length)
            run["ratio_to_mqtt_ceiling"] = run["end_to_end_per_s"] / limits["mqtt_qos1_msgs_per_s"]
            run["ratio_to_faust_ceiling"] = run["end_to_end_per_s"] / limits["faust_agent_per_s"]
            run["ratio_to_influx_ceiling"] = run["end_to_end_per_s"] / limits["influx_write_points_per_s"]
            show(run)
            results.setdefault(part, []).append(run)
    if "day" in parts:
        click.secho(
            f"memory with a day of state: {day_fleet} stations' timelines recovered, then "
            f"{day_minutes} min of readings:",
            bold=True,
        )
        with bench_stack() as stack:
            results["day"] = day_state.worker_with_a_day(stack, day_fleet, day_minutes)
        show(results["day"])
    for stations, background_rate in latency_runs if "latency" in parts else []:
        click.secho(
            f"alert latency: {triggers} alerts among {stations} stations, "
            f"{background_rate:g} readings/s of background (waits set to 0: {latency.WAITS}):",
            bold=True,
        )
        with bench_stack() as stack:
            run = latency.alert_latency(stack, stations, triggers, background_rate)
        show(run)
        results.setdefault("latency", []).append(run)
    if "soak" in parts:
        click.secho(
            f"soak: {soak_stations} stations every {soak_every} s for {soak_minutes:g} min, Kafka's "
            "memory and disk with retention and compaction applying within minutes:",
            bold=True,
        )
        with bench_stack(kafka_overrides=soak.SMALL_SEGMENTS) as stack:
            results["soak"] = soak.soak(stack, soak_stations, timedelta(seconds=soak_every), soak_minutes)
        show(results["soak"])
    out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    click.echo(f"saved {out}")


if __name__ == "__main__":
    main()
