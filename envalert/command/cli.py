"""The ``envalert`` command: the local stack, the pipeline's processes, and the demo."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import click
from pydantic import SecretStr

from envalert.command import processes
from envalert.command.host import StackError, install_system_packages
from envalert.command.local_accounts import HJ212_PASSWORD, bridge_account, env_for, local_accounts
from envalert.core import compat
from envalert.core.config_files import ConfigError
from envalert.core.settings import LOG_FORMAT
from envalert.core.signals import run_until_signalled, stop_on_signal
from envalert.core.stations import DEFAULT_STATIONS, load_stations
from ingest.settings import BridgeSettings, GatewaySettings
from notifiers.cli import notify
from rules.catalogue import SHIPPED as SHIPPED_RULES
from rules.catalogue import all_rules, explain, load_catalogue
from rules.durations import format_duration
from rules.model import Catalogue
from rules.rule_tests import load_suite, run_suite
from simulators.cli import record_command, replay_command, simulate
from streams.collector import tune_for_latency
from streams.settings import WorkerSettings

if TYPE_CHECKING:
    from envalert.command.stack import ManagedService


def _stack(folder: Path, *, starting: bool = False) -> list[ManagedService]:
    """The local services; only starting them needs the broker's accounts (made on first start)."""
    from envalert.command.stack import local_stack  # brings aiokafka: not for every command

    bridge, worker = BridgeSettings(), WorkerSettings()
    kafka_port = int(bridge.kafka_bootstrap.rsplit(":", 1)[1])
    influx_port = urlsplit(worker.influx_url).port or 8086
    access = None
    if starting:
        accounts = local_accounts(folder)
        assert accounts is not None
        try:
            access = accounts.access(load_stations(worker.stations_file))
        except (ConfigError, ValueError) as error:  # ValueError: a station named as a service account
            raise click.ClickException(str(error)) from None
    return local_stack(folder, bridge.mqtt_port, kafka_port, influx_port, access=access)


#: The shortest MQTT password or secret a deployment may use.
MIN_SECRET_LENGTH = 16

