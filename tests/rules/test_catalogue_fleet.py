"""The shipped fleet rules on hand-made station days and nights: fire, clear, start again each year."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from rules.derived import StationDay, StationNight
from rules.evaluator import Transition
from rules.fleet import CITY, FleetEvaluator, FleetState
from rules.hourly import day_end
from rules.model import Catalogue, NightCompliance
from rules.standards.noise import night_end


class Fleet:
    def __init__(self, catalogue: Catalogue, rule_id: str, **compute: object) -> None:
        """The shipped rule ``rule_id``, with ``compute`` settings changed if given."""
        rules = [
            rule.model_copy(update={"compute": rule.compute.model_copy(update=compute)})
            for rule in catalogue.fleet_rules
            if rule.id == rule_id
        ]
        self.evaluator = FleetEvaluator(rules)
        assert self.evaluator.rules, rule_id
        self.state = FleetState()
        self.transitions: list[Transition] = []

    def day(self, day: date, *facts: tuple[str, str, float]) -> Fleet:
        """Station days as (station, district, PM2.5 24 h mean), then the day's end passes."""
        for station, district, pm25 in facts:
            self.evaluator.add_day(
                self.state,
                StationDay(station=station, district=district, day=day, means={"pm25": pm25}, aqi=0),
            )
        self.transitions += self.evaluator.tick(self.state, day_end(day))
        return self

    def night(self, night: date, compliant: int, assessed: int) -> Fleet:
        for index in range(assessed):
            leq = 44.0 if index < compliant else 47.0
            self.evaluator.add_night(
                self.state,
                StationNight(station=f"N-{index}", district="金水区", night=night, leq=leq, limit=45),
            )
        self.transitions += self.evaluator.tick(self.state, night_end(night))
        return self

    def story(self) -> list[tuple[str, str, str | None, float]]:
        return [
            (t.subject, t.state, t.severity.value if t.severity else None, round(t.value, 2))
            for t in self.transitions
        ]


JAN = date(2026, 1, 1)


def test_heavy_days_use_up_the_years_budget_and_a_new_year_starts_again(catalogue: Catalogue) -> None:
    fleet = Fleet(catalogue, "city.heavy-days.budget")
    # PM2.5 151 → IAQI 201: a heavy day. Two stations average to the city's value.
    for offset, pm25 in enumerate([151, 60, 160, 200, 155, 250, 152]):
        fleet.day(JAN + timedelta(days=offset), ("A", "金水区", pm25), ("B", "中原区", pm25))
    # Budget: 1.4 % of 365 days = 5.11 heavy days. 3 → 58.7 %, 4 → 78.3 %, 5 → 97.8 %, 6 → 117.4 %
    assert fleet.story() == [(CITY, "firing", "warning", 78.28), (CITY, "firing", "critical", 117.42)]
    windows = [(t.window, t.window_zh) for t in fleet.transitions]
    assert windows == [
        ("heavy days 4, 2026-01-01 to 2026-01-05", "重污染4天，2026-01-01至2026-01-05"),
        ("heavy days 6, 2026-01-01 to 2026-01-07", "重污染6天，2026-01-01至2026-01-07"),
    ]
    fleet.day(date(2027, 1, 1), ("A", "金水区", 20))
    assert fleet.story()[-1] == (CITY, "resolved", "critical", 0)


def test_a_district_pm25_mean_above_its_target(catalogue: Catalogue) -> None:
    fleet = Fleet(catalogue, "district.pm25.ytd", min_days=1)
    for offset, (jinshui, dengfeng) in enumerate([(38, 38), (40, 38), (41, 38.1), (30, 38)]):
        fleet.day(
            JAN + timedelta(days=offset),
            ("A", "金水区", jinshui),
            ("B", "登封市", dengfeng),
            ("C", "金水区", jinshui),
        )
    # 金水区 (target 39): 38, 39, 39.67 → warn; 37.25 ≤ 38.5 → clear.
    # 登封市 (target 38): 38.03 → warn; 38.025 is within the 0.5 hysteresis → stays
    assert fleet.story() == [
        ("登封市", "firing", "warning", 38.03),
        ("金水区", "firing", "warning", 39.67),
        ("金水区", "resolved", "warning", 37.25),
    ]


def test_a_district_falling_short_of_its_good_days(catalogue: Catalogue) -> None:
    fleet = Fleet(catalogue, "district.good-days.projected", min_days=1)
    # PM2.5 75 → AQI 100 (good); 76 → 102 (not good). 中原区's target: 241 days.
    for offset, pm25 in enumerate([75, 76, 75, 75]):
        fleet.day(JAN + timedelta(days=offset), ("A", "中原区", pm25))
    # 1/1 → 365, 1/2 → 182.5 → warn, 2/3 → 243.3 ≥ 242 → clear, 3/4 → 273.75
    assert fleet.story() == [
        ("中原区", "firing", "warning", 182.5),
        ("中原区", "resolved", "warning", 243.33),
    ]


def test_a_years_figures_wait_for_30_days(catalogue: Catalogue) -> None:
    """Two days of a district above its target are not a year above it (found by the
    simulator's quiet baseline: a scenario's first days made year-to-date rules fire)."""
    pm25 = Fleet(catalogue, "district.pm25.ytd")
    good = Fleet(catalogue, "district.good-days.projected")
    for offset in range(30):
        for fleet in (pm25, good):
            fleet.day(JAN + timedelta(days=offset), ("A", "中原区", 80))
        if offset < 29:
            assert pm25.transitions == good.transitions == [], offset
    assert pm25.story() == [("中原区", "firing", "warning", 80.0)]
    assert good.story() == [("中原区", "firing", "warning", 0.0)]


