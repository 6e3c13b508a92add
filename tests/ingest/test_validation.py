"""The reading contract: one valid example of every kind, one test per rejection reason."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envalert.core.contract import CHINA_STANDARD_TIME, METRICS, Flag, Kind, Reading
from ingest.validation import EARLIEST_READING, MAX_PAYLOAD_BYTES, Rejection, RejectReason, parse_reading

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
MAX_FUTURE = timedelta(minutes=5)

VALID: dict[Kind, dict[str, Any]] = {
    Kind.AIR: {"pm25": 75.5, "pm10": 120, "so2": 8, "no2": 41.2, "co": 0.9, "o3": 160},
    Kind.NOISE: {"laeq": 52.3, "lmax": 68.0},
    Kind.GROUNDWATER: {"level": 62.41, "depth": 38.6},
    Kind.VOCS: {"nmhc": 1.8, "tvoc": 2.4},
    Kind.AMMONIA: {"nh3": 2.1},
}


def parse(topic: str, body: Any) -> Reading | Rejection:
    """Parsed with a catalogue that has ZZ-1 and ZZ-2 as the topic's kind, and a noise station."""
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    kind = next((kind for kind in Kind if f"/{kind.value}/" in topic), Kind.AIR)
    catalogue = {"ZZ-1": kind, "ZZ-2": kind, "ZZ-NOISE": Kind.NOISE}
    return parse_reading(topic, payload, NOW, MAX_FUTURE, catalogue)


def message(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"station": "ZZ-1", "ts": "2026-11-28T15:59:00+08:00", "values": {"pm25": 80.0}}
    body.update(changes)
    return body


@pytest.mark.parametrize("kind", list(Kind))
def test_a_valid_reading_of_every_kind(kind: Kind) -> None:
    flags = {metric: "N" for metric in VALID[kind]}
    reading = parse(f"env/v1/{kind.value}/ZZ-1", message(values=VALID[kind], flags=flags))
    assert isinstance(reading, Reading), reading
    assert reading.kind is kind
    assert reading.values == {metric: float(value) for metric, value in VALID[kind].items()}
    assert reading.ts == datetime(2026, 11, 28, 7, 59, tzinfo=UTC)


def test_epoch_milliseconds_and_utc_offsets_give_the_same_instant() -> None:
    by_epoch = parse("env/v1/air/ZZ-1", message(ts=1795852740123))
    by_text = parse("env/v1/air/ZZ-1", message(ts="2026-11-28T07:59:00.123Z"))
    assert isinstance(by_epoch, Reading) and isinstance(by_text, Reading)
    assert by_epoch.ts == by_text.ts
    assert by_epoch.epoch_ms == 1795852740123


def test_a_naive_timestamp_is_china_standard_time() -> None:
    reading = parse("env/v1/air/ZZ-1", message(ts="2026-11-28T15:59:00"))
    assert isinstance(reading, Reading)
    assert reading.ts.utcoffset() == timedelta(hours=8)
    assert reading.ts == datetime(2026, 11, 28, 15, 59, tzinfo=CHINA_STANDARD_TIME)


def test_flags_default_to_normal_and_keep_what_was_sent() -> None:
    reading = parse("env/v1/air/ZZ-1", message(values={"pm25": 80, "o3": 30}, flags={"o3": "C"}))
    assert isinstance(reading, Reading)
    assert reading.flag("pm25") is Flag.NORMAL
    assert reading.flag("o3") is Flag.CALIBRATION


