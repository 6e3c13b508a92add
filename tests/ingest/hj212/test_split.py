"""The parts of split messages, held on a connection until the last comes (clock injected)."""

from __future__ import annotations

from ingest.hj212.packet import Packet
from ingest.hj212.split import MAX_BYTES, MAX_MESSAGES, SplitMessages


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def part(qn: str, pno: int, pnum: int = 2) -> Packet:
    return Packet(
        st="31", cn="2051", pw="1", mn="X", qn=qn, flag=7, pnum=pnum, pno=pno, fields={f"F{pno}": "1"}
    )


def test_a_message_is_whole_once_its_last_part_comes_in_any_order_and_a_retry_replaces_a_part() -> None:
    split = SplitMessages(60, Clock())
    assert split.add(size=100, part=part("Q", 2)) is None
    assert split.add(size=100, part=part("Q", 2)) is None, "the same part again: still waiting for part 1"
    assert split.add(size=100, part=part("Q", 1)) == [part("Q", 1), part("Q", 2)]
    assert split.add(size=100, part=part("Q", 1)) is None, "a new message with the same QN starts afresh"


def test_parts_that_stop_coming_are_dropped_and_said() -> None:
    clock = Clock()
    split = SplitMessages(60, clock)
    split.add(size=100, part=part("Q", 1, pnum=3))
    clock.now = 59
    assert split.dropped() == []
    clock.now = 60
    assert split.dropped() == [("X", "Q", 1, 3)]
    assert split.add(size=100, part=part("Q", 2, pnum=3)) is None and split.dropped() == []


def test_a_connection_holds_at_most_a_few_messages() -> None:
    clock = Clock()
    split = SplitMessages(60, clock)
    for index in range(MAX_MESSAGES + 2):
        clock.now = index
        split.add(size=100, part=part(f"Q{index}", 1))
    assert split.dropped() == [("X", "Q0", 1, 2), ("X", "Q1", 1, 2)]


def test_a_connection_holds_at_most_so_many_bytes_of_parts() -> None:
    clock = Clock()
    split = SplitMessages(60, clock)
    for index, qn in enumerate("CBA"):  # the oldest goes, not the first by name
        clock.now = index
        split.add(size=MAX_BYTES // 2, part=part(qn, 1))
    assert split.dropped() == [("X", "C", 1, 2)]
