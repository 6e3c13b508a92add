"""Settings of the edge: the MQTT broker, the bridge and the HJ 212 gateway (``ENVALERT_*``)."""

from __future__ import annotations

import socket
from pathlib import Path

from pydantic import Field, SecretStr

from envalert.core.settings import EnvSettings, KafkaSettings, StationsSettings


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


class BridgeSettings(MqttSettings, KafkaSettings, StationsSettings):
    """The MQTT → Kafka bridge. Only the stations of the catalogue may publish: any other station
    id is refused (``unknown_station``)."""

    mqtt_client_id: str = Field(default_factory=lambda: f"envalert-bridge-{socket.gethostname()}")
    #: Empty: one bridge with a plain subscription, which mosquitto keeps across its restarts.
    #: A name: bridges in that share group split the stations' messages between them; but
    #: mosquitto 2.0 does not restore a shared subscription after it restarts, so what stations
    #: publish before the bridges resubscribe (about a second) is lost.
    mqtt_share_group: str = ""
    mqtt_session_expiry: int = Field(7 * 24 * 3600, description="seconds a broken session is kept")
    bridge_max_inflight: int = Field(2000, ge=1, description="messages between MQTT and Kafka ack")
    #: At most Kafka's own limit (``message.timestamp.after.max.ms``, an hour): a record stamped
    #: further ahead is refused, and the bridge could never send the reading.
    max_future_seconds: float = Field(300, ge=0, le=3600, description="tolerated station clock lead")
    #: Touched every 10 s while the bridge is connected: a container's healthcheck reads its age.
    bridge_health_file: Path | None = None


class GatewaySettings(MqttSettings, StationsSettings):
    """The HJ 212-2017 gateway: where stations connect, how strict it is, and the MQTT account
    it publishes their readings with (the local stack's gateway account)."""

    hj212_bind: str = Field("127.0.0.1", description="0.0.0.0 to take stations from the network")
    hj212_port: int = 9212
    #: A logger silent this long is disconnected (they send at least every minute or hour).
    hj212_idle_seconds: float = Field(3900, gt=0)
    hj212_max_segment: int = Field(4096, ge=100, le=9999, description="longest data segment taken")
    #: A new connection must bring a frame that signs in within this, and any frame's bytes
    #: must all come within this of its first: a trickle of bytes holds no connection.
    hj212_frame_seconds: float = Field(60, gt=0)
    hj212_max_connections: int = Field(2000, ge=1)
    #: Loggers behind one carrier NAT share an address: room for a few dozen.
    hj212_max_connections_per_address: int = Field(32, ge=1)
    #: A wrong password or an unknown MN closes the connection after this delay …
    hj212_sign_in_delay_seconds: float = Field(1.0, ge=0)
    #: … and this many from one address within ``hj212_lockout_seconds`` lock it out that long.
    hj212_max_sign_in_failures: int = Field(5, ge=1)
    hj212_lockout_seconds: float = Field(900, ge=0)
    #: Some field equipment computes the CRC wrongly: take its frames anyway, with a warning.
    hj212_accept_bad_crc: bool = False
    #: Factor codes beyond the defaults (ingest/hj212/mapping.py), as JSON: {"a99999": "tvoc"}.
    hj212_factors: dict[str, str] = Field(default_factory=dict)
    mqtt_client_id: str = Field(default_factory=lambda: f"envalert-hj212-{socket.gethostname()}")
