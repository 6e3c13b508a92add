"""Settings of the notifier: where its directory, routing and state live, and how it retries."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from envalert.core.settings import InfluxSettings, KafkaSettings, StationsSettings
from notifiers import directory, routing
from rules.catalogue import SHIPPED


class NotifierSettings(KafkaSettings, InfluxSettings, StationsSettings):
    """Shares Kafka, InfluxDB and the station catalogue with the worker, and nothing else."""

    rules_file: Path = SHIPPED

    directory_file: Path = directory.SHIPPED
    routing_file: Path = routing.SHIPPED
    #: SQLite file with the lifecycle state, the outbox, silences and acknowledgements.
    notifier_db: Path = Path(".envalert/notifier/notifier.db")
    notifier_group: str = "envalert-notifier"
    #: Links in messages point here: the board this notifier serves, as people reach it.
    board_url: str = "http://localhost:6067/board"
    board_port: int = 6067
    #: 0.0.0.0 in a container or to serve a wall screen on another machine.
    board_bind: str = "127.0.0.1"
    #: Who may acknowledge and silence (notifiers/board/users.py); without it the board is read-only.
    board_users_file: Path | None = None
    #: Ask for a token on reads too, not only on writes.
    board_read_auth: bool = False
    #: Readings per partition read again at start, to know when each station was last seen.
    board_backlog_per_partition: int = Field(20_000, ge=0)
    notify_timeout_seconds: float = Field(10.0, gt=0, description="per target and attempt")
    #: Sends on their way at once, each to a different target (a target gets one at a time).
    notify_at_once: int = Field(8, ge=1)
    notify_retry_first_seconds: float = Field(2.0, gt=0)
    notify_retry_max_seconds: float = Field(300.0, gt=0)
    #: A message still undelivered this long after it was queued is given up (and logged).
    notify_give_up_hours: float = Field(24.0, gt=0)
    notifier_tick_seconds: float = Field(1.0, gt=0)
    #: Delivered and given-up messages, their attempts and ended silences are kept this long.
    notifier_retention_days: float = Field(30, gt=0)
    #: Who acknowledged and silenced what is kept this long.
    notifier_audit_days: float = Field(365, gt=0)
