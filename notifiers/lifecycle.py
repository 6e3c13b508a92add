"""The notification lifecycle, as a pure state machine driven by an explicit clock.

Alertmanager's stages in one place: alerts are grouped per unit (``group_wait``, then at most
one notice per ``group_interval``), told again every ``repeat_interval`` while they fire
unacknowledged, told when they resolve, muted by silences, and escalated to the parent unit
when critical and unacknowledged for ``escalate_after``. Every method takes ``now``: tests
drive it with a made-up clock, the service with the wall clock. The state is a pydantic model,
saved whole after each step, so it survives restarts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from notifiers.routing import Routing
from notifiers.silences import Acknowledgement, Silence
from rules.events import AlertEvent
from rules.model import Severity


def wall_clock() -> datetime:
    """The clock the service runs on; tests pass their own."""
    return datetime.now(UTC)


class Tracked(BaseModel):
    """An alert the notifier knows: its latest transition and who hears of it."""

    event: AlertEvent
    labels: dict[str, str]
    units: list[str]
    #: Wall time this episode was first received firing, and since when it is critical.
    firing_since: datetime
    critical_since: datetime | None = None
    #: The episode's worst firing transition, told with its resolution.
    worst: AlertEvent | None = None
    #: Units reached by escalation, with the level (1: parent, 2: grandparent, …).
    escalated: dict[str, int] = Field(default_factory=dict)


class Group(BaseModel):
    """One unit's notices."""

    changed_since: datetime | None = None
    last_notice_at: datetime | None = None
    #: fingerprint → key of the transition this unit was last told.
    told: dict[str, str] = Field(default_factory=dict)
    sequence: int = 0


class NotifierState(BaseModel):
    alerts: dict[str, Tracked] = Field(default_factory=dict)
    groups: dict[str, Group] = Field(default_factory=dict)


class Notice(BaseModel):
    """What one unit is told at once; ``id`` is stable, so a replay does not make a second one."""

    model_config = ConfigDict(frozen=True)

    id: str
    unit: str
    reason: Literal["alerts", "repeat", "escalation"]
    tags: list[str]
    created_at: datetime
    #: Alerts this notice is about: new, changed, repeated or escalated.
    firing: list[AlertEvent]
    resolved: list[AlertEvent]
    #: Other alerts of the unit that keep firing, told before.
    ongoing: int
    #: Per escalated alert, the unit that did not acknowledge it.
    escalated_from: dict[str, list[str]] = Field(default_factory=dict)
    #: Per resolved alert, its episode's worst firing transition.
    peaks: dict[str, AlertEvent] = Field(default_factory=dict)


