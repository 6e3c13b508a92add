"""``envalert simulate``, ``envalert replay`` and ``envalert record``: stations for developers."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import click

from envalert.core.config_files import ConfigError
from envalert.core.contract import Reading
from envalert.core.secrets import SecretMissingError
from envalert.core.signals import stop_on_signal
from envalert.core.stations import DEFAULT_STATIONS, Station, load_stations
from ingest.publisher import PublishRefusedError, message_of, publish_messages
from ingest.settings import MqttSettings
from rules.durations import parse_duration
from simulators.fleet import scaled, write_catalogue
from simulators.generators import baseline
from simulators.hj212_logger import send_readings
from simulators.recording import RecordingError
from simulators.replay import paced, progress_file, record, replay
from simulators.scenarios import load_scenario, shipped

SPEED = click.option(
    "--speed",
    type=float,
    default=1.0,
    show_default=True,
    help="how many times faster than the readings' own time; 0: as fast as the broker acks",
)


@click.command()
@click.option("--scenario", help=f"a scenario name ({', '.join(shipped())}) or YAML file; none: the baseline")
@click.option(
    "--stations",
    "stations_file",
    type=click.Path(path_type=Path),
    default=DEFAULT_STATIONS,
    show_default=True,
)
@click.option(
    "--size",
    type=click.IntRange(min=1),
    default=None,
    help="N stations: the catalogue's first N, or copies of it",
)
@click.option(
    "--catalogue-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="write the fleet's catalogue here, for the bridge, worker and notifier (ENVALERT_STATIONS_FILE)",
)
@click.option("--duration", default="1h", show_default=True, help="baseline only: how long, e.g. 30m, 6h, 2d")
@click.option(
    "--step", default="1m", show_default=True, help="baseline only: time between a station's readings"
)
@click.option("--seed", type=int, default=2025, show_default=True)
@click.option("--recent", is_flag=True, help="move the scenario to the days just before today's midnight")
@click.option(
    "--hj212",
    "hj212",
    metavar="HOST:PORT",
    default=None,
    help="speak HJ 212-2017 to this gateway (`envalert hj212`) instead of MQTT: the stations with "
    "an hj212 entry in the catalogue, as real-time data",
)
@SPEED
def simulate(
    *,
    scenario: str | None,
    hj212: str | None,
    recent: bool,
    stations_file: Path,
    size: int | None,
    catalogue_out: Path | None,
    duration: str,
    step: str,
    seed: int,
    speed: float,
) -> None:
    """Publish a simulated fleet over MQTT: the baseline from now on (live at --speed 1), or a
    scenario on its own dates (at --speed 0 or 3600 to see days in seconds or minutes)."""
    try:
        stations = load_stations(stations_file)
        if size is not None:
            stations = scaled(stations, size)
        if catalogue_out:
            write_catalogue(stations, catalogue_out)
            click.echo(f"wrote the catalogue of {len(stations)} stations to {catalogue_out}")
        if scenario:
            plan = load_scenario(scenario)
            plan = plan.recent(datetime.now(UTC)) if recent else plan
            readings = plan.readings(stations)
            click.echo(
                f"scenario {plan.name}: {plan.title.zh} / {plan.title.en}; expects {', '.join(plan.expects)}"
            )
        else:
            start = datetime.now(UTC).replace(second=0, microsecond=0)
            every = parse_duration(step)
            readings = list(baseline(stations.values(), start, start + parse_duration(duration), every, seed))
    except (ConfigError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(
        f"{len(readings)} readings from {len(stations)} stations, from {readings[0].ts:%Y-%m-%d %H:%M %z}"
    )
    if hj212:
        # Paced as the MQTT messages would be: each reading when its time comes round.
        timed = (
            reading for reading, _ in zip(readings, paced(map(message_of, readings), speed), strict=True)
        )
        send_hj212(hj212, timed, stations, len(readings))
        return
    with click.progressbar(length=len(readings), label="publishing") as bar:
        try:
            published = publish_messages(
                MqttSettings(),
                paced(map(message_of, readings), speed),
                client_id="envalert-simulate",
                on_sent=lambda _: bar.update(1),
            )
        except (ConnectionError, PublishRefusedError) as error:
            raise click.ClickException(str(error)) from None
    click.echo(f"published {published} readings, all acked by the broker")


def send_hj212(address: str, readings: Iterable[Reading], stations: dict[str, Station], total: int) -> None:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise click.BadParameter(f"{address!r} is not HOST:PORT", param_hint="--hj212")
    with click.progressbar(length=total, label=f"sending over HJ 212 to {address}") as bar:
        try:
            sent, skipped = send_readings(
                (host, int(port)), readings, stations, on_sent=lambda _: bar.update(1)
            )
        except OSError as error:
            raise click.ClickException(f"HJ 212 gateway {address}: {error}") from None
        except SecretMissingError as error:
            raise click.ClickException(
                f"a data logger's password: {error} (with the local stack, `envalert stack accounts` "
                "prints it)"
            ) from None
    click.echo(f"sent {sent} readings as HJ 212 real-time data, each answered by the gateway")
    if skipped:
        click.echo(f"skipped {skipped} readings of stations without an hj212 entry or factor code")


@click.command("replay")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@SPEED
@click.option("--resume", is_flag=True, help="start after the last message acked in an earlier run")
def replay_command(path: Path, speed: float, resume: bool) -> None:
    """Publish a recording (JSONL from `envalert record`) or readings (JSONL or CSV) again."""
    last = 0
    with click.progressbar(length=0, label=f"replaying {path.name}", show_pos=True) as bar:

        def advance(done: int, total: int) -> None:
            nonlocal last
            bar.length = total
            bar.update(done - last)
            last = done

        try:
            skipped, sent = replay(MqttSettings(), path, speed=speed, resume=resume, on_sent=advance)
        except PublishRefusedError as error:
            raise click.ClickException(
                f"{error}; the messages before it are done, and --resume starts from it once the "
                "broker accepts it"
            ) from None
        except (RecordingError, ConnectionError) as error:
            raise click.ClickException(str(error)) from None
    click.echo(f"published {sent} messages" + (f" after the {skipped} acked before" if skipped else ""))
    click.echo(f"progress in {progress_file(path)}")


@click.command("record")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--topic", default="env/v1/#", show_default=True)
@click.option("--for", "lasting", default=None, help="stop after this long (e.g. 10m); default: Ctrl-C")
def record_command(path: Path, topic: str, lasting: str | None) -> None:
    """Append every station message on TOPIC to PATH (JSON Lines), until Ctrl-C or SIGTERM."""
    with stop_on_signal() as stop:
        if lasting:
            limit = threading.Timer(parse_duration(lasting).total_seconds(), stop.set)
            limit.daemon = True  # stopped sooner by a signal, the recording must not wait for its limit
            limit.start()
        count = record(
            MqttSettings(),
            path,
            stop,
            topic=topic,
            on_ready=lambda: click.echo(f"recording {topic} to {path}; Ctrl-C stops", err=True),
        )
    click.echo(f"recorded {count} messages to {path}", err=True)
