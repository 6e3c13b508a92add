"""``python -m bench.run`` (``make bench``): the ceilings and our figures, printed and saved."""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime
from pathlib import Path

import click

from bench import ceilings, throughput
from bench.stack import bench_stack


@click.command()
@click.option("--ceiling-messages", default=50_000, show_default=True)
@click.option("--fleet", "fleets", multiple=True, type=int, default=[1000], show_default=True)
@click.option("--minutes", default=60, show_default=True, help="a reading a minute per station, this long")
@click.option("--out", type=click.Path(path_type=Path), default=Path("bench/results.json"), show_default=True)
def main(ceiling_messages: int, fleets: tuple[int, ...], minutes: int, out: Path) -> None:
    """Start a throwaway local stack, measure its raw ceilings, then the pipeline end to end."""
    results: dict[str, object] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()} {platform.python_version()}",
    }
    with bench_stack() as stack:
        click.secho("ceilings (nothing of ours in between):", bold=True)
        limits = ceilings.measure(stack, ceiling_messages)
        for name, value in limits.items():
            click.echo(f"  {name:28} {value:12,.0f}")
        results["ceilings"] = limits
        runs = []
        for day, size in enumerate(fleets):
            click.secho(
                f"end to end, {size} stations × {minutes} min (MQTT → bridge → Kafka → worker → InfluxDB):",
                bold=True,
            )
            run = throughput.end_to_end(stack, size, minutes, day)
            run["ratio_to_mqtt_ceiling"] = run["end_to_end_per_s"] / limits["mqtt_qos1_msgs_per_s"]
            run["ratio_to_influx_ceiling"] = run["end_to_end_per_s"] / limits["influx_write_points_per_s"]
            for name, value in run.items():
                click.echo(
                    f"  {name:28} {value:12,.3f}"
                    if isinstance(value, float) and value < 10
                    else f"  {name:28} {value:12,.0f}"
                )
            runs.append(run)
        results["end_to_end"] = runs
    out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    click.echo(f"saved {out}")


if __name__ == "__main__":
    main()
