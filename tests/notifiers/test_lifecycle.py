"""Grouping, repeats, resolution, silences, acknowledgement and escalation, on a hand clock.

Shipped timings: group_wait 30 s, group_interval 5 min, repeat_interval 4 h, escalate_after 30 min.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from notifiers.directory import Directory
from notifiers.lifecycle import Lifecycle, Notice, NotifierState, wall_clock
from notifiers.routing import Routing
from notifiers.silences import Acknowledgement, Silence, labels
from rules.events import AlertEvent
from rules.model import Severity
from tests.notifiers.conftest import STATIONS, T0, Clock, event


class Desk:
    """The lifecycle with its state, a hand clock, silences and acknowledgements."""

    def __init__(self, routing: Routing, directory: Directory) -> None:
        def parent(name: str) -> str | None:
            found = directory.parent(name)
            return found.name if found else None

        self.lifecycle = Lifecycle(routing, parent)
        self.state = NotifierState()
        self.clock = Clock()
        self.silences: list[Silence] = []
        self.acks: list[Acknowledgement] = []
        self.routing = routing

    def receive(self, *events: AlertEvent) -> None:
        for alert in events:
            station = STATIONS.get(alert.subject)
            units = self.routing.units_for(alert, station)
            self.lifecycle.receive(self.state, alert, units, labels(alert, station), self.clock())

    def due(self, **after: float) -> list[Notice]:
        self.clock.advance(**after)
        return self.lifecycle.due(self.state, self.clock(), self.silences, self.acks)

    def told(self, **after: float) -> list[tuple[str, str, list[str], list[str]]]:
        """(unit, reason, firing rules, resolved rules) of each notice due after ``after``."""
        return [
            (n.unit, n.reason, [e.rule for e in n.firing], [e.rule for e in n.resolved])
            for n in self.due(**after)
        ]


def silence(matchers: dict[str, str], span: timedelta) -> Silence:
    """A silence from T0, as a duty officer creates one."""
    return Silence(
        id="s", matchers=matchers, starts_at=T0, ends_at=T0 + span, created_by="李工", comment="站房检修"
    )


@pytest.fixture
def desk(routing: Routing, directory: Directory) -> Desk:
    return Desk(routing, directory)


PM25 = event("air.pm25.24h", "ZZ-AIR-JS01")
NOISE = event("noise.night.leq", "ZZ-NOI-JS01", value=58, threshold=45)


def pm25_ended(after: timedelta, severity: Severity = Severity.WARNING) -> AlertEvent:
    """The end of PM25's episode (begun at T0), ``after`` T0."""
    return event("air.pm25.24h", "ZZ-AIR-JS01", "resolved", severity, at=T0 + after, started_at=T0)


def test_a_units_alerts_wait_together_then_go_at_most_once_per_group_interval(desk: Desk) -> None:
    desk.receive(PM25)
    assert desk.told(seconds=10) == []
    desk.receive(NOISE)
    assert desk.told(seconds=19) == []
    assert desk.told(seconds=1) == [("金水区", "alerts", ["air.pm25.24h", "noise.night.leq"], [])]
    assert desk.told(seconds=1) == []
    resolved = event(
        "noise.night.leq", "ZZ-NOI-JS01", "resolved", at=T0 + timedelta(minutes=20), started_at=T0
    )
    desk.receive(resolved)
    assert desk.told(minutes=4) == [], "within group_interval of the last notice"
    (notice,) = desk.due(minutes=1)
    assert (notice.id, notice.firing, notice.resolved, notice.ongoing) == ("金水区#2", [], [resolved], 1)
    assert notice.tags == ["duty"]


def test_an_episode_that_ends_before_anyone_was_told_is_still_told_once(desk: Desk) -> None:
    """Unlike Alertmanager: a notifier catching up after an outage must not swallow exceedances."""
    worse = event("air.pm25.24h", "ZZ-AIR-JS01", severity=Severity.CRITICAL, at=T0 + timedelta(minutes=1))
    over = pm25_ended(timedelta(minutes=2), Severity.CRITICAL)
    desk.receive(PM25, worse, over)
    (notice,) = desk.due(seconds=30)
    assert (notice.firing, notice.resolved, notice.tags) == ([], [over], ["duty", "sms"])
    assert desk.state.alerts == {} and desk.told(hours=5) == []


