"""Stations over MQTT: the edge contract, validation and the MQTT → Kafka bridge."""
