"""The reading contract: what a station may publish, and the normalised reading that flows on.

Topic ``env/v1/{kind}/{station_id}``; payload
``{"station": id, "ts": RFC 3339 or epoch ms, "values": {metric: number}, "flags": {metric: flag}}``.
Units are fixed per metric so that nothing downstream ever converts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

TOPIC_PREFIX = "env/v1"

#: China Standard Time. Station clocks and HJ 212 data loggers keep Beijing time without an
#: offset, so a naive timestamp is read as UTC+08:00 (China has no daylight saving time).
CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

StationId = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
]


class Kind(StrEnum):
    """The five kinds of automatic station the plan asks for."""

    AIR = "air"
    NOISE = "noise"
    GROUNDWATER = "groundwater"
    VOCS = "vocs"
    AMMONIA = "ammonia"


class Flag(StrEnum):
    """Instrument data flags of HJ 212-2017; only N (normal) data is judged against limits."""

    NORMAL = "N"
    STOPPED = "F"
    MAINTENANCE = "M"
    MANUAL = "S"
    FAULT = "D"
    CALIBRATION = "C"
    OVER_RANGE = "T"
    COMMS_FAULT = "B"


@dataclass(frozen=True)
class MetricSpec:
    """A metric's fixed unit and the range outside which a value is physically implausible."""

    unit: str
    low: float
    high: float
    description: str

    def range_text(self) -> str:
        return f"{self.low:g}–{self.high:g} {self.unit}"


MG = "mg/m³"
UG = "µg/m³"

#: Plausibility ranges are wide on purpose: they catch broken instruments and unit mistakes
#: (mg sent as µg), never real episodes such as a sand storm or a catalyst failure.
METRICS: dict[Kind, dict[str, MetricSpec]] = {
    Kind.AIR: {
        "pm25": MetricSpec(UG, 0, 2000, "PM2.5"),
        "pm10": MetricSpec(UG, 0, 6000, "PM10"),
        "so2": MetricSpec(UG, 0, 5000, "SO2"),
        "no2": MetricSpec(UG, 0, 2500, "NO2"),
        "co": MetricSpec(MG, 0, 150, "CO"),
        "o3": MetricSpec(UG, 0, 1500, "O3"),
    },
    Kind.NOISE: {
        "laeq": MetricSpec("dB(A)", 10, 150, "equivalent continuous A-weighted sound level"),
        "lmax": MetricSpec("dB(A)", 10, 160, "maximum A-weighted sound level"),
    },
    Kind.GROUNDWATER: {
        "level": MetricSpec("m", -200, 2000, "water level above the 1985 national height datum"),
        "depth": MetricSpec("m", 0, 1000, "depth to water below ground surface"),
    },
    Kind.VOCS: {
        "nmhc": MetricSpec(MG, 0, 1000, "non-methane hydrocarbons"),
        "tvoc": MetricSpec(MG, 0, 2000, "total volatile organic compounds"),
    },
    Kind.AMMONIA: {
        "nh3": MetricSpec(MG, 0, 200, "ammonia slip"),
    },
}


class Reading(BaseModel):
    """One validated, normalised reading: what the bridge puts on Kafka ``readings``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    station: StationId
    kind: Kind
    ts: datetime = Field(description="reading time, timezone-aware")
    values: dict[str, float]
    flags: dict[str, Flag] = Field(default_factory=dict)

    def flag(self, metric: str) -> Flag:
        return self.flags.get(metric, Flag.NORMAL)

    @property
    def epoch_ms(self) -> int:
        return (self.ts - EPOCH) // timedelta(milliseconds=1)


def topic_for(kind: Kind, station: str) -> str:
    return f"{TOPIC_PREFIX}/{kind.value}/{station}"


#: How much of a refused payload its dead-letter record keeps: all of any payload the bridge
#: would judge (``ingest.validation`` refuses larger ones), and the start of a larger one. The
#: record then stays far below Kafka's 1 MiB message limit whatever a station sends.
EXCERPT_BYTES = 64 * 1024


class RejectedMessage(BaseModel):
    """A record on Kafka ``readings.rejected``: the input (whole up to ``EXCERPT_BYTES``), and why
    it was refused."""

    model_config = ConfigDict(frozen=True)

    topic: str
    reason: str = Field(description="stable code, e.g. out_of_range")
    detail: str = Field(description="what is wrong and where, for a person")
    excerpt_base64: str = Field(description="the payload's first EXCERPT_BYTES bytes, byte for byte")
    excerpt_text: str | None = Field(description="the excerpt as text when it is UTF-8")
    payload_length: int = Field(description="the whole payload's length in bytes")
    payload_sha256: str = Field(description="the whole payload's SHA-256, in hex")
    received_at: datetime
    source: str = Field(description="which process refused it")