class Lifecycle:
    def __init__(self, routing: Routing, parent: Callable[[str], str | None]) -> None:
        self.timings = routing.timings
        self.channels = routing.channels
        self.parent = parent

    def receive(
        self, state: NotifierState, event: AlertEvent, units: list[str], labels: dict[str, str], now: datetime
    ) -> None:
        """Take one transition; pending ones wait for the stream to confirm them."""
        current = state.alerts.get(event.fingerprint)
        if event.state == "pending" or (current and event.event_time <= current.event.event_time):
            return
        if event.state == "resolved" and (current is None or current.event.state != "firing"):
            return  # the end of a pending breach, or of an episode this notifier never saw firing
        critical = event.state == "firing" and event.severity == Severity.CRITICAL
        if current is None or current.event.state == "resolved":
            current = Tracked(event=event, labels=labels, units=units, firing_since=now)
        else:
            current = current.model_copy(
                update={"event": event, "units": list(dict.fromkeys(current.units + units))}
            )
        current.critical_since = (current.critical_since or now) if critical else None
        if event.state == "firing" and (current.worst is None or _rank(event) >= _rank(current.worst)):
            current.worst = event
        state.alerts[event.fingerprint] = current
        for unit in current.units:
            _changed(state, unit, now)

    def due(
        self,
        state: NotifierState,
        now: datetime,
        silences: Sequence[Silence] = (),
        acks: Sequence[Acknowledgement] = (),
    ) -> list[Notice]:
        """The notices due at ``now``, with the state moved on as if they were sent."""
        acked = {(ack.fingerprint, ack.started_at) for ack in acks}

        def quiet(tracked: Tracked) -> bool:
            return any(silence.mutes(tracked.labels, tracked.units, now) for silence in silences)

        def waiting(tracked: Tracked) -> bool:
            """Firing, unacknowledged and not silenced: someone should still be told."""
            episode = (tracked.event.fingerprint, tracked.event.started_at)
            return tracked.event.state == "firing" and episode not in acked and not quiet(tracked)

        for tracked in state.alerts.values():
            if (tracked.event.fingerprint, tracked.event.started_at) in acked:
                _withdraw_untold_escalations(state, tracked)
        self._escalate(state, now, waiting)
        notices = [
            notice
            for unit, group in sorted(state.groups.items())
            if (
                notice := self._notice(
                    state=state, unit=unit, group=group, now=now, quiet=quiet, waiting=waiting
                )
            )
        ]
        self._forget_resolved(state)
        return notices

    def _escalate(self, state: NotifierState, now: datetime, waiting: Callable[[Tracked], bool]) -> None:
        for tracked in state.alerts.values():
            if tracked.critical_since is None or not waiting(tracked):
                continue
            level = int((now - tracked.critical_since) / self.timings.escalate_after)
            reached = max(tracked.escalated.values(), default=0)
            while reached < level:
                reached += 1
                tops = [unit for unit in tracked.units if tracked.escalated.get(unit, 0) == reached - 1]
                for parent in filter(None, map(self.parent, tops)):
                    if parent not in tracked.units:
                        tracked.units.append(parent)
                        tracked.escalated[parent] = reached
                        _changed(state, parent, now)

    def _notice(
        self,
        *,
        state: NotifierState,
        unit: str,
        group: Group,
        now: datetime,
        quiet: Callable[[Tracked], bool],
        waiting: Callable[[Tracked], bool],
    ) -> Notice | None:
        members = [tracked for tracked in state.alerts.values() if unit in tracked.units]
        changed = []
        for tracked in members:
            fingerprint, key = tracked.event.fingerprint, tracked.event.key
            if group.told.get(fingerprint) == key:
                continue
            if not quiet(tracked):
                changed.append(tracked)
            elif tracked.event.state == "resolved":
                group.told[fingerprint] = key  # it ended under a silence: nothing to tell later
        timings = self.timings
        if changed:
            group.changed_since = group.changed_since or now
            due_at = group.changed_since + timings.group_wait
            if group.last_notice_at:
                due_at = max(due_at, group.last_notice_at + timings.group_interval)
            if now < due_at:
                return None
            about = changed
            reason: Literal["alerts", "repeat", "escalation"] = "alerts"
        else:
            group.changed_since = None
            about = [tracked for tracked in members if waiting(tracked)]
            last = group.last_notice_at
            if not about or last is None or now < last + timings.repeat_interval:
                return None
            reason = "repeat"
        escalated = {
            tracked.event.fingerprint: [origin for origin in tracked.units if self.parent(origin) == unit]
            for tracked in about
            if unit in tracked.escalated and reason == "alerts" and waiting(tracked)
        }
        if escalated:
            reason = "escalation"
        firing = [tracked.event for tracked in about if tracked.event.state == "firing"]
        #: Episodes that began and ended before this unit was told: they are news, with their severity.
        untold = [
            t.event for t in about if t.event.state == "resolved" and t.event.fingerprint not in group.told
        ]
        notice = Notice(
            id=f"{unit}#{group.sequence + 1}",
            unit=unit,
            reason=reason,
            tags=self._tags(firing + untold, bool(escalated)),
            created_at=now,
            firing=firing,
            resolved=[tracked.event for tracked in about if tracked.event.state == "resolved"],
            ongoing=sum(1 for tracked in members if waiting(tracked) and tracked not in about),
            escalated_from=escalated,
            peaks={t.event.fingerprint: t.worst for t in about if t.event.state == "resolved" and t.worst},
        )
        group.sequence += 1
        group.last_notice_at, group.changed_since = now, None
        for tracked in about:
            group.told[tracked.event.fingerprint] = tracked.event.key
        return notice

    def _tags(self, news: list[AlertEvent], escalation: bool) -> list[str]:
        if escalation:
            return self.channels.escalation
        if any(event.severity == Severity.CRITICAL for event in news):
            return self.channels.critical
        return self.channels.warning if news else self.channels.resolved

    @staticmethod
    def _forget_resolved(state: NotifierState) -> None:
        """A resolved alert is done once each of its units was told so (or it ended silenced)."""
        for fingerprint, tracked in list(state.alerts.items()):
            if tracked.event.state != "resolved":
                continue
            groups = [state.groups[unit] for unit in tracked.units if unit in state.groups]
            if all(group.told.get(fingerprint) == tracked.event.key for group in groups):
                del state.alerts[fingerprint]
                for group in groups:
                    group.told.pop(fingerprint, None)


def _withdraw_untold_escalations(state: NotifierState, tracked: Tracked) -> None:
    """An acknowledged episode is not escalated further: a unit it was escalated to but not yet
    told of (its group wait was still running) is told nothing, neither now nor of its end."""
    fingerprint = tracked.event.fingerprint
    for unit in list(tracked.escalated):
        group = state.groups.get(unit)
        if group is None or fingerprint not in group.told:
            del tracked.escalated[unit]
            tracked.units.remove(unit)


def _changed(state: NotifierState, unit: str, now: datetime) -> None:
    """``unit`` has news: its group wait starts now, unless it already runs."""
    group = state.groups.setdefault(unit, Group())
    group.changed_since = group.changed_since or now


#: How bad a firing transition is, to keep each episode's worst.
RANK: dict[Severity | None, int] = {Severity.CRITICAL: 2, Severity.WARNING: 1}


def _rank(event: AlertEvent) -> int:
    return RANK.get(event.severity, 0)
