"""Settings of the notifier: where its directory, routing and state live, and how it retries."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from notifiers import directory, routing
from streams.settings import WorkerSettings


class NotifierSettings(WorkerSettings):
    """Shares Kafka, InfluxDB and the station catalogue with the worker."""

    directory_file: Path = directory.SHIPPED
    routing_file: Path = routing.SHIPPED
    #: SQLite file with the lifecycle state, the outbox, silences and acknowledgements.
    notifier_db: Path = Path(".envalert/notifier/notifier.db")
    notifier_group: str = "envalert-notifier"
    #: Links in messages point here (the monitoring board, issue #7).
    board_url: str = "http://localhost:6066/board"
    notify_timeout_seconds: float = Field(10.0, gt=0, description="per target and attempt")
    notify_retry_first_seconds: float = Field(2.0, gt=0)
    notify_retry_max_seconds: float = Field(300.0, gt=0)
    #: A message still undelivered this long after it was queued is given up (and logged).
    notify_give_up_hours: float = Field(24.0, gt=0)
    notifier_tick_seconds: float = Field(1.0, gt=0)
