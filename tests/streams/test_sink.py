"""RetryingSink with a scripted writer: outages are waited out, refused points isolated."""

from __future__ import annotations

import asyncio
import logging

import pytest

from envalert.core.influx import InfluxRefusedError, InfluxUnavailableError
from streams.sink import RetryingSink


class ScriptedWriter:
    """Fails the first ``outages`` writes as unavailable; refuses any batch holding a bad line."""

    address = "scripted"

    def __init__(self, outages: int = 0, bad: frozenset[str] = frozenset()) -> None:
        self.outages = outages
        self.bad = bad
        self.stored: list[str] = []
        self.calls = 0

    async def prepare(self) -> None:
        return None

    async def write(self, lines: list[str]) -> None:
        self.calls += 1
        if self.outages:
            self.outages -= 1
            raise InfluxUnavailableError("connection refused")
        if self.bad & set(lines):
            raise InfluxRefusedError("field type conflict")
        self.stored += lines

    async def close(self) -> None:
        return None


def store(writer: ScriptedWriter, items: list[str]) -> list[tuple[str, str]]:
    refused: list[tuple[str, str]] = []

    async def on_refused(item: str, reason: str) -> None:
        refused.append((item, reason))

    sink = RetryingSink(writer, max_backoff=0.01)
    asyncio.run(sink.store(items, str, on_refused))
    return refused


def test_an_outage_is_retried_until_the_batch_is_stored(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    writer = ScriptedWriter(outages=3)
    assert store(writer, ["a", "b"]) == []
    assert writer.stored == ["a", "b"]
    assert writer.calls == 4
    assert "InfluxDB unavailable for a batch of 2 points (attempt 3" in caplog.text
    assert "InfluxDB is back" in caplog.text


def test_refused_points_are_isolated_and_the_rest_is_stored() -> None:
    items = [f"p{index}" for index in range(10)]
    writer = ScriptedWriter(bad=frozenset({"p3", "p7"}))
    refused = store(writer, items)
    assert [item for item, _ in refused] == ["p3", "p7"]
    assert all("field type conflict" in reason for _, reason in refused)
    assert sorted(writer.stored) == sorted(set(items) - {"p3", "p7"})
