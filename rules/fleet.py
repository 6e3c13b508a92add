"""Fleet-wide rules: the plan's figures for each district and the city, from per-station results.

Station days and nights are gathered as they come; when the event clock passes a day's end (or
a night's, at 06:00) the day is closed: the city's and each district's daily values are taken
from the mean concentrations of their stations, the year-to-date figures move on, and each
fleet rule is judged. Year-to-date figures start again on 1 January (Beijing time).
"""

from __future__ import annotations

import calendar
import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime

from pydantic import BaseModel, Field

from rules.aggregations import Observation
from rules.alerting import AlertState
from rules.derived import StationDay, StationNight
from rules.evaluator import Transition, judged
from rules.hourly import day_end
from rules.model import (
    ByAttribute,
    FleetRule,
    HeavyDayBudget,
    NightCompliance,
    ProjectedGoodDays,
    Severity,
    Threshold,
    YearToDateMean,
)
from rules.standards.aqi import Averaging, Pollutant, aqi
from rules.standards.noise import night_end

CITY = "郑州市"
GOOD_AQI = 100


class FleetState(BaseModel):
    days: dict[date, list[StationDay]] = Field(default_factory=dict, description="gathered, not yet closed")
    nights: dict[date, list[StationNight]] = Field(default_factory=dict)
    year: int | None = None
    city_days: int = 0
    heavy_days: int = 0
    district_pm25: dict[str, tuple[float, int]] = Field(default_factory=dict, description="sum, days")
    district_good: dict[str, tuple[int, int]] = Field(default_factory=dict, description="good days, days")
    #: (night, compliant station-nights, assessed station-nights), oldest first.
    recent_nights: list[tuple[date, int, int]] = Field(default_factory=list)
    alerts: dict[str, AlertState] = Field(default_factory=dict, description="by fingerprint")


def days_in_year(year: int) -> int:
    return 366 if calendar.isleap(year) else 365


def daily_aqi(days: Iterable[StationDay]) -> int | None:
    """The AQI of an area's day, from its stations' mean concentrations (HJ 633-2012)."""
    gathered: dict[tuple[Pollutant, Averaging], list[float]] = defaultdict(list)
    for day in days:
        for metric, mean in day.means.items():
            if metric != "o3":
                gathered[(Pollutant(metric), Averaging.DAY)].append(mean)
        if day.o3_max_1h is not None:
            gathered[(Pollutant.O3, Averaging.HOUR)].append(day.o3_max_1h)
        if day.o3_max_8h is not None:
            gathered[(Pollutant.O3, Averaging.EIGHT_HOURS)].append(day.o3_max_8h)
    if not gathered:
        return None
    return aqi({key: math.fsum(values) / len(values) for key, values in gathered.items()}).aqi


def threshold_for(threshold: Threshold | None, subject: str) -> float | None:
    match threshold:
        case None:
            return None
        case ByAttribute(by="district", values=values):
            return values.get(subject)
        case float() | int():
            return float(threshold)
    raise ValueError(f"fleet rules take a number or a per-district table, not {threshold!r}")


class FleetEvaluator:
    def __init__(self, rules: list[FleetRule]) -> None:
        self.rules = rules
        self.keep_nights = max(
            (r.compute.nights for r in rules if isinstance(r.compute, NightCompliance)), default=0
        )

    def add_day(self, state: FleetState, fact: StationDay) -> None:
        state.days.setdefault(fact.day, []).append(fact)

    def add_night(self, state: FleetState, fact: StationNight) -> None:
        state.nights.setdefault(fact.night, []).append(fact)

    def tick(self, state: FleetState, now: datetime) -> list[Transition]:
        transitions: list[Transition] = []
        for day in sorted(d for d in state.days if day_end(d) <= now):
            transitions += self._close_day(state, day, state.days.pop(day))
        for night in sorted(n for n in state.nights if night_end(n) <= now):
            transitions += self._close_night(state, night, state.nights.pop(night))
        return transitions

    def _close_day(self, state: FleetState, day: date, facts: list[StationDay]) -> list[Transition]:
        if state.year != day.year:
            state.year, state.city_days, state.heavy_days = day.year, 0, 0
            state.district_pm25, state.district_good = {}, {}
        by_district: dict[str, list[StationDay]] = defaultdict(list)
        for fact in facts:
            by_district[fact.district].append(fact)
        city = daily_aqi(facts)
        state.city_days += 1
        heavy_aqi = max(
            (r.compute.heavy_aqi for r in self.rules if isinstance(r.compute, HeavyDayBudget)), default=201
        )
        state.heavy_days += int(city is not None and city >= heavy_aqi)
        for district, members in by_district.items():
            pm25 = [m.means["pm25"] for m in members if "pm25" in m.means]
            if pm25:
                total, count = state.district_pm25.get(district, (0.0, 0))
                state.district_pm25[district] = (total + math.fsum(pm25) / len(pm25), count + 1)
            index = daily_aqi(members)
            if index is not None:
                good, total_days = state.district_good.get(district, (0, 0))
                state.district_good[district] = (good + int(index <= GOOD_AQI), total_days + 1)
        at = day_end(day)
        transitions: list[Transition] = []
        for rule in self.rules:
            for subject, value, window in self._day_values(rule, state, day):
                transitions += self._judge(rule, state, subject, Observation(value, at, window))
        return transitions

    def _day_values(self, rule: FleetRule, state: FleetState, day: date) -> list[tuple[str, float, str]]:
        year = f"{day.year}-01-01 to {day:%Y-%m-%d}"
        match rule.compute:
            case HeavyDayBudget(share=share):
                budget = share * days_in_year(day.year)
                return [(CITY, 100 * state.heavy_days / budget, f"heavy days {state.heavy_days}, {year}")]
            case YearToDateMean():
                return [
                    (district, total / count, f"PM2.5 mean {year}")
                    for district, (total, count) in sorted(state.district_pm25.items())
                    if self._covers(rule, district)
                ]
            case ProjectedGoodDays():
                return [
                    (district, good / total * days_in_year(day.year), f"good days {good} of {total}, {year}")
                    for district, (good, total) in sorted(state.district_good.items())
                    if self._covers(rule, district)
                ]
        return []

    @staticmethod
    def _covers(rule: FleetRule, district: str) -> bool:
        return rule.applies_to.districts is None or district in rule.applies_to.districts

    def _close_night(self, state: FleetState, night: date, facts: list[StationNight]) -> list[Transition]:
        compliant = sum(fact.compliant for fact in facts)
        state.recent_nights = [*state.recent_nights, (night, compliant, len(facts))][-self.keep_nights :]
        transitions: list[Transition] = []
        for rule in self.rules:
            if isinstance(rule.compute, NightCompliance):
                kept = state.recent_nights[-rule.compute.nights :]
                assessed = sum(count for _, _, count in kept)
                rate = 100 * sum(good for _, good, _ in kept) / assessed
                window = f"{assessed} station-nights, {kept[0][0]:%Y-%m-%d} to {night:%Y-%m-%d}"
                transitions += self._judge(rule, state, CITY, Observation(rate, night_end(night), window))
        return transitions

    def _judge(self, rule: FleetRule, state: FleetState, subject: str, seen: Observation) -> list[Transition]:
        limits = {
            severity: value
            for severity, threshold in (
                (Severity.WARNING, rule.condition.warning),
                (Severity.CRITICAL, rule.condition.critical),
            )
            if (value := threshold_for(threshold, subject)) is not None
        }
        if not limits:
            return []
        return judged(
            rule, subject, limits, state.alerts.setdefault(f"{rule.id}/{subject}", AlertState()), seen
        )
