"""Handing results on before the state that produced them is saved.

A transition or a figure is sent, and Kafka's ack awaited, before the table row it came from
is written: a crash in between replays the input and sends the same records again (same keys,
recognised downstream), never none.
"""

from __future__ import annotations

import weakref

from faust.streams import _current_event
from faust.types import EventT, TopicT
from faust.types.tables import TableT
from pydantic import BaseModel

Outgoing = tuple[TopicT, bytes, BaseModel]


async def send_all(records: list[Outgoing]) -> None:
    """Send every record, then wait until Kafka has acknowledged each one."""
    pending = [
        await topic.send(key=key, value=value.model_dump_json().encode()) for topic, key, value in records
    ]
    for sent in pending:
        await sent


def save(table: TableT[bytes, str], key: bytes, state: BaseModel, last: EventT[bytes]) -> str:
    """Write a table row as if while ``last`` was processed: faust's tables send the changelog to
    the partition of the event in hand, read from this context variable. (Stream._set_current_event
    would also repoint the stream's own current event, which take_events pairs with the next value
    it buffers: that lost readings.) Returns the row written."""
    row = state.model_dump_json()
    token = _current_event.set(weakref.ref(last))
    try:
        table[key] = row
    finally:
        _current_event.reset(token)
    return row
