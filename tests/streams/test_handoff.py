"""Table rows are confirmed by Kafka before the events that produced them are acknowledged."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from faust.types.tuples import FutureMessage

from streams.app import App
from streams.handoff import ConfirmedTable


def table() -> ConfirmedTable:
    app = App("test-handoff", broker="kafka://localhost:1", Table=ConfirmedTable)
    return cast(ConfirmedTable, app.Table("rows", key_type=bytes, value_type=str))


def test_confirming_waits_for_every_changelog_record_written() -> None:
    async def run() -> None:
        rows = table()
        first, second = rows.send_changelog(0, b"a", "1"), rows.send_changelog(0, b"b", "2")
        confirming = asyncio.ensure_future(rows.confirm())
        first.set_result(cast(Any, None))
        done, _ = await asyncio.wait({confirming}, timeout=0.2)
        assert not done, "confirmed while a changelog record was still unacknowledged"
        second.set_result(cast(Any, None))
        await asyncio.wait_for(confirming, timeout=5)
        await asyncio.wait_for(rows.confirm(), timeout=5)  # nothing written since: nothing to wait for

    asyncio.run(run())


def test_a_changelog_record_kafka_refused_fails_the_confirmation() -> None:
    async def run() -> None:
        rows = table()
        sent: FutureMessage = rows.send_changelog(0, b"a", "1")
        sent.set_exception(RuntimeError("broker refused"))
        with pytest.raises(RuntimeError, match="broker refused"):
            await rows.confirm()

    asyncio.run(run())
