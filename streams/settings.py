"""Settings of the Faust worker: Kafka and InfluxDB (shared), batching, its clocks and its web port."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from envalert.core.settings import InfluxSettings, KafkaSettings, StationsSettings
from rules.catalogue import SHIPPED


class WorkerSettings(KafkaSettings, InfluxSettings, StationsSettings):
    write_batch_size: int = Field(5000, ge=1, description="readings per InfluxDB write, at most")
    write_batch_seconds: float = Field(1.0, gt=0, description="longest wait to fill a batch")
    write_retry_max_seconds: float = Field(30.0, gt=0, description="backoff cap while InfluxDB is away")
    rules_file: Path = SHIPPED
    #: A station silent this long (wall time), with nothing left to take from its readings
    #: partition, is ticked on to the partition's clock; a partition quiet this long, with nothing
    #: left, follows the quickest one's.
    idle_seconds: float = Field(30.0, gt=0)
    #: The city's figures wait at most this far (event time) for a station that still talks but
    #: lags its partition; its facts then come late for the fleet (its own alerts are judged).
    fleet_patience_seconds: float = Field(6 * 3600.0, gt=0)
    #: The watermark trails the latest reading time by this much: readings up to this late are
    #: still judged in order, and every alert waits this long (in event time) before it is judged.
    allowed_lateness_seconds: float = Field(60.0, ge=0)
    #: How often (wall time) ticks go out, each run a slice of a partition's stations (streams/ticks.py),
    #: so that silent stations are noticed and no reading waits long behind a minute's ticks.
    tick_seconds: float = Field(0.25, gt=0)
    #: Timelines kept parsed between batches (about 20 KB each, more with a day of samples): the
    #: stations beyond this many have theirs parsed from the table at each batch instead.
    kept_timelines: int = Field(2000, ge=0)
    worker_web_port: int = 6066
    #: 0.0.0.0 in a container, so that the board and /metrics can be reached from outside.
    worker_web_bind: str = "127.0.0.1"
    worker_data_dir: Path = Path(".envalert/worker")