def test_an_episode_that_ends_under_a_silence_is_forgotten(desk: Desk) -> None:
    desk.silences.append(silence({"rule": "air.*"}, timedelta(hours=1)))
    over = pm25_ended(timedelta(minutes=2))
    desk.receive(PM25, over)
    assert desk.told(seconds=30) == [] and desk.state.alerts == {}
    assert desk.told(hours=2) == []


def test_repeats_every_repeat_interval_until_acknowledged(desk: Desk) -> None:
    desk.receive(PM25)
    assert len(desk.due(seconds=30)) == 1
    assert desk.told(hours=3, minutes=59) == []
    assert desk.told(minutes=1) == [("金水区", "repeat", ["air.pm25.24h"], [])]
    desk.acks.append(
        Acknowledgement(fingerprint=PM25.fingerprint, started_at=PM25.started_at, by="张工", at=desk.clock())
    )
    assert desk.told(hours=8) == []
    resolved = pm25_ended(timedelta(hours=9))
    desk.receive(resolved)
    assert desk.told(seconds=30) == [("金水区", "alerts", [], ["air.pm25.24h"])], (
        "resolution is told even when acked"
    )


def test_a_change_of_severity_is_told_at_once_and_goes_to_the_critical_channels(desk: Desk) -> None:
    desk.receive(PM25)
    desk.due(seconds=30)
    worse = event(
        "air.pm25.24h", "ZZ-AIR-JS01", severity=Severity.CRITICAL, at=T0 + timedelta(minutes=10), value=160
    )
    desk.receive(worse, worse)  # a duplicate from at-least-once delivery changes nothing
    (notice,) = desk.due(minutes=5)
    assert (notice.firing, notice.tags) == ([worse], ["duty", "sms"])
    desk.receive(PM25)  # an older transition, replayed: ignored
    assert desk.told(hours=1) == []


def test_a_silence_mutes_matching_alerts_only_while_it_lasts(desk: Desk) -> None:
    desk.silences.append(silence({"rule": "air.*", "district": "金水区"}, timedelta(hours=1)))
    desk.receive(PM25, NOISE)
    assert desk.told(seconds=30) == [("金水区", "alerts", ["noise.night.leq"], [])]
    assert desk.told(minutes=50) == []
    assert desk.told(minutes=10) == [], "the silence is over: a group wait starts"
    assert desk.told(seconds=30) == [("金水区", "alerts", ["air.pm25.24h"], [])], (
        "still firing after the silence"
    )


def test_a_silence_can_match_the_unit_an_alert_goes_to(desk: Desk) -> None:
    desk.silences.append(silence({"unit": "荥阳电厂"}, timedelta(days=1)))
    desk.receive(event("ammonia.slip.1h", "ZZ-NH3-XY01"), PM25)
    assert desk.told(seconds=30) == [("金水区", "alerts", ["air.pm25.24h"], [])]


#: The plant's station went silent, critical: told to the plant, which answers to its regulator.
SILENT_PLANT = event("dq.silent", "ZZ-NH3-XY01", severity=Severity.CRITICAL, value=130, threshold=120)


