"""A paho client set up from MqttSettings: MQTT 5, credentials and TLS in one place."""

from __future__ import annotations

import ssl

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from ingest.settings import MqttSettings


def make_client(settings: MqttSettings, client_id: str, *, manual_ack: bool = False) -> mqtt.Client:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
        manual_ack=manual_ack,
    )
    if settings.mqtt_username:
        password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
        client.username_pw_set(settings.mqtt_username, password)
    if settings.mqtt_tls:
        client.tls_set(
            ca_certs=str(settings.mqtt_ca_file) if settings.mqtt_ca_file else None,
            certfile=str(settings.mqtt_cert_file) if settings.mqtt_cert_file else None,
            keyfile=str(settings.mqtt_key_file) if settings.mqtt_key_file else None,
            cert_reqs=ssl.CERT_REQUIRED,
        )
    return client


def broker_address(settings: MqttSettings) -> str:
    scheme = "mqtts" if settings.mqtt_tls else "mqtt"
    return f"{scheme}://{settings.mqtt_host}:{settings.mqtt_port}"
