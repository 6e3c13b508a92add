"""The worker's alerts and the city's figures as InfluxDB points (the readings' are in the core)."""

from __future__ import annotations

from influxdb_client.client.write.point import Point
from influxdb_client.domain.write_precision import WritePrecision

from rules.events import AlertEvent
from rules.figures import Figure


def alert_line(event: AlertEvent) -> str:
    """One transition as one point of measurement ``alerts``, at its event time."""
    point = Point("alerts").tag("rule", event.rule).tag("subject", event.subject).tag("state", event.state)
    point.tag("severity", event.severity.value if event.severity else "none")
    if event.district:
        point.tag("district", event.district)
    point.field("value", float(event.value)).field("threshold", float(event.threshold))
    point.field("window", event.window).field("message_zh", event.message_zh).field("key", event.key)
    point.field("started_at", event.started_at.isoformat())
    return str(point.time(event.event_time, WritePrecision.NS).to_line_protocol())


def figure_line(figure: Figure) -> str:
    point = Point(figure.measurement)
    for tag, tag_value in figure.tags.items():
        point.tag(tag, tag_value)
    for name, value in figure.fields.items():
        point.field(name, value)
    return str(point.time(figure.at, WritePrecision.NS).to_line_protocol())
