"""The notifier's steps: take alert events, queue what is due, deliver what is queued.

Everything it decides is committed to the store before anything is sent or acknowledged to
Kafka; see notifiers/store.py for why that gives at-least-once delivery without duplicates.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from envalert.core.stations import Station
from notifiers.breaker import Breaker
from notifiers.delivery import Outcome, backoff, masked, scrubbed, send
from notifiers.directory import Contact, Directory, Unit
from notifiers.lifecycle import Lifecycle, Notice, NotifierState
from notifiers.messages import render
from notifiers.routing import Routing
from notifiers.silences import labels
from notifiers.store import Attempt, Message, Store
from rules.events import CITY_BUREAU, AlertEvent

log = logging.getLogger(__name__)
#: SQLite's words for a file it cannot read as a database any more.
CORRUPTION = re.compile(r"malformed|not a database|corrupt", re.IGNORECASE)


@dataclass(frozen=True)
class RetryPolicy:
    timeout: float = 10.0
    first: timedelta = timedelta(seconds=2)
    most: timedelta = timedelta(minutes=5)
    give_up_after: timedelta = timedelta(hours=24)


class Notifier:
    def __init__(
        self,
        store: Store,
        directory: Directory,
        routing: Routing,
        stations: Mapping[str, Station],
        clock: Callable[[], datetime],
        *,
        board_url: str,
        retry: RetryPolicy = RetryPolicy(),
        sending_at_once: int = 8,
    ) -> None:
        self.store, self.directory, self.routing, self.stations = store, directory, routing, stations
        self.clock, self.board_url, self.retry = clock, board_url, retry
        self.sending_at_once = sending_at_once
        self._sending: dict[tuple[str, str], asyncio.Task[bool]] = {}
        #: Nothing is sent while the store cannot record it (see notifiers/breaker.py).
        self.store_breaker = Breaker("the notifier's store")
        #: Attempts made but not yet recorded (the store failed): recorded before anything else
        #: is sent, and their messages never sent again meanwhile.
        self._unrecorded: dict[int, tuple[Attempt, datetime | None]] = {}
        #: Alert events that could not be read, kept in the dead-letter topic (notifiers/service.py).
        self.unreadable_events = 0
        self.lifecycle = Lifecycle(routing, self._parent)
        self.state = store.state()
        self._saved = self.state.model_dump_json()

    def _parent(self, name: str) -> str | None:
        parent = self.directory.parent(name)
        return parent.name if parent else None

    def take(self, events: Iterable[AlertEvent]) -> list[AlertEvent]:
        """Take a batch of transitions (some perhaps seen before); returns the new ones."""
        now, keys, new = self.clock(), [], []
        for event in events:
            if event.key in keys or self.store.seen(event.key):
                continue
            keys.append(event.key)
            new.append(event)
            station = self.stations.get(event.subject) if event.subject_kind == "station" else None
            units = self.routing.units_for(event, station)
            self.lifecycle.receive(self.state, event, units, labels(event, station), now)
        self._step(now, keys)
        return new

    def tick(self) -> None:
        """Queue whatever the clock has made due: group waits over, repeats, escalations."""
        self._step(self.clock(), [])

    def _step(self, now: datetime, keys: list[str]) -> None:
        """Queue what is due and commit it with the new state; on a store error the state in
        memory goes back to the last one committed, and the error is raised for the caller
        (the events are taken again, the tick comes again)."""
        try:
            notices = self.lifecycle.due(self.state, now, self.store.silences(now), self.store.acks())
            messages = [message for notice in notices for message in self._messages(notice)]
            saved = self.state.model_dump_json()
            if keys or messages or saved != self._saved:
                self.store.commit_step(self.state, keys, messages, now)
                self._saved = saved
        except sqlite3.Error as error:
            self.state = NotifierState.model_validate_json(self._saved)
            self._store_failed(error)
            raise
        self.store_breaker.succeeded()
        for notice in notices:
            log.info(
                "notice %s to %s (%s): %d firing, %d resolved, %d message(s) queued",
                notice.id,
                notice.unit,
                notice.reason,
                len(notice.firing),
                len(notice.resolved),
                sum(1 for message in messages if message.notice == notice.id),
            )

    def _unit(self, name: str) -> Unit:
        unit = self.directory.find(name)
        if unit is None:
            log.error("unit %r is not in %s; telling %s instead", name, self.directory.source, CITY_BUREAU)
            unit = self.directory.find(CITY_BUREAU)
        assert unit is not None, "check_covers makes sure the city bureau is in the directory"
        return unit

    def _messages(self, notice: Notice) -> list[Message]:
        unit = self._unit(notice.unit)
        chosen = [contact for contact in unit.contacts or [] if set(contact.tags) & set(notice.tags)]
        if not chosen:
            log.error(
                "%s has no contact tagged %s: notice %s reaches nobody", unit.name, notice.tags, notice.id
            )
        messages = []
        for contact in chosen:
            title, body = render(notice, unit, contact, self.board_url)
            messages.append(
                Message(
                    notice=notice.id,
                    unit=unit.name,
                    contact=contact.name,
                    target=masked(contact.url),
                    reason=notice.reason,
                    alerts=len(notice.firing) + len(notice.resolved),
                    title=title,
                    body=body,
                )
            )
        return messages

    async def deliver_due(self) -> int:
        """Send each target's oldest due message (see ``start_due``); returns how many were
        delivered."""
        return sum(await asyncio.gather(*self.start_due()))

    def start_due(self) -> list[asyncio.Task[bool]]:
        """Start sending each target's oldest due message, targets at once, at most
        ``sending_at_once`` in all: a slow mail server or a dead webhook holds up only its own
        messages, and a burst of notices is not sent one by one (that put a second of delay on
        alerts queued behind a minute's burst). A target's next message waits until its last
        send is recorded, so each target still gets its messages in order."""
        if not self.store_breaker.allows():
            return []
        try:
            self._record_unrecorded()
            due = self.store.due(self.clock())
        except sqlite3.Error as error:
            self._store_failed(error)
            return []
        started = []
        for message in due:
            target = (message.unit, message.contact)
            if len(self._sending) >= self.sending_at_once:
                break
            if target in self._sending:
                continue
            sending = asyncio.create_task(
                self._deliver(message), name=f"send {message.notice} to {message.contact}"
            )
            self._sending[target] = sending
            sending.add_done_callback(functools.partial(self._sent, target))
            started.append(sending)
        return started

    def _sent(self, target: tuple[str, str], sending: asyncio.Task[bool]) -> None:
        del self._sending[target]
        if not sending.cancelled() and (error := sending.exception()) is not None:
            log.error("sending to %s failed; it is tried again", target, exc_info=error)

    async def finish_sending(self, within: float) -> None:
        """Wait for the sends on their way, at most ``within`` seconds: the ones cancelled then
        are not recorded, so their messages are sent again at the next start."""
        sending = list(self._sending.values())
        if not sending:
            return
        _, unfinished = await asyncio.wait(sending, timeout=within)
        for task in unfinished:
            task.cancel()
        if unfinished:
            await asyncio.wait(unfinished)
            log.warning(
                "stopped %d send(s) on their way: they are sent again at the next start", len(unfinished)
            )

    def _record_unrecorded(self) -> None:
        for key, (attempt, retry_at) in list(self._unrecorded.items()):
            self.store.record(attempt, retry_at)
            del self._unrecorded[key]

    def _store_failed(self, error: sqlite3.Error) -> None:
        self.store_breaker.failed(error)
        if isinstance(error, sqlite3.DatabaseError) and CORRUPTION.search(str(error)):
            self.store.recover(str(error))
            self._saved = ""  # the new file may lack the state: commit it at the next step

    async def _deliver(self, message: Message) -> bool:
        """Try ``message`` once and record the attempt; True if it was delivered."""
        contact = self._contact(message)
        if contact is None:
            outcome = Outcome(False, 0.0, f"contact {message.contact!r} is no longer in the directory")
        else:
            outcome = await self._send(contact, message)
        now = self.clock()
        expired = contact is None or now - (message.created_at or now) >= self.retry.give_up_after
        verdict = "delivered" if outcome.delivered else "gave_up" if expired else "retrying"
        retry_at = None
        if verdict == "retrying":
            retry_at = now + backoff(message.attempts + 1, self.retry.first, self.retry.most)
        attempt = Attempt(message, now, verdict, outcome.seconds, outcome.error)
        self._log(message, verdict, outcome.error, retry_at)
        try:
            self.store.record(attempt, retry_at)
        except sqlite3.Error as error:
            self._unrecorded[message.id] = (attempt, retry_at)
            self._store_failed(error)
        return outcome.delivered

    async def _send(self, contact: Contact, message: Message) -> Outcome:
        """One send; a sender that raises (an apprise plugin's bug) is a failed attempt like
        any other, retried after its backoff."""
        try:
            return await send(
                contact.url, message.title, message.body, notice=message.notice, timeout=self.retry.timeout
            )
        except Exception as error:  # whatever a plugin raises
            said = scrubbed(str(error), contact.url)
            return Outcome(False, 0.0, f"the sender failed: {type(error).__name__}: {said}"[:300])

    def _contact(self, message: Message) -> Contact | None:
        unit = self.directory.find(message.unit)
        return next((c for c in unit.contacts or [] if c.name == message.contact), None) if unit else None

    @staticmethod
    def _log(message: Message, outcome: str, error: str, retry_at: datetime | None) -> None:
        where = f"{message.notice} to {message.unit} via {message.contact} ({message.target})"
        if outcome == "delivered":
            log.info("delivered %s after %d earlier attempt(s)", where, message.attempts)
        elif outcome == "gave_up":
            log.error("gave up %s after %d attempts: %s", where, message.attempts + 1, error)
        else:
            log.warning(
                "could not deliver %s (attempt %d): %s; next try %s",
                where,
                message.attempts + 1,
                error,
                retry_at,
            )
