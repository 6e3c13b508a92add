"""Each delivery attempt as a point of InfluxDB measurement ``notifications``."""

from __future__ import annotations

from urllib.parse import urlsplit

from influxdb_client.client.write.point import Point
from influxdb_client.domain.write_precision import WritePrecision

from notifiers.store import Attempt


def notification_line(attempt: Attempt) -> str:
    message = attempt.message
    point = (
        Point("notifications")
        .tag("unit", message.unit)
        .tag("contact", message.contact)
        .tag("channel", urlsplit(message.target).scheme)
        .tag("reason", message.reason)
        .tag("outcome", attempt.outcome)
        .field("notice", message.notice)
        .field("attempt", message.attempts + 1)
        .field("alerts", message.alerts)
        .field("seconds", float(attempt.seconds))
        .field("target", message.target)
        .field("error", attempt.error)
    )
    return str(point.time(attempt.at, WritePrecision.NS).to_line_protocol())