def test_an_unacknowledged_critical_alert_climbs_the_chain_of_parents(desk: Desk) -> None:
    desk.receive(SILENT_PLANT)
    assert desk.told(seconds=30) == [("荥阳电厂", "alerts", ["dq.silent"], [])]
    assert desk.told(minutes=29) == []
    assert desk.told(seconds=30) == [], "escalated: the branch's group wait starts"
    (to_branch,) = desk.due(seconds=30)
    assert (to_branch.unit, to_branch.reason, to_branch.tags) == (
        "市生态环境局荥阳市分局",
        "escalation",
        ["duty", "leader"],
    )
    assert to_branch.escalated_from == {SILENT_PLANT.fingerprint: ["荥阳电厂"]}
    assert desk.told(minutes=29, seconds=30) == [], "an hour: escalated again, another group wait"
    (to_bureau,) = desk.due(seconds=30)
    assert (to_bureau.unit, to_bureau.escalated_from) == (
        "市生态环境局",
        {SILENT_PLANT.fingerprint: ["市生态环境局荥阳市分局"]},
    )
    repeats = desk.told(hours=4)
    assert sorted(unit for unit, reason, *_ in repeats if reason == "repeat") == [
        "市生态环境局",
        "市生态环境局荥阳市分局",
        "荥阳电厂",
    ]


def test_escalation_reaches_the_parent_of_each_unit_not_yet_told(desk: Desk, directory: Directory) -> None:
    warning = event("ammonia.slip.1h", "ZZ-NH3-XY01", value=3, threshold=2.5)
    desk.receive(warning)
    desk.due(seconds=30)
    worse = event(
        "ammonia.slip.1h", "ZZ-NH3-XY01", severity=Severity.CRITICAL, at=T0 + timedelta(hours=2), value=9
    )
    desk.receive(worse)
    told = desk.told(minutes=5)
    assert sorted(unit for unit, *_ in told) == ["市生态环境局", "市生态环境局荥阳市分局", "荥阳电厂"]
    assert desk.told(hours=1) == []
    tracked = desk.state.alerts[worse.fingerprint]
    assert tracked.escalated == {}, "the enterprise's parent (the branch) and its parent were told already"


def test_escalation_counts_from_turning_critical_not_from_the_first_firing(desk: Desk) -> None:
    """A plant's station silent long enough to warn, for two hours, then critical: its regulator
    hears of it 30 minutes after it turned critical, not at once."""
    desk.receive(event("dq.silent", "ZZ-NH3-XY01", value=70, threshold=60))
    assert desk.told(seconds=30) == [("荥阳电厂", "alerts", ["dq.silent"], [])]
    desk.clock.advance(hours=2)
    desk.receive(SILENT_PLANT.model_copy(update={"event_time": T0 + timedelta(hours=2)}))
    assert desk.told(minutes=5) == [("荥阳电厂", "alerts", ["dq.silent"], [])], "the change, told at once"
    assert desk.told(minutes=24, seconds=59) == [], "critical for 29 min 59 s: the plant alone knows"
    assert desk.told(seconds=1) == [], "30 minutes critical: escalated, the branch's group wait starts"
    assert [(unit, reason) for unit, reason, *_ in desk.told(seconds=30)] == [
        ("市生态环境局荥阳市分局", "escalation")
    ]


def test_an_acknowledgement_is_of_its_episode_and_does_not_mute_the_next(desk: Desk) -> None:
    desk.receive(PM25)
    desk.due(seconds=30)
    desk.acks.append(Acknowledgement(fingerprint=PM25.fingerprint, started_at=T0, by="张工", at=desk.clock()))
    over = pm25_ended(timedelta(hours=1))
    desk.receive(over)
    assert desk.told(hours=1) == [("金水区", "alerts", [], ["air.pm25.24h"])]
    again = event("air.pm25.24h", "ZZ-AIR-JS01", at=T0 + timedelta(hours=2))
    desk.receive(again)
    assert desk.told(minutes=5) == [("金水区", "alerts", ["air.pm25.24h"], [])], (
        "a group interval after the last"
    )
    assert desk.told(hours=4) == [("金水区", "repeat", ["air.pm25.24h"], [])], "the new episode repeats"


def test_acknowledgement_stops_escalation(desk: Desk) -> None:
    desk.receive(SILENT_PLANT)
    desk.due(seconds=30)
    desk.acks.append(
        Acknowledgement(fingerprint=SILENT_PLANT.fingerprint, started_at=T0, by="值班员", at=desk.clock())
    )
    assert desk.told(hours=3) == []
    assert desk.state.alerts[SILENT_PLANT.fingerprint].escalated == {}