REJECTIONS: list[tuple[RejectReason, str, Any, str]] = [
    (
        RejectReason.TOO_LARGE,
        "env/v1/air/ZZ-1",
        b"x" * (MAX_PAYLOAD_BYTES + 1),
        "payload is 65537 bytes, more than the 65536 allowed",
    ),
    (
        RejectReason.BAD_TOPIC,
        "sensors/air/ZZ-1",
        message(),
        "topic 'sensors/air/ZZ-1' is not of the form env/v1/{kind}/{station_id}",
    ),
    (
        RejectReason.UNKNOWN_KIND,
        "env/v1/rain/ZZ-1",
        message(),
        "topic 'env/v1/rain/ZZ-1': kind 'rain' is not one of air, noise, groundwater, vocs, ammonia",
    ),
    (
        RejectReason.NOT_UTF8,
        "env/v1/air/ZZ-1",
        b'{"station": "\xff"}',
        "payload is not UTF-8: 'utf-8' codec can't decode byte 0xff in position 13: invalid start byte",
    ),
    (
        RejectReason.NOT_JSON,
        "env/v1/air/ZZ-1",
        b"pm25=75",
        "payload is not valid JSON: Invalid JSON: expected value at line 1 column 1",
    ),
    (
        RejectReason.WRONG_TYPE,
        "env/v1/air/ZZ-1",
        message(values={"pm25": "75"}),
        "values.pm25: Input should be a valid number, got '75'",
    ),
    (
        RejectReason.WRONG_TYPE,
        "env/v1/air/ZZ-1",
        message(values={"pm25": True}),
        "values.pm25: Input should be a valid number, got True",
    ),
    (RejectReason.WRONG_TYPE, "env/v1/air/ZZ-1", [1, 2], "payload: Input should be an object, got [1, 2]"),
    (
        RejectReason.WRONG_TYPE,
        "env/v1/air/ZZ-1",
        message(flags={"pm25": "Q"}),
        "flags.pm25: Input should be 'N', 'F', 'M', 'S', 'D', 'C', 'T' or 'B', got 'Q'",
    ),
    (
        RejectReason.WRONG_TYPE,
        "env/v1/air/ZZ-1",
        message(extra=1),
        "extra: Extra inputs are not permitted, got 1",
    ),
    (
        RejectReason.BAD_TIMESTAMP,
        "env/v1/air/ZZ-1",
        message(ts="yesterday"),
        "ts: must be an RFC 3339 date-time such as 2026-11-28T08:00:00+08:00"
        " or an integer of epoch milliseconds, got 'yesterday'",
    ),
    (
        RejectReason.BAD_TIMESTAMP,
        "env/v1/air/ZZ-1",
        message(ts="2026-13-01T00:00:00"),
        "ts: '2026-13-01T00:00:00' is not an RFC 3339 date-time: month must be in 1..12",
    ),
    (
        RejectReason.BAD_TIMESTAMP,
        "env/v1/air/ZZ-1",
        message(ts=10**30),
        "ts: epoch milliseconds 1000000000000000000000000000000 is out of range",
    ),
    (
        RejectReason.STATION_MISMATCH,
        "env/v1/air/ZZ-2",
        message(),
        "station: payload says 'ZZ-1' but the topic is for 'ZZ-2'",
    ),
    (
        RejectReason.NO_VALUES,
        "env/v1/air/ZZ-1",
        message(values={}),
        "values: a reading needs at least one metric",
    ),
    (
        RejectReason.UNKNOWN_METRIC,
        "env/v1/air/ZZ-1",
        message(values={"nh3": 1.0}),
        "values.nh3: air stations report pm25, pm10, so2, no2, co, o3, not 'nh3'",
    ),
    (
        RejectReason.UNKNOWN_METRIC,
        "env/v1/air/ZZ-1",
        message(flags={"laeq": "N"}),
        "flags.laeq: air stations report pm25, pm10, so2, no2, co, o3, not 'laeq'",
    ),
    (
        RejectReason.NOT_FINITE,
        "env/v1/air/ZZ-1",
        b'{"station":"ZZ-1","ts":0,"values":{"pm25":NaN}}',
        "values.pm25: Input should be a finite number, got nan",
    ),
    (
        RejectReason.NOT_FINITE,
        "env/v1/air/ZZ-1",
        b'{"station":"ZZ-1","ts":0,"values":{"pm25":1e999}}',
        "values.pm25: Input should be a finite number, got inf",
    ),
    (
        RejectReason.OUT_OF_RANGE,
        "env/v1/air/ZZ-1",
        message(values={"pm25": -3}),
        "values.pm25: -3 is outside the plausible range 0–2000 µg/m³",
    ),
    (
        RejectReason.OUT_OF_RANGE,
        "env/v1/noise/ZZ-1",
        message(values={"laeq": 190}),
        "values.laeq: 190 is outside the plausible range 10–150 dB(A)",
    ),
    (
        RejectReason.IN_FUTURE,
        "env/v1/air/ZZ-1",
        message(ts="2026-11-28T08:06:00Z"),
        "ts: 2026-11-28T08:06:00+00:00 is 360 s ahead of the bridge clock (at most 300 s allowed);"
        " check the station's clock and time zone",
    ),
    (
        RejectReason.TOO_OLD,
        "env/v1/air/ZZ-1",
        message(ts=0),
        "ts: 1970-01-01T00:00:00+00:00 is before 2001-01-01: the station clock is not set",
    ),
    (
        RejectReason.UNKNOWN_STATION,
        "env/v1/air/ZZ-9",
        message(station="ZZ-9"),
        "topic: station 'ZZ-9' is not in the station catalogue;"
        " fix: add it to the catalogue (ENVALERT_STATIONS_FILE) before it publishes",
    ),
    (
        RejectReason.UNKNOWN_STATION,
        f"env/v1/air/{'Z' * 70}",
        message(station="Z" * 70),
        f"topic: station '{'Z' * 64}' is not in the station catalogue;"
        " fix: add it to the catalogue (ENVALERT_STATIONS_FILE) before it publishes",
    ),
    (
        RejectReason.WRONG_TYPE,
        "env/v1/air/ZZ-1",
        message(values={"pm25": "75", "pm10": "x"}),
        "values.pm25: Input should be a valid number, got '75' (and 1 more problem)",
    ),
    (
        RejectReason.WRONG_TYPE,
        "env/v1/air/ZZ-1",
        message(values={"pm25": "75", "pm10": "x", "so2": "y"}),
        "values.pm25: Input should be a valid number, got '75' (and 2 more problems)",
    ),
    (
        RejectReason.WRONG_TYPE,
        "env/v1/air/ZZ-1",
        message(values={"pm25": "7" * 100}),
        f"values.pm25: Input should be a valid number, got '{'7' * 79}",
    ),
    (
        RejectReason.KIND_MISMATCH,
        "env/v1/air/ZZ-NOISE",
        message(station="ZZ-NOISE"),
        "topic: 'ZZ-NOISE' is a noise station in the catalogue, not air",
    ),
]


