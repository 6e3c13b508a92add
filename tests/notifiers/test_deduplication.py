"""No notice twice: an alert transition delivered again (Kafka is at-least-once) is news once,
and a notice queued again is one message per contact."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from notifiers.directory import load_directory
from notifiers.lifecycle import NotifierState
from notifiers.notifier import Notifier
from notifiers.routing import Routing
from notifiers.store import Message, Store
from rules.model import Severity
from tests.notifiers.conftest import STATIONS, T0, Clock, event

PM25 = event("air.pm25.24h", "ZZ-AIR-JS01", severity=Severity.CRITICAL, value=162, threshold=150)


def desk(path: Path, routing: Routing, clock: Clock) -> Notifier:
    return Notifier(Store(path), load_directory(environ={}), routing, STATIONS, clock, board_url="http://b")


def test_a_transition_delivered_again_in_a_batch_or_after_a_restart_is_news_once(
    tmp_path: Path, routing: Routing
) -> None:
    clock = Clock()
    first = desk(tmp_path / "n.db", routing, clock)
    assert first.take([PM25, PM25]) == [PM25]
    clock.advance(seconds=30)
    first.tick()
    queued = first.store.counts()["waiting"]
    assert queued > 0
    assert first.take([PM25]) == []
    first.store.close()
    again = desk(tmp_path / "n.db", routing, clock)  # a restart: Kafka hands the batch over again
    assert again.take([PM25]) == []
    clock.advance(minutes=10)
    again.tick()
    assert again.store.counts()["waiting"] == queued


def test_a_notice_queued_again_is_one_message_per_contact(tmp_path: Path) -> None:
    store = Store(tmp_path / "n.db")
    message = Message(
        notice="n-1", unit="金水区", contact="duty", target="mailto://…", reason="alerts", alerts=1,
        title="PM2.5", body="…",
    )  # fmt: skip
    store.commit_step(NotifierState(), [], [message], T0)
    store.commit_step(NotifierState(), [], [message, replace(message, contact="sms")], T0)
    assert [(m.notice, m.contact) for m in store.due(T0)] == [("n-1", "duty"), ("n-1", "sms")]
    assert store.counts()["waiting"] == 2
