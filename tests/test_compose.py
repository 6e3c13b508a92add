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

from envalert.command.kafka_local import BROKER_SETTINGS, KAFKA_VERSION, Kafka
from envalert.core.settings import ENV_PREFIX
from ingest.settings import BridgeSettings, GatewaySettings
from notifiers.board.users import load_users
from notifiers.directory import load_directory
from notifiers.settings import NotifierSettings
from streams.settings import WorkerSettings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]


#: What the tests give for compose's required variables (``${NAME:?why}``).
REQUIRED = {
    name: f"{name.lower()}-of-some-length"
    for name in (
        "ENVALERT_BOARD_TOKEN",
        "ENVALERT_INFLUX_TOKEN",
        "INFLUXDB_ADMIN_PASSWORD",
        "GRAFANA_ADMIN_PASSWORD",
        "ENVALERT_MQTT_BRIDGE_PASSWORD",
        "ENVALERT_MQTT_GATEWAY_PASSWORD",
        "ENVALERT_MQTT_STATION_SECRET",
        "ENVALERT_HJ212_PASSWORD",
    )
}


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
        "broker-accounts",
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
    # Secrets the shipped config files name: the directory's contacts, the catalogue's loggers.
    for shipped in ("notifiers/directory.yaml", "envalert/core/stations.yaml"):
        fields |= set(re.findall(r"\$\{(ENVALERT_[A-Z0-9_]+)(?:\}|:-)", (ROOT / shipped).read_text()))
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
    assert f"127.0.0.1:{worker.worker_web_port}:{worker.worker_web_port}" in SERVICES["worker"]["ports"]


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
    assert "COPY .ci/runtime.lock runtime.lock" in dockerfile
    assert "--require-hashes --requirement runtime.lock" in dockerfile, "the image takes the locked versions"
    pins = [
        dict(re.findall(r"^([a-z0-9._-]+)==(\S+)", (ROOT / ".ci" / name).read_text(), re.MULTILINE))
        for name in ("runtime.lock", "requirements.lock")
    ]
    assert pins[0] and all(pins[1].get(name) == version for name, version in pins[0].items()), (
        "the image's versions are the ones the tests ran with (`make lock` writes both)"
    )
    base = re.search(r"^FROM (\S+)", dockerfile, re.MULTILINE)
    assert base and re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", base[1]), "a pinned base image"
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


# --- secure by default (docs/SECURITY.md) -------------------------------------------------------

#: The ports people and stations need: MQTT for stations, HJ 212 for data loggers, the board and
#: Grafana for people. Everything else stays on the internal network or on the host's loopback.
PUBLIC_PORTS = {"mosquitto": "1883", "hj212": "9212", "notifier": "6067", "grafana": "3000"}


@pytest.mark.hostile
def test_only_the_ports_users_need_are_published_and_the_rest_only_on_loopback() -> None:
    """Kafka, InfluxDB and the worker were published on every interface with default secrets."""
    for name, service in SERVICES.items():
        for port in service.get("ports", []):
            host_part = str(port).rsplit(":", 1)[0]
            if name in PUBLIC_PORTS and str(port).endswith(f":{PUBLIC_PORTS[name]}"):
                continue
            assert host_part.startswith("127.0.0.1:"), f"{name} publishes {port} beyond this host"
    backend = COMPOSE["networks"]["backend"]
    assert backend.get("internal") is True
    for name in ("kafka", "influxdb", "worker", "bridge"):
        assert SERVICES[name]["networks"] == ["backend"], name


@pytest.mark.hostile
def test_every_secret_is_required_and_none_has_a_default() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    defaults = re.findall(r"\$\{([A-Z_]*(?:TOKEN|PASSWORD|SECRET)[A-Z_]*):-", text)
    assert defaults == [], f"secrets with a default: {defaults}"
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", text))
    assert {
        "ENVALERT_INFLUX_TOKEN",
        "INFLUXDB_ADMIN_PASSWORD",
        "GRAFANA_ADMIN_PASSWORD",
        "ENVALERT_BOARD_TOKEN",
        "ENVALERT_MQTT_BRIDGE_PASSWORD",
        "ENVALERT_MQTT_GATEWAY_PASSWORD",
        "ENVALERT_MQTT_STATION_SECRET",
        "ENVALERT_HJ212_PASSWORD",
    } <= required


@pytest.mark.hostile
def test_mosquitto_takes_only_the_generated_accounts() -> None:
    """mosquitto was anonymous on 1883."""
    conf = COMPOSE["configs"]["mosquitto-conf"]["content"]
    assert "allow_anonymous false" in conf and "allow_anonymous true" not in conf
    assert "plugin /usr/lib/mosquitto_dynamic_security.so" in conf
    made = SERVICES["broker-accounts"]
    assert made["command"][:1] == ["broker-accounts"]
    assert SERVICES["mosquitto"]["depends_on"]["broker-accounts"] == {
        "condition": "service_completed_successfully"
    }
    for name, account in (("bridge", "envalert-bridge"), ("hj212", "envalert-gateway")):
        env = SERVICES[name]["environment"]
        assert env["ENVALERT_MQTT_USERNAME"] == account and "ENVALERT_MQTT_PASSWORD" in env, name
    assert SERVICES["bridge"]["environment"]["ENVALERT_MQTT_CLIENT_ID"] == "envalert-bridge"


@pytest.mark.hostile
def test_every_service_has_a_healthcheck_and_a_restart_policy_and_none_runs_as_root() -> None:
    for name, service in SERVICES.items():
        if name == "broker-accounts":  # runs once, to its end
            continue
        assert service.get("restart") in {"unless-stopped", "always"}, name
        assert "healthcheck" in service, name
        assert service.get("user") != "root", name


@pytest.mark.hostile
def test_kafka_keeps_its_log_where_the_image_writes_and_advertises_its_service_name() -> None:
    """The apache/kafka image writes to KAFKA_LOG_DIRS, declared as a volume at
    /var/lib/kafka/data and owned by its user: the named volume must be mounted exactly there."""
    kafka = SERVICES["kafka"]
    log_dirs = kafka["environment"]["KAFKA_LOG_DIRS"]
    assert log_dirs == "/var/lib/kafka/data" and f"kafka-data:{log_dirs}" in kafka["volumes"]
    assert kafka["environment"]["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://kafka:9092"
