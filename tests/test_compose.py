"""docker-compose.yml cannot be run here (no Docker engine), so check what can be read from it:
it parses, and the services' names, ports and environment agree with the settings the code reads."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from ingest.settings import ENV_PREFIX, BridgeSettings, GatewaySettings
from notifiers.board.users import load_users
from notifiers.directory import load_directory
from notifiers.settings import NotifierSettings
from streams.kafka_local import BROKER_SETTINGS, KAFKA_VERSION, Kafka
from streams.settings import WorkerSettings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]


#: What the tests give for compose's required variables (``${NAME:?why}``).
REQUIRED = {"ENVALERT_BOARD_TOKEN": "a-board-token-of-some-length"}


def interpolate(value: object) -> str:
    """Compose's ``${NAME:-default}``, taking the default, ``${NAME:?why}``, taking REQUIRED, and
    ``$$`` for a literal dollar."""
    text = re.sub(r"(?<!\$)\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(value))
    text = re.sub(r"(?<!\$)\$\{([A-Z_]+):\?[^}]*\}", lambda m: REQUIRED[m[1]], text)
    return text.replace("$$", "$")


def environment(service: str) -> dict[str, str]:
    return {key: interpolate(value) for key, value in SERVICES[service]["environment"].items()}


def settings_env(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith(ENV_PREFIX):
            monkeypatch.delenv(key)
    for key, value in environment(service).items():
        monkeypatch.setenv(key, value)


def test_the_expected_services_are_defined() -> None:
    assert set(SERVICES) == {
        "mosquitto",
        "kafka",
        "influxdb",
        "grafana",
        "bridge",
        "hj212",
        "worker",
        "notifier",
        "sink",
    }
    for name, service in SERVICES.items():
        for needed in service.get("depends_on", {}):
            assert needed in SERVICES, f"{name} depends on unknown service {needed}"


@pytest.mark.parametrize(
    ("service", "settings"),
    [
        ("bridge", BridgeSettings),
        ("hj212", GatewaySettings),
        ("worker", WorkerSettings),
        ("notifier", NotifierSettings),
    ],
)
def test_every_envalert_variable_is_a_setting_the_code_reads(service: str, settings: type[Any]) -> None:
    fields = {f"{ENV_PREFIX}{name.upper()}" for name in settings.model_fields}
    fields |= set(re.findall(r"\$\{(ENVALERT_[A-Z_]+)", (ROOT / "notifiers/directory.yaml").read_text()))
    # Secrets the config files mounted into the service name (the board's users file).
    mounted = [
        COMPOSE["configs"][c["source"]].get("content", "") for c in SERVICES[service].get("configs", [])
    ]
    fields |= {name for text in mounted for name in re.findall(r"\$\$\{(ENVALERT_[A-Z_]+)", text)}
    variables = {key for key in environment(service) if key.startswith(ENV_PREFIX)}
    assert variables, f"{service} sets no {ENV_PREFIX}* variables"
    assert variables <= fields, f"unknown settings in {service}: {sorted(variables - fields)}"


def test_the_bridge_reaches_mosquitto_and_kafka_by_their_service_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings_env("bridge", monkeypatch)
    bridge = BridgeSettings()
    assert bridge.mqtt_host == "mosquitto"
    assert f"listener {bridge.mqtt_port}" in COMPOSE["configs"]["mosquitto-conf"]["content"]
    assert bridge.kafka_bootstrap == "kafka:9092"
    assert "PLAINTEXT://kafka:9092" in SERVICES["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]


def test_kafka_is_the_local_stacks_release_with_its_broker_settings() -> None:
    """What runs on one server with `envalert stack up` runs the same in compose, but for the
    number of partitions (compose is for bigger fleets) and where the log lies."""
    kafka = SERVICES["kafka"]
    assert kafka["image"] == f"apache/kafka:{KAFKA_VERSION}"
    settings = {key: str(value) for key, value in kafka["environment"].items()}
    for key, value in BROKER_SETTINGS.items():
        if key != "num.partitions":
            assert settings.get("KAFKA_" + key.upper().replace(".", "_")) == value, key
    assert settings["KAFKA_LOG_DIRS"] == "/var/lib/kafka/data"
    assert "kafka-data:/var/lib/kafka/data" in kafka["volumes"]
    heap = Kafka(9092, 9093).heap_mb
    assert settings["KAFKA_HEAP_OPTS"].split() == [f"-Xmx{heap}m", f"-Xms{heap}m", "-XX:+AlwaysPreTouch"]


def test_the_worker_writes_to_the_provisioned_influxdb_bucket(monkeypatch: pytest.MonkeyPatch) -> None:
    settings_env("worker", monkeypatch)
    worker = WorkerSettings()
    influx = environment("influxdb")
    url = urlsplit(worker.influx_url)
    assert (url.hostname, url.port) == ("influxdb", 8086)
    assert worker.influx_api == "v2"
    assert worker.influx_org == influx["DOCKER_INFLUXDB_INIT_ORG"]
    assert worker.influx_bucket == influx["DOCKER_INFLUXDB_INIT_BUCKET"]
    assert worker.influx_token is not None
    assert worker.influx_token.get_secret_value() == influx["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"]
    assert worker.kafka_bootstrap == "kafka:9092"
    assert worker.worker_web_bind == "0.0.0.0"
    assert f"{worker.worker_web_port}:{worker.worker_web_port}" in SERVICES["worker"]["ports"]


def test_grafana_is_provisioned_with_the_influxdb_datasource() -> None:
    content = interpolate(COMPOSE["configs"]["grafana-datasource"]["content"])
    datasources = yaml.safe_load(content)["datasources"]
    (source,) = datasources
    influx = environment("influxdb")
    assert urlsplit(source["url"]).hostname == "influxdb"
    assert source["jsonData"]["organization"] == influx["DOCKER_INFLUXDB_INIT_ORG"]
    assert source["jsonData"]["defaultBucket"] == influx["DOCKER_INFLUXDB_INIT_BUCKET"]
    assert source["secureJsonData"]["token"] == "${ENVALERT_INFLUX_TOKEN}"
    assert "ENVALERT_INFLUX_TOKEN" in SERVICES["grafana"]["environment"]


def test_the_image_holds_every_package_and_runs_the_envalert_command() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [name.rstrip("*") for name in project["tool"]["setuptools"]["packages"]["find"]["include"]]
    dockerfile = SERVICES["bridge"]["build"]["dockerfile_inline"]
    for package in packages:
        assert f"COPY {package} {package}" in dockerfile
    assert 'ENTRYPOINT ["envalert"]' in dockerfile
    assert "envalert" in project["project"]["scripts"]
    assert SERVICES["bridge"]["command"] == ["bridge"] and SERVICES["worker"]["command"] == ["worker"]


def test_the_notifier_keeps_its_store_on_a_volume_reaches_the_sink_and_serves_the_board(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings_env("notifier", monkeypatch)
    notifier = NotifierSettings()
    assert SERVICES["notifier"]["command"] == ["notify", "run"]
    assert notifier.influx_url == "http://influxdb:8086" and notifier.kafka_bootstrap == "kafka:9092"
    assert any(
        volume.endswith(f":{notifier.notifier_db.parent}") for volume in SERVICES["notifier"]["volumes"]
    )
    jinshui = load_directory(environ=environment("notifier")).find("金水区")
    assert jinshui is not None
    assert [urlsplit(contact.url).netloc for contact in jinshui.contacts or []] == [
        "sink:2525",
        "sink:2580",
        "sink:2580",
    ]
    assert (
        notifier.board_bind == "0.0.0.0"
        and f"{notifier.board_port}:{notifier.board_port}" in (SERVICES["notifier"]["ports"])
    )
    assert notifier.board_url == f"http://localhost:{notifier.board_port}/board"
    [users] = SERVICES["notifier"]["configs"]
    assert users["target"] == str(notifier.board_users_file)
    users_file = tmp_path / "board-users.yaml"
    users_file.write_text(interpolate(COMPOSE["configs"][users["source"]]["content"]), encoding="utf-8")
    board_users = load_users(users_file, environment("notifier"))
    assert board_users.who(f"Bearer {REQUIRED['ENVALERT_BOARD_TOKEN']}") == "值班员"
    sink = SERVICES["sink"]["command"]
    assert sink[:2] == ["notify", "sink"] and "0.0.0.0" in sink


def test_the_hj212_gateway_takes_loggers_from_outside_and_publishes_to_mosquitto(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings_env("hj212", monkeypatch)
    gateway = GatewaySettings()
    assert SERVICES["hj212"]["command"] == ["hj212"]
    assert (gateway.mqtt_host, gateway.mqtt_port, gateway.hj212_bind) == ("mosquitto", 1883, "0.0.0.0")
    assert f"{gateway.hj212_port}:{gateway.hj212_port}" in SERVICES["hj212"]["ports"]
