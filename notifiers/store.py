"""The notifier's durable state in one SQLite file: lifecycle state, outbox, attempts, silences, acks.

Each step of the notifier commits the new lifecycle state, the keys of the events it took and
the messages it queued in one transaction, and only then lets Kafka's offset move: a crash at
any point replays events already recorded as seen, and the outbox holds each message once
(unique per notice and contact) until it is delivered. Alertmanager keeps its notification log
and silences in local files for the same reason.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from notifiers.lifecycle import NotifierState
from notifiers.silences import Acknowledgement, Silence

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS state (id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    notice TEXT NOT NULL,
    unit TEXT NOT NULL,
    contact TEXT NOT NULL,
    target TEXT NOT NULL,
    reason TEXT NOT NULL,
    alerts INTEGER NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    delivered_at TEXT,
    gave_up_at TEXT,
    last_error TEXT,
    UNIQUE (notice, contact)
);
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    outbox INTEGER NOT NULL REFERENCES outbox (id),
    at TEXT NOT NULL,
    outcome TEXT NOT NULL,
    seconds REAL NOT NULL,
    error TEXT NOT NULL,
    written INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS silences (id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS acks (
    fingerprint TEXT NOT NULL, started_at TEXT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (fingerprint, started_at)
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    by TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Message:
    """One notice rendered for one contact: a row of the outbox."""

    notice: str
    unit: str
    contact: str
    target: str  # masked URL, for people and logs
    reason: str
    alerts: int
    title: str
    body: str
    id: int = 0
    attempts: int = 0
    created_at: datetime | None = None


class AuditEntry(BaseModel):
    """One write by a person: who, when, what, on which alert or silence."""

    at: datetime
    by: str
    action: Literal["acknowledge", "silence", "expire"]
    target: str
    detail: str


@dataclass(frozen=True)
class Attempt:
    message: Message
    at: datetime
    outcome: str  # delivered | retrying | gave_up
    seconds: float
    error: str
    id: int = 0


#: The tables a corrupt store's readable rows are copied from, in an order that keeps references.
TABLES = ("state", "seen", "outbox", "attempts", "silences", "acks", "audit")


class Store:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        try:
            self._db = _open(path)
            problem = self._db.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.DatabaseError as error:
            problem = str(error)
        if problem != "ok":
            self.recover(problem)

    def close(self) -> None:
        self._db.close()

    def recover(self, problem: str) -> None:
        """Set a corrupt file aside and start a new one with every row that can still be read:
        the notifier goes on (with what it lost reported) instead of failing at every step."""
        with contextlib.suppress(sqlite3.Error, AttributeError):
            self._db.close()
        aside = self.path.with_name(f"{self.path.name}.corrupt-{datetime.now(UTC):%Y%m%dT%H%M%SZ}")
        for suffix in ("", "-wal", "-shm"):
            source = self.path.with_name(self.path.name + suffix)
            if source.exists():
                source.rename(aside.with_name(aside.name + suffix))
        self._db = _open(self.path)
        kept = self._copy_readable(aside)
        log.error(
            "the notifier's store %s is corrupt (%s); set aside as %s; kept the readable rows in a new "
            "one (%s): check what the set-aside file lost, and the disk",
            self.path, problem[:200], aside, ", ".join(f"{table} {n}" for table, n in kept.items()),
        )  # fmt: skip

    def _copy_readable(self, corrupt: Path) -> dict[str, int]:
        kept = dict.fromkeys(TABLES, 0)
        try:
            old = sqlite3.connect(f"file:{corrupt}?mode=ro", uri=True)
        except sqlite3.Error:
            return kept
        try:
            for table in TABLES:
                with contextlib.suppress(sqlite3.Error):  # a broken page ends this table's rows
                    rows = old.execute(f"SELECT * FROM {table}")
                    for row in rows:
                        marks = ", ".join("?" * len(row))
                        self._db.execute(f"INSERT OR IGNORE INTO {table} VALUES ({marks})", row)
                        kept[table] += 1
        finally:
            old.close()
        return kept

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            # SQLite may have rolled back already (a full disk does): a second rollback would
            # raise "no transaction is active" and hide the error that matters.
            if self._db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # --- lifecycle state and seen events -----------------------------------------------------

    def state(self) -> NotifierState:
        row = self._db.execute("SELECT body FROM state WHERE id = 1").fetchone()
        return NotifierState.model_validate_json(row["body"]) if row else NotifierState()

    def seen(self, key: str) -> bool:
        return self._db.execute("SELECT 1 FROM seen WHERE key = ?", (key,)).fetchone() is not None

    def commit_step(
        self, state: NotifierState, keys: Iterable[str], messages: Iterable[Message], now: datetime
    ) -> None:
        """The new state, the events taken and the messages queued: all or nothing."""
        stamp = now.isoformat()
        with self.transaction():
            self._db.execute(
                "INSERT INTO state (id, body) VALUES (1, ?)"
                " ON CONFLICT (id) DO UPDATE SET body = excluded.body",
                (state.model_dump_json(),),
            )
            self._db.executemany(
                "INSERT OR IGNORE INTO seen (key, at) VALUES (?, ?)", [(key, stamp) for key in keys]
            )
            self._db.executemany(
                "INSERT OR IGNORE INTO outbox (notice, unit, contact, target, reason, alerts, title, body,"
                " created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (m.notice, m.unit, m.contact, m.target, m.reason, m.alerts, m.title, m.body, stamp, stamp)
                    for m in messages
                ],
            )

    def forget(self, seen_before: datetime, episodes: Iterable[tuple[str, datetime]]) -> None:
        """Event keys seen before ``seen_before`` (no replay reaches that far back), and the
        acknowledgements of every episode but ``episodes`` (those still tracked)."""
        keep = [(fingerprint, started.isoformat()) for fingerprint, started in episodes]
        with self.transaction():
            self._db.execute("DELETE FROM seen WHERE at < ?", (seen_before.isoformat(),))
            self._db.execute("CREATE TEMP TABLE IF NOT EXISTS keep (fingerprint TEXT, started_at TEXT)")
            self._db.execute("DELETE FROM keep")
            self._db.executemany("INSERT INTO keep VALUES (?, ?)", keep)
            self._db.execute(
                "DELETE FROM acks WHERE (fingerprint, started_at)"
                " NOT IN (SELECT fingerprint, started_at FROM keep)"
            )

    def prune(self, now: datetime, *, keep: timedelta, keep_audit: timedelta) -> None:
        """Delivered and given-up messages (with their attempts, once written to InfluxDB) and
        ended silences older than ``keep``, audit entries older than ``keep_audit``. Nothing
        still to be sent, and no attempt not yet written, is ever pruned."""
        before, audit_before = (now - keep).isoformat(), (now - keep_audit).isoformat()
        done = (
            "SELECT id FROM outbox WHERE coalesce(delivered_at, gave_up_at) < ?"
            " AND id NOT IN (SELECT outbox FROM attempts WHERE written = 0)"
        )
        with self.transaction():
            self._db.execute(f"DELETE FROM attempts WHERE outbox IN ({done})", (before,))
            self._db.execute(f"DELETE FROM outbox WHERE id IN ({done})", (before,))
            ended = [silence.id for silence in self.silences() if silence.ends_at < now - keep]
            self._db.executemany("DELETE FROM silences WHERE id = ?", [(sid,) for sid in ended])
            self._db.execute("DELETE FROM audit WHERE at < ?", (audit_before,))

    # --- the outbox --------------------------------------------------------------------------

    def due(self, now: datetime) -> list[Message]:
        """The oldest undelivered message of each (unit, contact), if its time has come: one
        target's messages go out in the order they were queued."""
        rows = self._db.execute(
            "SELECT * FROM outbox WHERE id IN (SELECT min(id) FROM outbox"
            " WHERE delivered_at IS NULL AND gave_up_at IS NULL GROUP BY unit, contact)"
            " AND next_attempt_at <= ? ORDER BY id",
            (now.isoformat(),),
        ).fetchall()
        return [_message(row) for row in rows]

    def record(self, attempt: Attempt, retry_at: datetime | None) -> None:
        message = attempt.message
        with self.transaction():
            self._db.execute(
                "INSERT INTO attempts (outbox, at, outcome, seconds, error) VALUES (?, ?, ?, ?, ?)",
                (message.id, attempt.at.isoformat(), attempt.outcome, attempt.seconds, attempt.error),
            )
            done = attempt.at.isoformat()
            self._db.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?,"
                " delivered_at = ?, gave_up_at = ? WHERE id = ?",
                (
                    attempt.error or None,
                    (retry_at or attempt.at).isoformat(),
                    done if attempt.outcome == "delivered" else None,
                    done if attempt.outcome == "gave_up" else None,
                    message.id,
                ),
            )

    def unwritten_attempts(self, limit: int = 500) -> list[Attempt]:
        rows = self._db.execute(
            "SELECT attempts.id AS attempt_id, attempts.at AS attempt_at, attempts.outcome, attempts.seconds,"
            " attempts.error, outbox.* FROM attempts JOIN outbox ON outbox.id = attempts.outbox"
            " WHERE written = 0 ORDER BY attempts.id LIMIT ?",
            (limit,),
        ).fetchall()
        return [
            Attempt(
                _message(row),
                datetime.fromisoformat(row["attempt_at"]),
                row["outcome"],
                row["seconds"],
                row["error"],
                row["attempt_id"],
            )
            for row in rows
        ]

    def mark_written(self, attempts: Iterable[Attempt]) -> None:
        self._db.executemany("UPDATE attempts SET written = 1 WHERE id = ?", [(a.id,) for a in attempts])

    def counts(self) -> dict[str, int]:
        row = self._db.execute(
            "SELECT count(*) FILTER (WHERE delivered_at IS NOT NULL) AS delivered,"
            " count(*) FILTER (WHERE gave_up_at IS NOT NULL) AS gave_up,"
            " count(*) FILTER (WHERE delivered_at IS NULL AND gave_up_at IS NULL) AS waiting FROM outbox"
        ).fetchone()
        return dict(row)

    # --- silences and acknowledgements ---------------------------------------------------------

    def add_silence(self, silence: Silence, *, by: str, at: datetime, expired: bool = False) -> None:
        """Create (or, when ``expired``, end) a silence; the audit log says who and when."""
        with self.transaction():
            self._db.execute(
                "INSERT INTO silences (id, body) VALUES (?, ?)"
                " ON CONFLICT (id) DO UPDATE SET body = excluded.body",
                (silence.id, silence.model_dump_json()),
            )
            detail = (
                ""
                if expired
                else f"{silence.matchers} until {silence.ends_at.isoformat()}: {silence.comment}"
            )
            self._audit(at, by, "expire" if expired else "silence", silence.id, detail)

    def silences(self, now: datetime | None = None) -> list[Silence]:
        """All silences, or those not yet over at ``now``."""
        found = [
            Silence.model_validate_json(row["body"]) for row in self._db.execute("SELECT body FROM silences")
        ]
        return [s for s in found if now is None or s.ends_at > now]

    def add_ack(self, ack: Acknowledgement) -> None:
        with self.transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO acks (fingerprint, started_at, body) VALUES (?, ?, ?)",
                (ack.fingerprint, ack.started_at.isoformat(), ack.model_dump_json()),
            )
            self._audit(ack.at, ack.by, "acknowledge", ack.fingerprint, ack.comment)

    def acks(self) -> list[Acknowledgement]:
        return [
            Acknowledgement.model_validate_json(row["body"])
            for row in self._db.execute("SELECT body FROM acks")
        ]

    # --- who changed what ---------------------------------------------------------------------

    def _audit(self, at: datetime, by: str, action: str, target: str, detail: str) -> None:
        self._db.execute(
            "INSERT INTO audit (at, by, action, target, detail) VALUES (?, ?, ?, ?, ?)",
            (at.isoformat(), by, action, target, detail),
        )

    def audit(self, limit: int = 200) -> list[AuditEntry]:
        """The latest writes by people (acknowledgements, silences), newest first."""
        rows = self._db.execute("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [
            AuditEntry(
                at=datetime.fromisoformat(row["at"]),
                by=row["by"],
                action=row["action"],
                target=row["target"],
                detail=row["detail"],
            )
            for row in rows
        ]

    def attempt_counts(self) -> dict[str, int]:
        """Delivery attempts so far by outcome (delivered, retrying, gave_up)."""
        rows = self._db.execute("SELECT outcome, count(*) AS n FROM attempts GROUP BY outcome").fetchall()
        return {row["outcome"]: row["n"] for row in rows}


def _open(path: Path) -> sqlite3.Connection:
    # The notifier's event loop waits this long for a lock held elsewhere (the CLI's writes take
    # milliseconds): a longer hold is a failing store, which its breaker waits out off the loop.
    db = sqlite3.connect(path, isolation_level=None, timeout=2)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.executescript(SCHEMA)
    return db


def _message(row: sqlite3.Row) -> Message:
    return Message(
        notice=row["notice"],
        unit=row["unit"],
        contact=row["contact"],
        target=row["target"],
        reason=row["reason"],
        alerts=row["alerts"],
        title=row["title"],
        body=row["body"],
        id=row["id"],
        attempts=row["attempts"],
        created_at=datetime.fromisoformat(row["created_at"]),
    )
