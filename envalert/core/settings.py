"""Settings every process shares: ``ENVALERT_*`` variables for Kafka (with the pipeline's topic
and group names), InfluxDB and the station catalogue, with defaults that fit the local stack."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from envalert.core.stations import DEFAULT_STATIONS

ENV_PREFIX = "ENVALERT_"
#: How every envalert process logs.
LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
#: The worker's Faust app id, which is also its Kafka consumer group.
WORKER_GROUP = "envalert"


class EnvSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")


class KafkaSettings(EnvSettings):
    """How to reach Kafka, and the pipeline's topics there."""

    kafka_bootstrap: str = "localhost:19092"
    readings_topic: str = "readings"
    rejected_topic: str = "readings.rejected"
    alerts_topic: str = "alerts"
    ticks_topic: str = "ticks"
    #: Station facts (hours, days, nights) and progress, to the city's agent (streams/city.py).
    fleet_topic: str = "fleet"
    #: Derived measurements (AQI, night Leq, compliance, the plan's progress) on their way to InfluxDB.
    derived_topic: str = "derived"
    topic_partitions: int = Field(4, ge=1)
    #: A consumer group member silent this long is taken for dead and its partitions handed on:
    #: a restarted worker or notifier waits up to this long for its killed predecessor's.
    kafka_session_seconds: float = Field(10.0, ge=6, le=300, description="Kafka's own bounds: 6 s to 5 min")
    #: The newest readings each partition keeps, in MiB: Kafka is the pipeline's buffer and
    #: InfluxDB its archive, so this is the backlog that may wait for a stopped worker.
    readings_retention_mb: int = Field(1024, ge=1)
    #: The most every other topic keeps per partition, in MiB, besides its time limit.
    topic_retention_mb: int = Field(256, ge=1)

    def pipeline_topics(self) -> list[str]:
        """Every topic of the pipeline but the worker's tables' changelogs, which Faust names."""
        return [
            self.readings_topic,
            self.rejected_topic,
            self.alerts_topic,
            self.ticks_topic,
            self.fleet_topic,
            self.derived_topic,
        ]


class InfluxSettings(EnvSettings):
    """How to reach InfluxDB, which the worker and the notifier write to."""

    #: v2: influxdb-client to /api/v2/write (InfluxDB 2.x, 3.x and 1.8+); v1: /write (≤ 1.7).
    influx_api: Literal["v1", "v2"] = "v1"
    influx_url: str = "http://localhost:18086"
    influx_org: str = "envalert"
    influx_bucket: str = "envalert"
    influx_token: SecretStr | None = None
    influx_database: str = Field("envalert", description="v1 API: database name")
    influx_username: str | None = None
    influx_password: SecretStr | None = None
    influx_timeout_seconds: float = 10.0


class StationsSettings(EnvSettings):
    """Where the station catalogue is."""

    stations_file: Path = DEFAULT_STATIONS