STACK_DIR = click.option(
    "--dir",
    "folder",
    type=click.Path(path_type=Path),
    default=Path(".envalert/stack"),
    envvar="ENVALERT_STACK_DIR",
    show_default=True,
    help="where the services keep config, data and logs",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """envalert: real-time alerts for Zhengzhou's environmental monitoring stations.

    Settings come from ENVALERT_* environment variables (see README.md).
    """
    compat.apply()


main.add_command(notify)
for command in (simulate, replay_command, record_command):
    main.add_command(command)


@main.group()
def stack() -> None:
    """The local stack without Docker: mosquitto, Apache Kafka and influxd."""


@stack.command("install")
@click.option("--browser", is_flag=True, help="also Chromium and chromedriver, for the board's browser test")
def stack_install(browser: bool) -> None:
    """Install what the local stack needs, if missing: mosquitto, influxdb, Java and Maven from
    Debian's packages, then Apache Kafka from Maven Central (once, into ~/.cache/envalert)."""
    try:
        for path in install_system_packages(browser=browser):
            click.echo(f"found {path}")
        click.echo(f"found {fetch_kafka()}")
    except StackError as error:
        raise click.ClickException(str(error)) from None


def fetch_kafka() -> Path:
    """The Kafka release's jars, saying so when they have to be fetched (43 MB, once)."""
    from envalert.command.kafka_local import KAFKA_VERSION, fetch_release, release_cache

    cached = release_cache() / "libs"
    if not cached.is_dir():
        click.echo(f"fetching Apache Kafka {KAFKA_VERSION} from Maven Central (43 MB, once) …")
    return fetch_release()


@stack.command("up")
@STACK_DIR
def stack_up(folder: Path) -> None:
    """Install what is missing, start each service on its own port, wait until healthy."""
    try:
        fetch_kafka()
        for service in _stack(folder, starting=True):
            click.echo(f"starting {service.spec.name} …")
            service.start()
            click.echo(f"  {service.status()}")
    except StackError as error:
        raise click.ClickException(str(error)) from None


@stack.command("down")
@STACK_DIR
def stack_down(folder: Path) -> None:
    """Stop the services cleanly (SIGTERM, then SIGKILL after 15 s)."""
    for service in reversed(_stack(folder)):
        service.stop()
        click.echo(service.status())


@stack.command("accounts")
@STACK_DIR
@click.option("--station", "station_ids", multiple=True, help="also this station's account (repeatable)")
def stack_accounts(folder: Path, station_ids: tuple[str, ...]) -> None:
    """Print the local broker's accounts as environment settings: the gateway's for `envalert
    simulate` and `replay`, the bridge's, and any station's."""
    accounts = local_accounts(folder, create=False)
    if accounts is None:
        raise click.ClickException(f"no accounts in {folder} yet: run `envalert stack up` first")
    named = [("gateway (simulate, replay, record)", accounts.gateway), ("bridge", accounts.bridge)]
    named += [(f"station {sid}", accounts.station(sid)) for sid in station_ids]
    for label, account in named:
        click.echo(f"# {label}")
        click.echo("".join(f"export {key}={value}\n" for key, value in env_for(account).items()))
    click.echo("# the catalogue's HJ 212 data loggers (envalert hj212, simulate --hj212)")
    click.echo(f"export {HJ212_PASSWORD}={accounts.hj212_password}")


@main.command("broker-accounts")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="where to write mosquitto's dynamic-security configuration",
)
def broker_accounts(out: Path) -> None:
    """Write mosquitto's accounts for a deployment (docker-compose.yml's broker-accounts step):
    the bridge's, the gateway's and each station's of ENVALERT_STATIONS_FILE, each bound to its
    topics and client id. The secrets come from ENVALERT_MQTT_BRIDGE_PASSWORD,
    ENVALERT_MQTT_GATEWAY_PASSWORD and ENVALERT_MQTT_STATION_SECRET (a station's password is
    the first 32 hex digits of HMAC-SHA256 of the secret and its id)."""
    from ingest.access import Account, broker_access, dynamic_security

    needed = (
        "ENVALERT_MQTT_BRIDGE_PASSWORD",
        "ENVALERT_MQTT_GATEWAY_PASSWORD",
        "ENVALERT_MQTT_STATION_SECRET",
    )
    short = [name for name in needed if len(os.environ.get(name, "")) < MIN_SECRET_LENGTH]
    if short:
        raise click.ClickException(
            f"{', '.join(short)}: not set, or shorter than {MIN_SECRET_LENGTH} characters; fix: set each, "
            "e.g. from `python3 -c 'import secrets; print(secrets.token_urlsafe(24))'`"
        )
    try:
        stations = load_stations(GatewaySettings().stations_file)
        access = broker_access(
            stations.values(),
            os.environ["ENVALERT_MQTT_STATION_SECRET"],
            bridge_account("envalert-bridge", os.environ["ENVALERT_MQTT_BRIDGE_PASSWORD"]),
            Account("envalert-gateway", os.environ["ENVALERT_MQTT_GATEWAY_PASSWORD"]),
        )
    except (ConfigError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(dynamic_security(access), indent=1), encoding="utf-8")
    # Read by mosquitto under its own user: salted PBKDF2 hashes, no password.
    out.chmod(0o644)
    click.echo(f"wrote {len(access.grants)} accounts ({len(stations)} stations) to {out}")


@stack.command("status")
@STACK_DIR
def stack_status(folder: Path) -> None:
    """Show each service, its pid and address; exit 1 unless all are healthy."""
    services = _stack(folder)
    for service in services:
        click.echo(service.status())
    if not all(service.pid and service.spec.healthy() for service in services):
        sys.exit(1)


@main.group()
def rules() -> None:
    """The rule catalogue: the plan's and the national standards' thresholds."""


def _catalogue(path: Path) -> Catalogue:
    try:
        return load_catalogue(path)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None


