"""Settings of the edge, MQTT and Kafka: ``ENVALERT_*`` variables, defaults that fit the local stack."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "ENVALERT_"
#: How every envalert process logs.
LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class EnvSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")


class MqttSettings(EnvSettings):
    """How to reach the MQTT broker; used by the bridge and by the simulated stations."""

    mqtt_host: str = "localhost"
    mqtt_port: int = 11883
    mqtt_username: str | None = None
    mqtt_password: SecretStr | None = None
    mqtt_tls: bool = False
    mqtt_ca_file: Path | None = Field(None, description="CA bundle; system CAs when unset")
    mqtt_cert_file: Path | None = Field(None, description="client certificate, for mutual TLS")
    mqtt_key_file: Path | None = None
    mqtt_keepalive: int = 60


class KafkaSettings(EnvSettings):
    kafka_bootstrap: str = "localhost:19092"
    #: Tansu needs a few settings that must never be used against real Kafka (INFRA.md).
    kafka_broker: Literal["kafka", "tansu"] = "tansu"
    readings_topic: str = "readings"
    rejected_topic: str = "readings.rejected"
    topic_partitions: int = Field(4, ge=1)


class BridgeSettings(MqttSettings, KafkaSettings):
    """The MQTT → Kafka bridge."""

    mqtt_client_id: str = Field(default_factory=lambda: f"envalert-bridge-{socket.gethostname()}")
    #: Bridges in one share group split the stations' messages between them.
    mqtt_share_group: str = "envalert"
    mqtt_session_expiry: int = Field(7 * 24 * 3600, description="seconds a broken session is kept")
    bridge_max_inflight: int = Field(2000, ge=1, description="messages between MQTT and Kafka ack")
    max_future_seconds: float = Field(300, ge=0, description="tolerated station clock lead")
