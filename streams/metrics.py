"""The worker's Prometheus metrics, served at /metrics by its web server.

One registry of the process's own, so the page holds exactly the figures declared here.
"""

from __future__ import annotations

from faust.web import Request, Response, View
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from streams.app import App

REGISTRY = CollectorRegistry()
#: The exposition format's type, without the charset aiohttp wants passed on its own.
CONTENT_TYPE = "text/plain; version=0.0.4"

JUDGED = Counter(
    "envalert_events_judged", "Readings and ticks judged, by topic", ["topic"], registry=REGISTRY
)
UNJUDGED = Counter(
    "envalert_unjudged_records",
    "Records the rules could not take, kept in the dead-letter topic, by reason",
    ["reason"],
    registry=REGISTRY,
)
LATE_READINGS = Counter(
    "envalert_late_readings",
    "Readings that came after their station was judged past their time: stored, not judged",
    registry=REGISTRY,
)
LATE_FACTS = Counter(
    "envalert_fleet_late_facts",
    "Station hours, days and nights that came after the city closed their period",
    registry=REGISTRY,
)
TRANSITIONS = Counter(
    "envalert_alert_transitions",
    "Alert transitions published, by rule and state",
    ["rule", "state"],
    registry=REGISTRY,
)
STORED = Counter(
    "envalert_points_stored",
    "Points InfluxDB has acknowledged, by what they are (readings, alerts, figures)",
    ["what"],
    registry=REGISTRY,
)
WATERMARK = Gauge(
    "envalert_watermark_seconds",
    "Event-time watermark of each readings partition (Unix time)",
    ["partition"],
    registry=REGISTRY,
)


class Metrics(View):
    async def get(self, request: Request) -> Response:
        return self.text(generate_latest(REGISTRY).decode(), content_type=CONTENT_TYPE)


def add_metrics_page(app: App) -> None:
    app.page("/metrics")(Metrics)