@rules.command("check")
@click.argument("path", type=click.Path(path_type=Path), default=SHIPPED_RULES)
def rules_check(path: Path) -> None:
    """Validate a rule catalogue (the shipped one by default); exit 1 with each error."""
    catalogue = _catalogue(path)
    counts = f"{len(catalogue.rules)} station rules and {len(catalogue.fleet_rules)} fleet rules"
    click.echo(f"{path}: {counts}, all valid")


@rules.command("list")
@click.option(
    "--catalogue", "path", type=click.Path(path_type=Path), default=SHIPPED_RULES, show_default=True
)
def rules_list(path: Path) -> None:
    """List every rule: id, title (zh / en) and source."""
    catalogue = _catalogue(path)
    for rule in all_rules(catalogue).values():
        click.echo(f"{rule.id:32} {rule.title.zh} / {rule.title.en}\n{'':32} {rule.source}")


@rules.command("explain")
@click.argument("rule_id")
@click.option(
    "--catalogue", "path", type=click.Path(path_type=Path), default=SHIPPED_RULES, show_default=True
)
def rules_explain(rule_id: str, path: Path) -> None:
    """Say in plain words (zh and en) what a rule does and why."""
    catalogue = _catalogue(path)
    found = all_rules(catalogue)
    if rule_id not in found:
        raise click.ClickException(f"no rule {rule_id!r} in {path}; the rules are: {', '.join(found)}")
    click.echo(explain(found[rule_id]))


@rules.command("test")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def rules_test(files: tuple[Path, ...]) -> None:
    """Prove rules on series of values before deploying them, as promtool test rules does.

    Each FILE (YAML) names rule catalogues, stations, input series in promtool's notation and,
    at chosen times, the alerts expected to be firing and the figures expected; see
    rules/tests/ for examples. Exit 1 if a test fails, 2 if a file is malformed."""
    malformed = failed = 0
    for path in files:
        try:
            suite = load_suite(path, DEFAULT_STATIONS)
        except ConfigError as error:
            click.echo(f"MALFORMED {error}", err=True)
            malformed += 1
            continue
        failures = run_suite(suite)
        for failure in failures:
            test, shown = failure.test, failure.test.eval_time
            when = format_duration(shown) if isinstance(shown, timedelta) else shown.isoformat()
            about = f", rule {test.rule}" if test.rule else ""
            at = failure.at.isoformat()
            click.echo(f"FAILED {path}: test {failure.index + 1} (eval_time {when} = {at}{about})")
            for line in failure.lines:
                click.echo(f"  {line}")
        failed += len(failures)
        total = len(suite.spec.tests)
        click.echo(f"{path}: {total - len(failures)} of {total} tests passed")
    if malformed:
        sys.exit(2)
    if failed:
        sys.exit(1)


@main.command()
@click.option("-l", "--loglevel", default="info", show_default=True)
def bridge(loglevel: str) -> None:
    """Run the MQTT → Kafka bridge until SIGINT or SIGTERM."""
    from aiokafka.errors import KafkaError

    from ingest.bridge import serve

    logging.basicConfig(level=loglevel.upper(), format=LOG_FORMAT)
    settings = BridgeSettings()
    try:
        run_until_signalled(lambda stop: serve(settings, stop))
    except KafkaError as error:
        raise click.ClickException(f"Kafka at {settings.kafka_bootstrap}: {error}") from None


@main.command()
@click.option("-l", "--loglevel", default="info", show_default=True)
@STACK_DIR
def hj212(loglevel: str, folder: Path) -> None:
    """Run the HJ 212-2017 gateway: data loggers connect over TCP (ENVALERT_HJ212_PORT, 9212),
    their readings go to MQTT in our contract, until SIGINT or SIGTERM.

    Stations connect with the MN and password of their `hj212` entry in the station catalogue.
    With the local stack, ENVALERT_HJ212_PASSWORD (the shipped catalogue's) defaults to the
    stack's own, and with no ENVALERT_MQTT_USERNAME set it publishes with the stack's gateway
    account."""
    from ingest.hj212.gateway import GatewayConfigError, loggers, run_gateway

    logging.basicConfig(level=loglevel.upper(), format=LOG_FORMAT)
    accounts = local_accounts(folder, create=False)
    settings = GatewaySettings()
    if accounts and "ENVALERT_MQTT_USERNAME" not in os.environ:
        account = {
            "mqtt_username": accounts.gateway.username,
            "mqtt_password": SecretStr(accounts.gateway.password),
        }
        settings = settings.model_copy(update=account)
    environ = dict(os.environ)
    if accounts:
        environ.setdefault(HJ212_PASSWORD, accounts.hj212_password)
    try:
        stations = loggers(load_stations(settings.stations_file), environ)
    except (ConfigError, GatewayConfigError) as error:
        raise click.ClickException(str(error)) from None
    try:
        run_until_signalled(lambda stop: run_gateway(settings, stations, stop))
    except ConnectionError as error:
        raise click.ClickException(str(error)) from None


