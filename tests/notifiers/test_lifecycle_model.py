"""The lifecycle against a simple model, over any sequence of transitions, acknowledgements,
silences and time (a hypothesis state machine).

Whatever happens, the model says:
- no notice lists an alert a silence mutes at that moment;
- no repeat is about an acknowledged episode, and no acknowledged episode is escalated;
- a unit hears an episode's end at most once (also an episode that began and ended within one
  wait, so that it was never told firing);
- no notice lists a pending transition;
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from notifiers.directory import load_directory
from notifiers.lifecycle import Lifecycle, Notice, NotifierState
from notifiers.routing import load_routing
from notifiers.silences import Acknowledgement, Silence, labels
from rules.events import AlertEvent
from rules.model import Severity
from tests.notifiers.conftest import STATIONS, T0, event

ALERTS = [
    ("air.pm25.24h", "ZZ-AIR-JS01"),
    ("noise.night.leq", "ZZ-NOI-JS01"),
    ("dq.silent", "ZZ-NH3-XY01"),
]
ROUTING = load_routing()
DIRECTORY = load_directory(environ={})


def parent(name: str) -> str | None:
    found = DIRECTORY.parent(name)
    return found.name if found else None


class LifecycleModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.lifecycle = Lifecycle(ROUTING, parent)
        self.state = NotifierState()
        self.now = T0
        #: Event time moves on with every transition, so each is newer than the last.
        self.event_time = T0
        self.silences: list[Silence] = []
        self.acks: list[Acknowledgement] = []
        #: Each alert's latest transition, and the start of its open episode (None: none open).
        self.latest: dict[int, AlertEvent] = {}
        self.episode: dict[int, datetime | None] = {}
        self.notices: list[Notice] = []
        #: (unit, fingerprint, episode start) → told firing / told resolved.
        self.told_firing: set[tuple[str, str, datetime]] = set()
        self.told_resolved: list[tuple[str, str, datetime]] = []

    def receive(self, alert: AlertEvent) -> None:
        station = STATIONS.get(alert.subject)
        units = ROUTING.units_for(alert, station)
        self.lifecycle.receive(self.state, alert, units, labels(alert, station), self.now)

    @rule(
        index=st.integers(0, len(ALERTS) - 1), severity=st.sampled_from(list(Severity)), pending=st.booleans()
    )
    def breach(self, index: int, severity: Severity, pending: bool) -> None:
        self.event_time += timedelta(minutes=1)
        started = self.episode.get(index) or self.event_time
        self.episode[index] = None if pending and self.episode.get(index) is None else started
        state = "pending" if pending and self.episode[index] is None else "firing"
        rule_id, subject = ALERTS[index]
        alert = event(rule_id, subject, state, severity, at=self.event_time, started_at=started)
        self.latest[index] = alert
        self.receive(alert)

    @precondition(lambda self: any(self.episode.values()))
    @rule(data=st.data())
    def resolve(self, data: st.DataObject) -> None:
        open_ = [index for index, started in self.episode.items() if started]
        index = data.draw(st.sampled_from(open_))
        self.event_time += timedelta(minutes=1)
        rule_id, subject = ALERTS[index]
        severity = self.latest[index].severity
        alert = event(
            rule_id, subject, "resolved", severity, at=self.event_time, started_at=self.episode[index]
        )
        self.episode[index] = None
        self.receive(alert)

    @precondition(lambda self: any(self.episode.values()))
    @rule(data=st.data())
    def acknowledge(self, data: st.DataObject) -> None:
        index = data.draw(st.sampled_from([i for i, started in self.episode.items() if started]))
        fingerprint = self.latest[index].fingerprint
        started = self.episode[index]
        assert started is not None
        self.acks.append(
            Acknowledgement(fingerprint=fingerprint, started_at=started, by="值班员", at=self.now)
        )

    @rule(index=st.integers(0, len(ALERTS) - 1), minutes=st.integers(1, 180))
    def silence(self, index: int, minutes: int) -> None:
        self.silences.append(
            Silence(
                id=f"s{len(self.silences)}",
                matchers={"rule": ALERTS[index][0]},
                starts_at=self.now,
                ends_at=self.now + timedelta(minutes=minutes),
                created_by="李工",
                comment="检修",
            )
        )

    @rule(seconds=st.sampled_from([1, 30, 299, 300, 1800, 3600, 4 * 3600, 5 * 3600]))
    def wait(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)
        notices = self.lifecycle.due(self.state, self.now, self.silences, self.acks)
        for notice in notices:
            self.check(notice)
        self.notices += notices

    def check(self, notice: Notice) -> None:
        acked = {(ack.fingerprint, ack.started_at) for ack in self.acks}
        for alert in notice.firing:
            assert alert.state != "pending", "a pending transition is never told"
            station = STATIONS.get(alert.subject)
            muted = [s for s in self.silences if s.mutes(labels(alert, station), [notice.unit], self.now)]
            assert not muted, f"{alert.rule} told to {notice.unit} under a silence"
            episode = (alert.fingerprint, alert.started_at)
            if notice.reason == "repeat" or alert.fingerprint in notice.escalated_from:
                assert episode not in acked, f"an acknowledged episode was in a {notice.reason}"
            self.told_firing.add((notice.unit, alert.fingerprint, alert.started_at))
        for alert in notice.resolved:
            episode = (notice.unit, alert.fingerprint, alert.started_at)
            assert episode not in self.told_resolved, f"{notice.unit} heard an end twice"
            self.told_resolved.append(episode)

    @invariant()
    def state_only_tracks_known_alerts(self) -> None:
        known = {event(rule_id, subject).fingerprint for rule_id, subject in ALERTS}
        assert set(self.state.alerts) <= known


LifecycleModel.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
test_the_lifecycle_keeps_its_promises_whatever_happens = LifecycleModel.TestCase