def test_the_end_of_a_pending_breach_is_not_news(desk: Desk) -> None:
    desk.receive(PM25)
    desk.due(seconds=30)
    over = pm25_ended(timedelta(hours=1))
    desk.receive(over)
    pending = event("air.pm25.24h", "ZZ-AIR-JS01", "pending", at=T0 + timedelta(hours=2))
    never = event("air.pm25.24h", "ZZ-AIR-JS01", "resolved", None, at=T0 + timedelta(hours=3))
    desk.receive(pending, never)
    (notice,) = desk.due(minutes=5)
    assert (notice.firing, notice.resolved) == ([], [over]), "only the first episode's end"
    assert desk.state.alerts == {} and desk.told(hours=5) == []


def test_a_resolution_is_told_with_its_episodes_worst_moment(desk: Desk) -> None:
    """Warning, then critical, then warning again, then over: the resolution carries the critical
    transition, the latest of the worst severity."""
    worse = event("air.pm25.24h", "ZZ-AIR-JS01", severity=Severity.CRITICAL, at=T0 + timedelta(minutes=10))
    easing = event("air.pm25.24h", "ZZ-AIR-JS01", at=T0 + timedelta(minutes=20), value=90)
    worse_again = worse.model_copy(update={"event_time": T0 + timedelta(minutes=30), "value": 170})
    over = pm25_ended(timedelta(hours=1))
    desk.receive(
        PM25, worse, easing, worse_again, easing.model_copy(update={"event_time": T0 + timedelta(minutes=40)})
    )
    desk.receive(over)
    (notice,) = desk.due(minutes=1)
    assert notice.resolved == [over] and notice.peaks == {over.fingerprint: worse_again}


def test_an_acknowledgement_during_an_escalations_group_wait_withdraws_it(desk: Desk) -> None:
    """Escalated at 30 minutes, acknowledged before the branch's group wait was over: the branch
    is not told, neither of the alert nor of its end."""
    desk.receive(SILENT_PLANT)
    assert desk.told(seconds=30) == [("荥阳电厂", "alerts", ["dq.silent"], [])]
    assert desk.told(minutes=29, seconds=30) == [], "escalated: the branch's group wait starts"
    desk.acks.append(
        Acknowledgement(fingerprint=SILENT_PLANT.fingerprint, started_at=T0, by="值班员", at=desk.clock())
    )
    assert desk.told(seconds=30) == [], "acknowledged before the branch was told"
    over = event(
        "dq.silent", "ZZ-NH3-XY01", "resolved", Severity.CRITICAL, at=T0 + timedelta(hours=1), started_at=T0
    )
    desk.receive(over)
    assert desk.told(hours=1) == [("荥阳电厂", "alerts", [], ["dq.silent"])]


def test_a_change_of_an_acknowledged_episode_is_news_not_an_escalation(desk: Desk) -> None:
    desk.receive(SILENT_PLANT)
    desk.due(seconds=30)
    desk.told(minutes=29, seconds=30)
    (to_branch,) = desk.due(seconds=30)
    assert to_branch.reason == "escalation"
    desk.acks.append(
        Acknowledgement(fingerprint=SILENT_PLANT.fingerprint, started_at=T0, by="值班员", at=desk.clock())
    )
    easing = event(
        "dq.silent", "ZZ-NH3-XY01", at=T0 + timedelta(minutes=40), started_at=T0, value=70, threshold=60
    )
    desk.receive(easing)
    told = desk.told(minutes=5)
    assert {(unit, reason) for unit, reason, *_ in told} == {
        ("荥阳电厂", "alerts"),
        ("市生态环境局荥阳市分局", "alerts"),
    }