@main.command()
@click.option("-l", "--loglevel", default="info", show_default=True)
def worker(loglevel: str) -> None:
    """Run the Faust worker: readings stored and judged, the city's figures, alerts to Kafka."""
    from aiokafka.errors import KafkaError

    from envalert.core.kafka import ensure_topics
    from streams.worker import build_worker

    settings = WorkerSettings()
    try:
        app = build_worker(settings)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    # Made here rather than by Faust as it starts: its consumer may join the group before it
    # sees a changelog Faust has just made, and then fails every write to that table.
    changelogs = [table.changelog_topic.get_topic_name() for table in app.tables.values()]
    try:
        asyncio.run(ensure_topics(settings, settings.pipeline_topics(), compacted=changelogs))
    except KafkaError as error:
        raise click.ClickException(f"Kafka at {settings.kafka_bootstrap}: {error}") from None
    web = ["--web-port", str(settings.worker_web_port), "--web-bind", settings.worker_web_bind]
    sys.argv = ["envalert worker", "worker", "--loglevel", loglevel, *web]
    tune_for_latency()
    app.main()


@main.command()
@STACK_DIR
def run(folder: Path) -> None:
    """Run the bridge, the worker and the notifier against the configured services until Ctrl-C.

    With the local stack (`envalert stack up`) and no ENVALERT_MQTT_USERNAME set, the bridge
    uses the stack's bridge account."""
    log_dir = Path(".envalert/logs")
    env = dict(os.environ)
    accounts = local_accounts(folder, create=False)
    if accounts and "ENVALERT_MQTT_USERNAME" not in env:
        env |= env_for(accounts.bridge)
    children: list[subprocess.Popen[bytes]] = []
    with stop_on_signal() as stopped:
        try:
            for name in processes.COMMANDS:  # one by one, so that those started are stopped if one fails
                children.append(processes.launch(name, log_dir / f"{name}.log", env))
            click.echo(f"bridge, worker and notifier started; logs in {log_dir}/. Ctrl-C stops them.")
            while not stopped.wait(timeout=1):
                if any(child.poll() is not None for child in children):
                    click.echo("a pipeline process exited; stopping the others")
                    break
        finally:
            processes.stop(children)


@main.command()
@STACK_DIR
@click.option(
    "--scenario",
    default="demo",
    show_default=True,
    help="which scenario to publish (envalert simulate --help)",
)
@click.option("--keep-running", is_flag=True, help="leave the local stack up afterwards")
@click.option("--watch", is_flag=True, help="keep the pipeline and the board running until Ctrl-C")
def demo(folder: Path, scenario: str, keep_running: bool, watch: bool) -> None:
    """Start the local stack and the pipeline, publish two days of the simulated fleet with an
    episode of every alert family, and show what arrived, the alerts and the notifications."""
    from envalert.command.demo import run_demo

    click.get_current_context().invoke(stack_up, folder=folder)
    accounts = local_accounts(folder)
    assert accounts is not None
    try:
        run_demo(Path(".envalert/logs"), scenario, accounts, watch=watch)
    finally:
        if keep_running:
            click.echo("\nthe stack keeps running: `envalert stack status`, `envalert stack down`")
        else:
            click.get_current_context().invoke(stack_down, folder=folder)


if __name__ == "__main__":
    main()