@pytest.mark.parametrize(
    ("reason", "topic", "body", "explains"),
    REJECTIONS,
    ids=[f"{r[0].value}-{i}" for i, r in enumerate(REJECTIONS)],
)
def test_each_bad_message_is_rejected_with_its_reason(
    reason: RejectReason, topic: str, body: Any, explains: str
) -> None:
    outcome = parse(topic, body)
    assert isinstance(outcome, Rejection), outcome
    assert outcome.reason is reason, outcome.detail
    assert outcome.detail == explains, "each refusal says what is wrong, where, and the fix"


def test_every_reason_has_a_test() -> None:
    assert {case[0] for case in REJECTIONS} == set(RejectReason)


def test_a_clock_lead_of_exactly_the_allowance_is_accepted_and_a_microsecond_more_is_not() -> None:
    assert isinstance(parse("env/v1/air/ZZ-1", message(ts="2026-11-28T08:05:00Z")), Reading)
    ahead = parse("env/v1/air/ZZ-1", message(ts="2026-11-28T08:05:00.000001Z"))
    assert isinstance(ahead, Rejection) and ahead.reason is RejectReason.IN_FUTURE


@pytest.mark.parametrize(("value", "taken"), [(0, True), (2000, True), (math.nextafter(2000, 3000), False)])
def test_a_value_at_a_plausibility_bound_is_taken_and_one_beyond_is_not(value: float, taken: bool) -> None:
    outcome = parse("env/v1/air/ZZ-1", message(values={"pm25": value}))  # PM2.5: 0–2000 µg/m³
    if taken:
        assert isinstance(outcome, Reading), outcome
    else:
        assert isinstance(outcome, Rejection) and outcome.reason is RejectReason.OUT_OF_RANGE


def test_a_reading_at_the_earliest_time_is_taken_and_a_microsecond_before_is_not() -> None:
    assert isinstance(parse("env/v1/air/ZZ-1", message(ts="2001-01-01T00:00:00+08:00")), Reading)
    before = parse("env/v1/air/ZZ-1", message(ts="2000-12-31T23:59:59.999999+08:00"))
    assert isinstance(before, Rejection) and before.reason is RejectReason.TOO_OLD


