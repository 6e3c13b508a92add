"""The notifier when its store or a sender fails: no storm, no crash, nothing kept forever
(docs/SECURITY.md). The store is a real SQLite file made to fail as a full disk or a broken
page would; the sender is a stub that counts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from notifiers import notifier as notifier_module
from notifiers.delivery import Outcome
from notifiers.directory import load_directory
from notifiers.lifecycle import NotifierState
from notifiers.notifier import Notifier, RetryPolicy
from notifiers.routing import Routing
from notifiers.service import deliver
from notifiers.silences import Silence
from notifiers.store import Attempt, Message, Store
from rules.model import Severity
from tests.notifiers.conftest import STATIONS, T0, Clock, event

pytestmark = pytest.mark.hostile

RETRY = RetryPolicy(
    timeout=2, first=timedelta(seconds=2), most=timedelta(seconds=60), give_up_after=timedelta(hours=1)
)
ENV = {
    "ENVALERT_SMTP": "127.0.0.1:1",
    "ENVALERT_WEBHOOK": "127.0.0.1:1",
    "ENVALERT_SMS_GATEWAY": "127.0.0.1:1",
}
PM25 = event("air.pm25.24h", "ZZ-AIR-JS01", severity=Severity.CRITICAL, value=162, threshold=150)


class Sender:
    """Stands in for apprise: counts the sends, and answers as told."""

    def __init__(self) -> None:
        self.calls = 0
        self.raises: Exception | None = None

    async def __call__(self, url: str, title: str, body: str, *, notice: str, timeout: float) -> Outcome:
        self.calls += 1
        if self.raises:
            raise self.raises
        return Outcome(True, 0.01)


@pytest.fixture
def sender(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sender]:
    stub = Sender()
    monkeypatch.setattr(notifier_module, "send", stub)
    yield stub


def desk_with_one_message(tmp_path: Path, routing: Routing, clock: Clock) -> Notifier:
    directory = load_directory(environ=ENV)
    desk = Notifier(Store(tmp_path / "n.db"), directory, routing, STATIONS, clock, board_url="b", retry=RETRY)
    desk.take([PM25])
    clock.advance(seconds=30)
    desk.tick()
    assert len(desk.store.due(clock.now)) == 3, "mail, duty webhook and sms"
    return desk


def run_deliver_loop(desk: Notifier, seconds: float, until: Callable[[], bool] = lambda: False) -> None:
    """The service's deliver loop for ``seconds``, or until ``until()`` holds."""

    async def loop() -> None:
        stop = asyncio.Event()
        running = asyncio.create_task(deliver(desk, 0.05, asyncio.Event(), stop))
        deadline = asyncio.get_running_loop().time() + seconds
        while asyncio.get_running_loop().time() < deadline and not until():
            await asyncio.sleep(0.05)
        stop.set()
        await running

    asyncio.run(loop())


def fill_the_disk(store: Store) -> None:
    """The store's file may not grow any more, and its last pages are full: the next write that
    needs room fails as on a full disk ("database or disk is full")."""
    db = store._db
    db.execute("VACUUM")
    db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0]}")
    for table, row in (("attempts", "(0, '', '', 0, '')"), ("seen", None)):
        with contextlib.suppress(sqlite3.OperationalError):
            for n in range(100_000):
                if row:
                    db.execute(f"INSERT INTO {table} (outbox, at, outcome, seconds, error) VALUES {row}")
                else:
                    db.execute("INSERT INTO seen (key, at) VALUES (?, '')", (f"filler-{n}",))


def test_a_store_that_cannot_record_a_send_stops_the_sending_instead_of_repeating_it(
    tmp_path: Path, routing: Routing, sender: Sender, caplog: pytest.LogCaptureFixture
) -> None:
    """One notice once went out 279 times in 3 s: sent, not recorded, so due again at once."""
    clock = Clock()
    desk = desk_with_one_message(tmp_path, routing, clock)
    fill_the_disk(desk.store)
    with caplog.at_level(logging.ERROR):
        run_deliver_loop(desk, 2.0)
    assert sender.calls == 3, "each message sent once, not again while its send cannot be recorded"
    assert "database or disk is full" in caplog.text, "the real error, not the rollback's"
    assert "cannot rollback" not in caplog.text

    desk.store._db.execute("PRAGMA max_page_count = 1073741823")  # space again
    clock.advance(seconds=5)
    run_deliver_loop(desk, 10, until=lambda: desk.store.counts()["delivered"] == 3)
    assert sender.calls == 3, "the sends made while the disk was full are recorded, not repeated"
    assert desk.store.counts() == {"delivered": 3, "gave_up": 0, "waiting": 0}


def test_a_sender_that_raises_is_retried_with_backoff(
    tmp_path: Path, routing: Routing, sender: Sender
) -> None:
    clock = Clock()
    desk = desk_with_one_message(tmp_path, routing, clock)
    sender.raises = RuntimeError("a plugin bug")
    run_deliver_loop(desk, 1.0)
    assert sender.calls == 3, "each message tried once; the next try waits for its backoff"
    attempts = desk.store.unwritten_attempts()
    assert {(a.outcome, a.error) for a in attempts} == {
        ("retrying", "the sender failed: RuntimeError: a plugin bug")
    }


