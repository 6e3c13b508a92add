"""Bad station messages, by kind of badness, for fuzzing the bridge.

Hypothesis strategies give a seed corpus that covers each kind the issue names: wrong types, huge
and tiny numbers, NaN and infinities, bad timestamps, wrong encodings and random bytes. Hypothesis
draws a few hundred a second, so a corpus of 100,000 is grown from the seeds by seeded byte-level
mutations (flip, cut, splice, repeat), as fuzzers do. Whatever a mutation happens to make valid is
left out: the corpus holds only messages the bridge must refuse.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from ingest.validation import MAX_PAYLOAD_BYTES, Rejection, parse_reading

STATION = "ZZ-AIR-FZ01"
TOPIC = f"env/v1/air/{STATION}"
MAX_FUTURE = timedelta(minutes=5)

Message = tuple[str, bytes]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=5,
)
extreme_numbers = st.sampled_from(
    [1e308, -1e308, 5e-324, -5e-324, 10**400, -(10**40), 2**63, -(2**63) - 1, 1e-300, 0.0, -0.0]
)
not_finite = st.sampled_from(["NaN", "Infinity", "-Infinity", "nan", "inf"])
bad_timestamps = st.one_of(
    st.sampled_from(
        [
            "",
            "yesterday",
            "2026-02-30T08:00:00+08:00",
            "2026-11-28T25:00:00+08:00",
            "2026-11-28 08:00:00 CST",
            "+275760-09-13T00:00:00Z",
            "1970-01-01T00:00:00Z",
        ]
    ),
    st.sampled_from([-1, 0, 10**30, 253_402_300_800_000, 1e300, True]),
    st.text(max_size=30),
    json_values,
)
encodings = st.sampled_from(["utf-16", "utf-32", "gbk", "gb18030", "big5", "shift_jis"])


def reading(ts: datetime, changes: dict[str, Any] | None = None) -> dict[str, Any]:
    """A valid message, but for ``changes``."""
    return {
        "station": STATION,
        "ts": ts.isoformat(),
        "values": {"pm25": 35.0, "pm10": 70.0},
        **(changes or {}),
    }


def encoded(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False).encode()


def seeds(ts: datetime) -> st.SearchStrategy[Message]:
    """One bad message: each branch is one kind of badness."""
    field = st.sampled_from(["station", "ts", "values", "flags"])
    wrong_type = st.tuples(field, json_values).map(lambda pair: encoded(reading(ts, {pair[0]: pair[1]})))
    wrong_value_type = json_values.map(lambda value: encoded(reading(ts, {"values": {"pm25": value}})))
    extreme = extreme_numbers.map(lambda number: encoded(reading(ts, {"values": {"pm25": number}})))
    nan = not_finite.map(
        lambda literal: encoded(reading(ts)).replace(b'"pm25": 35.0', b'"pm25": ' + literal.encode())
    )
    bad_time = bad_timestamps.map(lambda stamp: encoded(reading(ts, {"ts": stamp})))
    wrong_encoding = st.tuples(
        encodings, st.text(alphabet="郑州市金水区二七区空气质量监测站点", min_size=1)
    ).map(
        lambda pair: json.dumps(reading(ts, {"station": pair[1]}), ensure_ascii=False).encode(
            pair[0], "replace"
        )
    )
    noise = st.binary(max_size=300)
    too_large = st.integers(MAX_PAYLOAD_BYTES + 1, MAX_PAYLOAD_BYTES + 100).map(lambda size: b"{" * size)
    payloads = st.one_of(
        wrong_type, wrong_value_type, extreme, nan, bad_time, wrong_encoding, noise, too_large
    )
    topics = st.sampled_from([TOPIC] * 9 + ["env/v1/air/", "env/v1/rain/ZZ-AIR-FZ01", "env/v1/noise/X"])
    return st.tuples(topics, payloads)


def seed_corpus(ts: datetime, count: int) -> list[Message]:
    """``count`` messages drawn by hypothesis (about 2 ms each)."""
    drawn: list[Message] = []

    @settings(
        max_examples=count,
        phases=[Phase.generate],
        database=None,
        derandomize=True,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(seeds(ts))
    def collect(message: Message) -> None:
        drawn.append(message)

    collect()
    return drawn


def mutations(rng: random.Random) -> list[Callable[[bytes], bytes]]:
    def flip(data: bytes) -> bytes:
        if not data:
            return bytes([rng.randrange(256)])
        at = rng.randrange(len(data))
        return data[:at] + bytes([data[at] ^ (1 << rng.randrange(8))]) + data[at + 1 :]

    def cut(data: bytes) -> bytes:
        return data[: rng.randrange(len(data) + 1)]

    def splice(data: bytes) -> bytes:
        at = rng.randrange(len(data) + 1)
        return data[:at] + rng.randbytes(rng.randrange(1, 16)) + data[at:]

    def repeat(data: bytes) -> bytes:
        start = rng.randrange(len(data) + 1)
        return data[:start] + data[start : start + rng.randrange(1, 32)] * 2 + data[start:]

    return [flip, cut, splice, repeat]


def corpus(ts: datetime, now: datetime, size: int, seed_count: int = 2000, seed: int = 212) -> list[Message]:
    """``size`` distinct messages the bridge must refuse: the seeds, then seeded mutations of them."""
    rng = random.Random(seed)
    mutate = mutations(rng)

    def refused(message: Message) -> bool:
        return isinstance(parse_reading(*message, now, MAX_FUTURE), Rejection)

    messages = dict.fromkeys(message for message in seed_corpus(ts, seed_count) if refused(message))
    # Oversized seeds stay seeds: mutating them would make the corpus mostly megabytes of braces.
    pool = [(topic, payload) for topic, payload in messages if len(payload) <= MAX_PAYLOAD_BYTES]
    while len(messages) < size:
        topic, payload = rng.choice(pool)
        for _ in range(rng.randint(1, 3)):
            payload = rng.choice(mutate)(payload)
        if refused((topic, payload)):
            messages[topic, payload] = None
    return list(messages)