def test_a_transition_delivered_again_does_not_start_a_units_group_wait(desk: Desk) -> None:
    desk.receive(PM25)
    desk.due(seconds=30)
    desk.clock.advance(minutes=10)
    desk.receive(PM25)  # at-least-once delivery: the same transition again
    desk.clock.advance(seconds=20)
    desk.receive(NOISE.model_copy(update={"event_time": desk.clock()}))
    assert desk.told(seconds=10) == [], "30 s after the duplicate, 10 s after the news"
    assert desk.told(seconds=20) == [("金水区", "alerts", ["noise.night.leq"], [])]


def test_a_new_episode_of_an_alert_whose_end_was_not_yet_told_starts_afresh(desk: Desk) -> None:
    desk.receive(SILENT_PLANT)
    desk.due(minutes=31)  # the plant is told, and the branch is escalated to
    over = event("dq.silent", "ZZ-NH3-XY01", "resolved", Severity.CRITICAL, at=T0 + timedelta(minutes=40))
    desk.receive(over)
    desk.clock.advance(seconds=1)
    again = event("dq.silent", "ZZ-NH3-XY01", at=T0 + timedelta(minutes=41), value=70, threshold=60)
    desk.receive(again)
    tracked = desk.state.alerts[again.fingerprint]
    assert (tracked.firing_since, tracked.worst, tracked.escalated) == (desk.clock(), again, {})
    assert tracked.units == ["荥阳电厂"], "the branch it was escalated to is not told of the next episode"


def test_only_critical_alerts_escalate_whatever_comes_first(desk: Desk) -> None:
    warning = event("ammonia.slip.1h", "ZZ-NH3-XY01", value=3, threshold=2.5)
    desk.receive(warning, SILENT_PLANT)
    desk.due(seconds=30)
    assert desk.due(minutes=30) == [], "30 minutes critical: escalated, the branch's group wait starts"
    (to_branch,) = desk.due(seconds=30)
    assert (to_branch.unit, to_branch.escalated_from) == (
        "市生态环境局荥阳市分局",
        {SILENT_PLANT.fingerprint: ["荥阳电厂"]},
    )


def test_a_resolution_told_everywhere_is_forgotten_by_every_group(desk: Desk) -> None:
    desk.receive(NOISE, PM25)
    desk.due(seconds=30)
    over = pm25_ended(timedelta(hours=1))
    desk.receive(over)
    (notice,) = desk.due(hours=1)
    assert notice.resolved == [over]
    assert list(desk.state.alerts) == [NOISE.fingerprint], "the firing one ahead of it stays"
    assert all(PM25.fingerprint not in group.told for group in desk.state.groups.values())


def test_a_notice_counts_what_else_is_ongoing_and_peaks_only_what_ended(desk: Desk) -> None:
    desk.receive(PM25)
    desk.due(seconds=30)
    desk.receive(NOISE.model_copy(update={"event_time": T0 + timedelta(minutes=10)}))
    (second,) = desk.due(minutes=10)
    assert (second.firing, second.ongoing, second.peaks) == (
        [desk.state.alerts[NOISE.fingerprint].event],
        1,
        {},
    )
    over = pm25_ended(timedelta(hours=1))
    desk.receive(over)
    (third,) = desk.due(hours=1)
    assert (third.resolved, third.ongoing, third.peaks) == ([over], 1, {PM25.fingerprint: PM25})
    assert [notice.id for notice in (second, third)] == ["金水区#2", "金水区#3"]


def test_the_end_of_a_critical_alert_already_told_goes_to_the_resolved_channels(desk: Desk) -> None:
    worst = event("air.pm25.24h", "ZZ-AIR-JS01", severity=Severity.CRITICAL)
    desk.receive(worst)
    (told,) = desk.due(seconds=30)
    assert told.tags == ["duty", "sms"]
    over = pm25_ended(timedelta(hours=1), Severity.CRITICAL)
    desk.receive(over)
    (ended,) = desk.due(hours=1)
    assert (ended.resolved, ended.tags) == ([over], ["duty"])


def test_the_services_clock_is_aware_and_in_utc() -> None:
    """Event times are aware; a naive clock could not be compared with them."""
    assert wall_clock().utcoffset() == timedelta(0)