def test_night_time_compliance_below_85_percent(catalogue: Catalogue) -> None:
    fleet = Fleet(catalogue, "city.noise.night-compliance")
    fleet.night(date(2026, 7, 1), 9, 10).night(date(2026, 7, 2), 7, 10).night(date(2026, 7, 3), 10, 10)
    # 9/10 = 90 %; 16/20 = 80 % → warn; 26/30 = 86.7 % ≥ 86 → clear
    assert fleet.story() == [(CITY, "firing", "warning", 80.0), (CITY, "resolved", "warning", 86.67)]


def test_the_compliance_window_rolls(catalogue: Catalogue) -> None:
    fleet = Fleet(catalogue, "city.noise.night-compliance")
    first = date(2026, 6, 1)
    for offset in range(31):  # 1–5 June: every station-night fails; then every one complies
        fleet.night(first + timedelta(days=offset), 0 if offset < 5 else 10, 10)
    # 30 June: 250/300 = 83.3 %, still firing; 1 July: 1 June leaves the window, 260/300 = 86.7 %
    assert [(t[1], t[3]) for t in fleet.story()] == [("firing", 0.0), ("resolved", 86.67)]
    assert fleet.transitions[-1].at == night_end(date(2026, 7, 1))


@pytest.mark.parametrize(("january_days", "judged"), [(26, False), (27, True)])
def test_a_years_figures_need_the_days_each_month_gone_by_asks_for(
    catalogue: Catalogue, january_days: int, judged: bool
) -> None:
    """GB 3095-2012 §6: an annual mean needs 27 daily values in each month (25 in February). A
    January with 26 days of data leaves the year-to-date figures unjudged in February."""
    pm25 = Fleet(catalogue, "district.pm25.ytd")
    good = Fleet(catalogue, "district.good-days.projected")
    days = [JAN + timedelta(days=offset) for offset in range(january_days)]
    days += [date(2026, 2, 1) + timedelta(days=offset) for offset in range(30 - january_days)]
    for day in days:
        for fleet in (pm25, good):
            fleet.day(day, ("A", "中原区", 80))
    assert pm25.story() == ([("中原区", "firing", "warning", 80.0)] if judged else [])
    assert good.story() == ([("中原区", "firing", "warning", 0.0)] if judged else [])


@pytest.mark.parametrize(
    ("rule_id", "pm25"), [("district.pm25.ytd", 60), ("district.good-days.projected", 80)]
)
def test_a_district_rule_limited_to_some_districts_judges_those_only(
    catalogue: Catalogue, rule_id: str, pm25: float
) -> None:
    fleet = Fleet(catalogue, rule_id, min_days=1)
    (rule,) = fleet.evaluator.rules
    scope = rule.applies_to.model_copy(update={"districts": ["金水区"]})
    fleet.evaluator.rules = [rule.model_copy(update={"applies_to": scope})]
    fleet.day(JAN, ("A", "金水区", pm25), ("B", "中原区", pm25))
    assert [(t.subject, t.state) for t in fleet.transitions] == [("金水区", "firing")]


def test_days_closed_in_one_tick_each_give_their_transitions(catalogue: Catalogue) -> None:
    fleet = Fleet(catalogue, "district.pm25.ytd", min_days=1)
    for offset in range(2):
        day = JAN + timedelta(days=offset)
        fleet.evaluator.add_day(
            fleet.state, StationDay(station="A", district="金水区", day=day, means={"pm25": 60}, aqi=82)
        )
    # The first day fires; the second, still above the target, changes nothing.
    transitions = fleet.evaluator.tick(fleet.state, day_end(JAN + timedelta(days=1)))
    assert [(t.subject, t.state, t.at) for t in transitions] == [("金水区", "firing", day_end(JAN))]


def test_each_compliance_rule_is_judged_on_its_own_window(catalogue: Catalogue) -> None:
    fleet = Fleet(catalogue, "city.noise.night-compliance")
    (rule,) = fleet.evaluator.rules
    last_night = rule.model_copy(
        update={
            "id": "city.noise.last-night",
            "compute": NightCompliance(function="night_compliance", nights=1),
        }
    )
    fleet.evaluator = FleetEvaluator([rule, last_night])
    fleet.night(date(2026, 7, 1), 10, 10).night(date(2026, 7, 2), 8, 10)
    # 30 nights: 18/20 = 90 %, fine; the last night alone: 80 % → warn.
    assert [(t.rule, t.state, t.value) for t in fleet.transitions] == [
        ("city.noise.last-night", "firing", 80.0)
    ]
    fleet.night(date(2026, 7, 3), 0, 10)
    # 30 nights: 18/30 = 60 % → warn; the last night alone: 0 %, still firing.
    assert [(t.rule, t.state, t.value) for t in fleet.transitions[1:]] == [(rule.id, "firing", 60.0)]


def test_a_compliance_rule_for_every_district_counts_the_nights_of_each(catalogue: Catalogue) -> None:
    fleet = Fleet(catalogue, "city.noise.night-compliance")
    (rule,) = fleet.evaluator.rules
    everywhere = rule.model_copy(
        update={"applies_to": rule.applies_to.model_copy(update={"districts": None})}
    )
    fleet.evaluator = FleetEvaluator([everywhere])
    night = StationNight(station="C", district="登封市", night=JAN, leq=70, limit=50)
    fleet.evaluator.add_night(fleet.state, night)
    fleet.evaluator.tick(fleet.state, night_end(JAN))
    (figure,) = [f for f in fleet.state.figures if f.measurement == "noise_compliance"]
    assert (figure.fields["compliant"], figure.fields["assessed"]) == (0, 1)
