"""100,000 generated bad messages through the real bridge: every one in the dead-letter topic,
byte for byte, with the reason validation gives it; the bridge never falls over."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from envalert.core.contract import Kind
from ingest.publisher import WindowedPublisher
from ingest.validation import Rejection, parse_reading
from tests.conftest import Kept, Pipeline, Services, kafka_records, keeps, kept, wait_until
from tests.ingest.bad_payloads import MAX_FUTURE, STATION, corpus

pytestmark = [pytest.mark.integration, pytest.mark.fuzz]

#: Far from now, so that no mutation of it lands near the bridge's clock lead allowance.
SEED_TIME = datetime(2026, 1, 1, tzinfo=UTC)
SIZE = 100_000


def test_a_hundred_thousand_bad_messages_reach_the_dead_letter_topic_with_their_reasons(
    services: Services, pipeline_factory: Callable[..., Pipeline]
) -> None:
    now = datetime.now(UTC)
    messages = corpus(SEED_TIME, now, SIZE)
    expected = Counter[tuple[str, Kept, str]]()
    for topic, payload in messages:
        rejection = parse_reading(topic, payload, now, MAX_FUTURE, {STATION: Kind.AIR})
        assert isinstance(rejection, Rejection)
        expected[topic, keeps(payload), rejection.reason.value] += 1
    assert len(expected) == SIZE
    reasons = Counter(reason for _, _, reason in expected)
    assert len(reasons) >= 10, f"the corpus covers too few kinds of badness: {reasons}"

    pipeline = pipeline_factory({STATION: {"kind": "air", "name": "模糊测试站", "district": "金水区"}})
    pipeline.start("bridge")
    publisher = WindowedPublisher(services.mqtt_settings(), "fuzzer")
    for topic, payload in messages:
        publisher.publish(topic, payload)
    publisher.close()

    records = wait_until(
        lambda: len(found := services.rejected()) >= SIZE and found,
        240,
        f"{SIZE} records on readings.rejected",
        poll=3,
    )
    found = Counter((record["topic"], kept(record), record["reason"]) for record in records)
    assert found == expected, "each message once, byte for byte, with its reason"
    assert all(record["detail"] for record in records)
    assert kafka_records(services.kafka_bootstrap, "readings") == []
    assert pipeline.processes["bridge"].poll() is None, "the bridge is still up"
    print(f"\nfuzz: {SIZE} bad messages, all dead-lettered; by reason: {dict(reasons.most_common())}")