def test_what_was_delivered_long_ago_is_pruned(tmp_path: Path) -> None:
    store = Store(tmp_path / "n.db")
    message = Message("金水区#1", "金水区", "值班邮箱", "mailto://…", "firing", 1, "t", "b")
    store.commit_step(NotifierState(), [], [message], T0)
    (queued,) = store.due(T0)
    store.record(Attempt(queued, T0, "delivered", 0.1, ""), None)
    store.mark_written(store.unwritten_attempts())
    fresh = Message("金水区#2", "金水区", "值班邮箱", "mailto://…", "firing", 1, "t", "b")
    store.commit_step(NotifierState(), [], [fresh], T0 + timedelta(days=40))
    silence = Silence(
        id="s1", matchers={"rule": "air.pm25.24h"}, starts_at=T0,
        ends_at=T0 + timedelta(hours=2), created_by="张", comment="检修",
    )  # fmt: skip
    store.add_silence(silence, by="张", at=T0)
    store.prune(T0 + timedelta(days=41), keep=timedelta(days=30), keep_audit=timedelta(days=365))
    assert store.counts() == {"delivered": 0, "gave_up": 0, "waiting": 1}, "the delivered one is gone"
    assert store.silences() == [], "an ended silence is gone"
    assert len(store.audit()) == 1, "the audit log is kept a year"
    store.prune(T0 + timedelta(days=400), keep=timedelta(days=30), keep_audit=timedelta(days=365))
    assert store.audit() == [] and store.counts()["waiting"] == 1, "an undelivered message is never pruned"


def test_a_corrupt_store_is_set_aside_reported_and_what_can_be_read_is_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "n.db"
    store = Store(path)
    silence = Silence(
        id="s1", matchers={"rule": "air.pm25.24h"}, starts_at=T0,
        ends_at=T0 + timedelta(days=2), created_by="张", comment="检修",
    )  # fmt: skip
    store.add_silence(silence, by="张", at=T0)
    messages = [
        Message(f"金水区#{n}", "金水区", "值班邮箱", "mailto://…", "firing", 1, "t", "b" * 500)
        for n in range(400)
    ]
    store.commit_step(NotifierState(), [f"k{n}" for n in range(400)], messages, T0)
    store.close()
    with path.open("r+b") as file:  # a broken disk: a run of pages in the middle become garbage
        size = path.stat().st_size
        file.seek(size // 2)
        file.write(b"\xde\xad" * 4096)
    with caplog.at_level(logging.ERROR):
        reopened = Store(path)
    assert "is corrupt" in caplog.text and "set aside as" in caplog.text
    assert list(tmp_path.glob("n.db.corrupt-*")), "the broken file is kept for a person to look at"
    assert reopened.silences() == [silence], "what could be read is kept"
    assert reopened._db.execute("PRAGMA quick_check").fetchone()[0] == "ok"
    reopened.commit_step(NotifierState(), ["after"], [], T0)
    assert reopened.seen("after")


def test_sqlite_errors_in_a_step_leave_the_state_as_last_committed(
    tmp_path: Path, routing: Routing, sender: Sender
) -> None:
    clock = Clock()
    desk = desk_with_one_message(tmp_path, routing, clock)
    fill_the_disk(desk.store)
    with pytest.raises(sqlite3.OperationalError):
        for n in range(500):  # until a step needs a new page
            desk.take(
                [event("noise.night.sudden", "ZZ-NOI-GC01", value=80 + n / 100, at=T0 + timedelta(minutes=n))]
            )
    assert desk.state.model_dump_json() == desk.store.state().model_dump_json(), (
        "memory is what the store has"
    )


def test_secrets_anywhere_in_a_url_never_reach_the_log_the_outbox_or_influxdb(
    tmp_path: Path, routing: Routing, caplog: pytest.LogCaptureFixture
) -> None:
    """Only the userinfo of a URL was masked: a token in its path or an ntfy topic was logged
    and stored (the outbox, attempts, InfluxDB's ``target``)."""
    secrets = ["SECRETXYZ123", "secret-topic-123", "pw-in-userinfo", "path-secret-9", "q-secret-7"]
    contacts = [
        "jsons://127.0.0.1:1/services/T000/B000/SECRETXYZ123",
        "ntfy://secret-topic-123",
        "json://user:pw-in-userinfo@127.0.0.1:1/duty/path-secret-9?token=q-secret-7",
    ]
    directory = tmp_path / "directory.yaml"
    directory.write_text(
        "units:\n"
        + "".join(
            f"  - id: u{index}\n    name: {name}\n    kind: district\n    contacts:\n"
            + "".join(
                f"      - {{name: c{n}, url: '{url}', tags: [duty]}}\n" for n, url in enumerate(contacts)
            )
            for index, name in enumerate(["金水区", "市生态环境局"])
        ),
        encoding="utf-8",
    )
    clock = Clock()
    desk = Notifier(
        Store(tmp_path / "n.db"), load_directory(directory, environ={}), routing, STATIONS, clock,
        board_url="b", retry=RETRY,
    )  # fmt: skip
    desk.take([PM25])
    clock.advance(seconds=30)
    desk.tick()
    with caplog.at_level(logging.DEBUG):
        asyncio.run(desk.deliver_due())
    attempts = desk.store.unwritten_attempts()
    assert len(attempts) == 3
    stored = str([(a.message.target, a.error) for a in attempts])
    rows = desk.store._db.execute("SELECT target, last_error FROM outbox").fetchall()
    stored += str([tuple(row) for row in rows])
    for secret in secrets:
        assert secret not in caplog.text, secret
        assert secret not in stored, secret
    assert {a.message.target for a in attempts} == {
        "jsons://127.0.0.1:1/…",
        "ntfy://…",
        "json://127.0.0.1:1/…",
    }
