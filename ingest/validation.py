"""Turn one raw MQTT message into a Reading, or into a Rejection that says exactly what is wrong.

Nothing here raises on bad input: every possible byte string ends as one or the other, so the
bridge can never be crashed by a station.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError

from envalert.core.contract import (
    CHINA_STANDARD_TIME,
    EPOCH,
    METRICS,
    TOPIC_PREFIX,
    Flag,
    Kind,
    Reading,
    StationId,
)

MAX_PAYLOAD_BYTES = 64 * 1024
#: Before this a station clock has not been set (epoch 0, 2000-01-01 defaults of loggers).
EARLIEST_READING = datetime(2001, 1, 1, tzinfo=CHINA_STANDARD_TIME)
_DATE_TIME_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


class RejectReason(StrEnum):
    """Why a message was refused; the code is stable, the text beside it explains."""

    TOO_LARGE = "too_large"
    BAD_TOPIC = "bad_topic"
    UNKNOWN_KIND = "unknown_kind"
    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"
    WRONG_TYPE = "wrong_type"
    BAD_TIMESTAMP = "bad_timestamp"
    STATION_MISMATCH = "station_mismatch"
    NO_VALUES = "no_values"
    UNKNOWN_METRIC = "unknown_metric"
    NOT_FINITE = "not_finite"
    OUT_OF_RANGE = "out_of_range"
    IN_FUTURE = "in_future"
    TOO_OLD = "too_old"
    UNKNOWN_STATION = "unknown_station"
    KIND_MISMATCH = "kind_mismatch"


@dataclass(frozen=True)
class Rejection:
    reason: RejectReason
    detail: str


class ReadingPayload(BaseModel):
    """The payload's shape, strictly typed: "75" is not a number and true is not 1."""

    model_config = ConfigDict(strict=True, allow_inf_nan=False, extra="forbid")

    station: StationId
    ts: datetime
    values: dict[str, Annotated[float, Strict()]]
    flags: dict[str, Flag] = Field(default_factory=dict)

    @field_validator("ts", mode="before")
    @classmethod
    def _timestamp(cls, raw: Any) -> datetime:
        if isinstance(raw, int) and not isinstance(raw, bool):
            try:
                return EPOCH + timedelta(milliseconds=raw)
            except OverflowError:
                raise PydanticCustomError(
                    "bad_timestamp", f"epoch milliseconds {raw} is out of range"
                ) from None
        if isinstance(raw, str) and _DATE_TIME_SHAPE.match(raw):
            try:
                parsed = _parse_rfc3339(raw)
            except ValueError as error:
                raise PydanticCustomError(
                    "bad_timestamp", f"{raw!r} is not an RFC 3339 date-time: {error}"
                ) from None
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=CHINA_STANDARD_TIME)
        raise PydanticCustomError(
            "bad_timestamp",
            "must be an RFC 3339 date-time such as 2026-11-28T08:00:00+08:00 "
            f"or an integer of epoch milliseconds, got {str(raw)[:40]!r}",
        )


def _parse_rfc3339(raw: str) -> datetime:
    # fromisoformat takes an upper-case Z and cuts fractions to microseconds; RFC 3339 also
    # allows a lower-case z.
    return datetime.fromisoformat(raw[:-1] + "Z" if raw.endswith("z") else raw)


_ERROR_REASONS = {
    "json_invalid": RejectReason.NOT_JSON,
    "finite_number": RejectReason.NOT_FINITE,
    "bad_timestamp": RejectReason.BAD_TIMESTAMP,
}


def _explain(error: ValidationError) -> Rejection:
    first = error.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"])
    reason = _ERROR_REASONS.get(first["type"], RejectReason.WRONG_TYPE)
    if reason is RejectReason.NOT_JSON:
        return Rejection(reason, f"payload is not valid JSON: {first['msg']}")
    shown = repr(first.get("input"))[:80]
    more = len(error.errors()) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    detail = f"{where or 'payload'}: {first['msg']}" + (
        "" if reason is RejectReason.BAD_TIMESTAMP else f", got {shown}"
    )
    return Rejection(reason, detail + suffix)