def test_a_payload_of_exactly_the_size_limit_is_taken() -> None:
    body = json.dumps(message()).encode()
    padded = body[:-1] + b" " * (MAX_PAYLOAD_BYTES - len(body)) + b"}"
    assert len(padded) == MAX_PAYLOAD_BYTES and isinstance(parse("env/v1/air/ZZ-1", padded), Reading)


@pytest.mark.parametrize(
    "ts", ["2026-11-28T07:59:00Z", "2026-11-28T07:59:00z", "2026-11-28T07:59:00.000000123Z"]
)
def test_rfc3339_utc_in_either_case_and_with_nanoseconds(ts: str) -> None:
    reading = parse("env/v1/air/ZZ-1", message(ts=ts))
    assert isinstance(reading, Reading) and reading.ts == datetime(2026, 11, 28, 7, 59, tzinfo=UTC)


@pytest.mark.parametrize(
    "topic", ["sensors/v1/air/ZZ-1", "env/v2/air/ZZ-1", "env/v1/air/", "env/v1/air/ZZ-1/x"]
)
def test_a_topic_off_the_pattern_anywhere_is_refused(topic: str) -> None:
    refused = parse(topic, message())
    assert isinstance(refused, Rejection) and refused.reason is RejectReason.BAD_TOPIC


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
payload_like = st.fixed_dictionaries(
    {},
    optional={
        "station": st.sampled_from(["ZZ-1", "ZZ-2", ""]) | json_values,
        "ts": st.integers() | st.text(max_size=40) | st.datetimes().map(str) | json_values,
        "values": st.dictionaries(st.sampled_from(["pm25", "o3", "laeq", "x"]), json_values, max_size=3),
        "flags": st.dictionaries(st.sampled_from(["pm25", "o3"]), st.sampled_from([*"NFMSDCTBQ", "n"])),
    },
)
topics = st.sampled_from(["env/v1/air/ZZ-1", "env/v1/noise/ZZ-1", "env/v1//", "env/v1/x/ZZ-1"]) | st.text()


@st.composite
def good_messages(draw: st.DrawFn) -> tuple[str, bytes, bool]:
    """A message every check must take: a known metric of the topic's kind, within its bounds,
    at a time neither ahead of the allowance nor too old."""
    kind = draw(st.sampled_from(list(Kind)))
    specs = METRICS[kind]
    values = draw(
        st.dictionaries(
            st.sampled_from(sorted(specs)),
            st.floats(allow_nan=False, allow_infinity=False),
            min_size=1,
        ).map(lambda drawn: {m: min(max(v, specs[m].low), specs[m].high) for m, v in drawn.items()})
    )
    ts = NOW + draw(st.timedeltas(-timedelta(days=30), MAX_FUTURE))
    body = {"station": "ZZ-1", "ts": ts.isoformat(), "values": values}
    return f"env/v1/{kind.value}/ZZ-1", json.dumps(body).encode(), True


@settings(max_examples=500, deadline=None)
@given(
    drawn=st.tuples(
        topics, st.binary(max_size=300) | payload_like.map(lambda d: json.dumps(d).encode()), st.just(False)
    )
    | good_messages()
)
def test_any_input_gives_a_reading_true_to_it_or_a_rejection_that_says_why(
    drawn: tuple[str, bytes, bool],
) -> None:
    topic, payload, good = drawn
    outcome = parse_reading(topic, payload, NOW, MAX_FUTURE)
    if isinstance(outcome, Rejection):
        assert not good, f"a good message was refused: {outcome}"
        assert outcome.reason in RejectReason and len(outcome.detail) > 10, outcome
        return
    assert isinstance(outcome, Reading)
    body = json.loads(payload)
    assert topic == f"env/v1/{outcome.kind.value}/{outcome.station}" and body["station"] == outcome.station
    assert outcome.values == {metric: float(value) for metric, value in body["values"].items()}
    for metric, value in outcome.values.items():
        spec = METRICS[outcome.kind][metric]
        assert spec.low <= value <= spec.high, f"{metric}={value} is outside {spec.range_text()}"
    assert EARLIEST_READING <= outcome.ts <= NOW + MAX_FUTURE