def parse_topic(topic: str) -> tuple[Kind, str] | Rejection:
    parts = topic.split("/")
    if len(parts) != 4 or "/".join(parts[:2]) != TOPIC_PREFIX or not parts[3]:
        return Rejection(
            RejectReason.BAD_TOPIC,
            f"topic {topic!r} is not of the form {TOPIC_PREFIX}/{{kind}}/{{station_id}}",
        )
    try:
        return Kind(parts[2]), parts[3]
    except ValueError:
        known = ", ".join(kind.value for kind in Kind)
        return Rejection(
            RejectReason.UNKNOWN_KIND, f"topic {topic!r}: kind {parts[2]!r} is not one of {known}"
        )


def _judge_values(kind: Kind, payload: ReadingPayload) -> Rejection | None:
    metrics = METRICS[kind]
    if not payload.values:
        return Rejection(RejectReason.NO_VALUES, "values: a reading needs at least one metric")
    for name in [*payload.values, *payload.flags]:
        if name not in metrics:
            return Rejection(
                RejectReason.UNKNOWN_METRIC,
                f"{'values' if name in payload.values else 'flags'}.{name}: {kind.value} stations "
                f"report {', '.join(metrics)}, not {name!r}",
            )
    for name, value in payload.values.items():
        spec = metrics[name]
        if not spec.low <= value <= spec.high:
            return Rejection(
                RejectReason.OUT_OF_RANGE,
                f"values.{name}: {value:g} is outside the plausible range {spec.range_text()}",
            )
    return None


def _judge_time(ts: datetime, now: datetime, max_future: timedelta) -> Rejection | None:
    if ts > now + max_future:
        return Rejection(
            RejectReason.IN_FUTURE,
            f"ts: {ts.isoformat()} is {(ts - now).total_seconds():.0f} s ahead of the bridge clock "
            f"(at most {max_future.total_seconds():.0f} s allowed); "
            "check the station's clock and time zone",
        )
    if ts < EARLIEST_READING:
        return Rejection(
            RejectReason.TOO_OLD,
            f"ts: {ts.isoformat()} is before {EARLIEST_READING.date()}: the station clock is not set",
        )
    return None


def _check_station(station: str, kind: Kind, catalogue: Mapping[str, Kind]) -> Rejection | None:
    listed = catalogue.get(station)
    if listed is None:
        return Rejection(
            RejectReason.UNKNOWN_STATION,
            f"topic: station {station[:64]!r} is not in the station catalogue; "
            "fix: add it to the catalogue (ENVALERT_STATIONS_FILE) before it publishes",
        )
    if listed is not kind:
        return Rejection(
            RejectReason.KIND_MISMATCH,
            f"topic: {station!r} is a {listed.value} station in the catalogue, not {kind.value}",
        )
    return None


def parse_reading(
    topic: str,
    payload: bytes,
    now: datetime,
    max_future: timedelta,
    catalogue: Mapping[str, Kind] | None = None,
) -> Reading | Rejection:
    """Validate one message; ``now`` is the bridge's clock, used only for the future check.
    With a ``catalogue`` (station id → kind), only its stations are taken, each as its kind."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        return Rejection(
            RejectReason.TOO_LARGE,
            f"payload is {len(payload)} bytes, more than the {MAX_PAYLOAD_BYTES} allowed",
        )
    place = parse_topic(topic)
    if isinstance(place, Rejection):
        return place
    kind, topic_station = place
    if catalogue is not None and (known := _check_station(topic_station, kind, catalogue)):
        return known
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError as error:
        return Rejection(RejectReason.NOT_UTF8, f"payload is not UTF-8: {error}")
    try:
        shape = ReadingPayload.model_validate_json(payload)
    except ValidationError as error:
        return _explain(error)
    if shape.station != topic_station:
        return Rejection(
            RejectReason.STATION_MISMATCH,
            f"station: payload says {shape.station!r} but the topic is for {topic_station!r}",
        )
    problem = _judge_values(kind, shape) or _judge_time(shape.ts, now, max_future)
    if problem:
        return problem
    return Reading(station=shape.station, kind=kind, ts=shape.ts, values=shape.values, flags=shape.flags)
