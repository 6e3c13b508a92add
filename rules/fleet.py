"""Fleet-wide rules: the plan's figures for each district and the city, from per-station results.

Station hours, days and nights are gathered as they come; when the fleet's clock passes an
hour's end, a day's end or a night's (06:00), it is closed: the city's and each district's
values are taken from the mean concentrations of their stations, the year-to-date figures move
on, and each fleet rule is judged. Year-to-date figures start again on 1 January (Beijing time).

The fleet's clock is how far its sources have been judged: the slowest of them, so that a
partition lagging behind during a catch-up holds the city back instead of seeing its facts come
late. A source is whatever reports progress for a set of stations: in the stream, a ``readings``
partition, whose tick judges every station homed there; offline, each station. Until every source
has been heard of, the clock stands still. A fact for a period already closed is late: counted,
and left out of the city's figures. Facts arriving twice (at-least-once delivery) replace each
other.

Facts wait in shards, by a hash of their station, so that a city of 100,000 stations is not one
record of many megabytes: the stream stores each shard as its own table row (streams/fleet_rows.py).
A shard holds some 500 stations, so a small fleet has one. Closing a period reads it from every
shard and leaves it there; ``prune`` drops closed periods when their storage allows it. A fleet
that grows may find a station's facts in its old shard too: a period takes one per station.
"""

from __future__ import annotations

import calendar
import math
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from typing import TypeVar

from pydantic import BaseModel, Field

from rules import figures
from rules.aggregations import Observation
from rules.alerting import AlertState
from rules.derived import DayValues, Facts, StationDay, StationHour, StationNight
from rules.evaluator import Transition, judged
from rules.figures import Figure, Scope, area_tags
from rules.hourly import HOUR_MS, ClosedHour, day_end, day_start, hourly_aqi, ms
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
from rules.standards.aqi import HEAVY_AQI
from rules.standards.noise import night_end
from rules.standards.validity import year_so_far_is_valid

CITY = "郑州市"
GOOD_AQI = 100


#: A shard's hours then stay far below Kafka's 1 MB record limit, and a batch of a small fleet's
#: facts writes one row, not dozens (each changelog write is a record for the broker).
STATIONS_PER_SHARD = 500


class FleetUpdate(BaseModel):
    """What the stations' timelines handed on in one batch, and how far each source has been judged."""

    facts: Facts = Field(default_factory=Facts)
    judged_to: dict[str, datetime] = Field(default_factory=dict, description="by source")


class Gathered(BaseModel):
    """One shard of the facts gathered for periods not yet closed: by period, then by station."""

    hours: dict[datetime, dict[str, StationHour]] = Field(default_factory=dict)
    days: dict[date, dict[str, StationDay]] = Field(default_factory=dict)
    nights: dict[date, dict[str, StationNight]] = Field(default_factory=dict)


def shards_for(stations: int) -> int:
    return max(1, math.ceil(stations / STATIONS_PER_SHARD))


class FleetState(BaseModel):
    #: Gathered facts, by shard (``FleetEvaluator.shard_of`` their station).
    shards: dict[int, Gathered] = Field(default_factory=dict)
    #: The latest period closed of each sort: facts for it or before are late.
    closed_hour: datetime | None = None
    closed_day: date | None = None
    closed_night: date | None = None
    late: int = 0
    judged_to: dict[str, datetime] = Field(default_factory=dict)
    area_so2: dict[str, list[float]] = Field(default_factory=dict, description="last 24 hourly SO2 means")
    #: Each area's hourly O3 of the days not yet closed: area → day → 24 slots.
    area_o3: dict[str, dict[date, list[float | None]]] = Field(default_factory=dict)
    #: Figures not yet handed to the stream.
    figures: list[Figure] = Field(default_factory=list)
    year: int | None = None
    city_days: int = 0
    heavy_days: int = 0
    district_pm25: dict[str, tuple[float, int]] = Field(default_factory=dict, description="sum, days")
    district_good: dict[str, tuple[int, int]] = Field(default_factory=dict, description="good days, days")
    #: Days with a valid daily value this year, by district and month: PM2.5's, and the AQI's.
    district_pm25_months: dict[str, dict[int, int]] = Field(default_factory=dict)
    district_aqi_months: dict[str, dict[int, int]] = Field(default_factory=dict)
    #: The first day closed this year: the year-to-date figures cover the year from there.
    year_began: date | None = None
    #: (night, compliant station-nights, assessed station-nights), oldest first.
    recent_nights: list[tuple[date, int, int]] = Field(default_factory=list)
    alerts: dict[str, AlertState] = Field(default_factory=dict, description="by fingerprint")


def days_in_year(year: int) -> int:
    return 366 if calendar.isleap(year) else 365


def _budget_used(state: FleetState, day: date, share: float) -> float:
    """Heavy-pollution days so far this year, in % of the year's budget (``share`` of its days)."""
    return 100 * state.heavy_days / (share * days_in_year(day.year))


def area_day(days: list[StationDay], o3_hours: list[float | None]) -> DayValues:
    """An area's day (HJ 663-2013): each pollutant's 24 h value is the mean of its stations' valid
    24 h means; O3's maxima come from the area's own hourly series (each hour the mean of its
    stations' valid hourly values), not from the stations' maxima."""
    return DayValues.of(mean_means(days), o3_hours)


def _year_so_far(state: FleetState, by_month: dict[str, dict[int, int]], district: str, day: date) -> bool:
    return year_so_far_is_valid(by_month.get(district, {}), day, state.year_began or day)


def _count_day(days_by_month: dict[str, dict[int, int]], district: str, day: date) -> None:
    months = days_by_month.setdefault(district, {})
    months[day.month] = months.get(day.month, 0) + 1


def _o3_of(state: FleetState, area: str, day: date) -> list[float | None]:
    return state.area_o3.get(area, {}).get(day, [])


def area_day_figure(
    tags: dict[str, str], values: DayValues, members: list[StationDay], at: datetime
) -> Figure | None:
    """An area's aqi_daily: its stations' mean 24 h values, and its own O3 maxima."""
    if values.aqi is None:
        return None
    means = {metric: mean for metric, mean in mean_means(members).items() if metric != "o3"}
    maxima = {"o3_max_1h": values.o3_max_1h, "o3_max_8h": values.o3_max_8h}
    means |= {name: value for name, value in maxima.items() if value is not None}
    return figures.aqi_figure("aqi_daily", tags, values.aqi, means, at)


def threshold_for(threshold: Threshold | None, subject: str) -> float | None:
    match threshold:
        case None:
            return None
        case ByAttribute(by="district", values=values):
            return values.get(subject)
        case float() | int():
            return float(threshold)
    raise ValueError(f"fleet rules take a number or a per-district table, not {threshold!r}")


def mean_means(facts: Iterable[StationHour | StationDay]) -> dict[str, float]:
    """Each pollutant's mean over the stations that measured it."""
    gathered: dict[str, list[float]] = defaultdict(list)
    for fact in facts:
        for metric, value in fact.means.items():
            gathered[metric].append(value)
    return {metric: math.fsum(values) / len(values) for metric, values in gathered.items()}


Period = TypeVar("Period", date, datetime)
Fact = TypeVar("Fact", StationHour, StationDay, StationNight)


def _gather(
    gathered: dict[Period, dict[str, Fact]], period: Period, closed: Period | None, station: str, fact: Fact
) -> bool:
    """File a station's fact under its open period (replacing a copy); False if the period is closed."""
    if closed is not None and period <= closed:
        return False
    gathered.setdefault(period, {})[station] = fact
    return True


def _due(
    shards: list[dict[Period, dict[str, Fact]]], closed: Period | None, ends_by: Callable[[Period], bool]
) -> list[tuple[Period, list[Fact]]]:
    """The periods still open that have ended, oldest first, each with its facts from every shard
    (one per station)."""
    due = sorted({p for shard in shards for p in shard if (closed is None or p > closed) and ends_by(p)})
    return [(period, list(_one_per_station(shards, period).values())) for period in due]


def _one_per_station(shards: list[dict[Period, dict[str, Fact]]], period: Period) -> dict[str, Fact]:
    facts: dict[str, Fact] = {}
    for shard in shards:
        facts |= shard.get(period, {})
    return facts


def prune(gathered: Gathered, state: FleetState) -> None:
    """Drop from a shard the periods ``state`` has closed."""
    _drop_closed(gathered.hours, state.closed_hour)
    _drop_closed(gathered.days, state.closed_day)
    _drop_closed(gathered.nights, state.closed_night)


def _drop_closed(gathered: dict[Period, dict[str, Fact]], closed: Period | None) -> None:
    for period in [p for p in gathered if closed is not None and p <= closed]:
        del gathered[period]


def group_by_district(facts: Iterable[Fact]) -> dict[str, list[Fact]]:
    grouped: dict[str, list[Fact]] = defaultdict(list)
    for fact in facts:
        grouped[fact.district].append(fact)
    return grouped


def hand_over(state: FleetState) -> list[Figure]:
    """The figures made so far, emptying the state's outbox."""
    made, state.figures = state.figures, []
    return made


class FleetEvaluator:
    def __init__(self, rules: list[FleetRule], sources: Iterable[str] = (), shards: int = 1) -> None:
        """``sources``: those whose progress the fleet waits for (see the module's docstring);
        ``shards``: how many shards the facts wait in (``shards_for`` the deriving stations)."""
        self.rules = rules
        self.sources = list(sources)
        self.shards = shards
        compliance = [rule for rule in rules if isinstance(rule.compute, NightCompliance)]
        self.keep_nights = max(
            (rule.compute.nights for rule in compliance if isinstance(rule.compute, NightCompliance)),
            default=30,
        )
        #: The districts whose station-nights count towards night compliance (None: all), as the
        #: rules name them: the plan's target is for the 市区 functional zones.
        areas = [rule.applies_to.districts for rule in compliance]
        self.night_area = None if not areas or None in areas else {d for area in areas if area for d in area}

    def update(self, state: FleetState, update: FleetUpdate) -> list[Transition]:
        """Gather a batch of facts, move each station's progress on, and close what the clock passed."""
        for hour in update.facts.hours:
            self.add_hour(state, hour)
        for day in update.facts.days:
            self.add_day(state, day)
        for night in update.facts.nights:
            self.add_night(state, night)
        for source, judged_to in update.judged_to.items():
            state.judged_to[source] = max(state.judged_to.get(source, judged_to), judged_to)
        now = self.clock(state)
        return [] if now is None else self.tick(state, now)

    def clock(self, state: FleetState) -> datetime | None:
        """The slowest source's progress; None until every source waited for has been heard of."""
        if any(source not in state.judged_to for source in self.sources):
            return None
        waited = [state.judged_to[source] for source in self.sources] or list(state.judged_to.values())
        return min(waited, default=None)

    def shard_of(self, station: str) -> int:
        return zlib.crc32(station.encode()) % self.shards

    def _shard(self, state: FleetState, station: str) -> Gathered:
        return state.shards.setdefault(self.shard_of(station), Gathered())

    def add_hour(self, state: FleetState, fact: StationHour) -> None:
        state.figures.append(figures.station_hour(fact))
        hours = self._shard(state, fact.station).hours
        state.late += not _gather(hours, fact.hour, state.closed_hour, fact.station, fact)

    def add_day(self, state: FleetState, fact: StationDay) -> None:
        state.figures.append(figures.station_day(fact))
        days = self._shard(state, fact.station).days
        state.late += not _gather(days, fact.day, state.closed_day, fact.station, fact)

    def add_night(self, state: FleetState, fact: StationNight) -> None:
        state.figures.append(figures.station_night(fact))
        nights = self._shard(state, fact.station).nights
        state.late += not _gather(nights, fact.night, state.closed_night, fact.station, fact)

    def tick(self, state: FleetState, now: datetime) -> list[Transition]:
        shards = state.shards.values()
        hour_long = timedelta(milliseconds=HOUR_MS)
        for hour, hours in _due([s.hours for s in shards], state.closed_hour, lambda h: h + hour_long <= now):
            self._close_hour(state, hour, hours)
            state.closed_hour = hour
        transitions: list[Transition] = []
        for day, days in _due([s.days for s in shards], state.closed_day, lambda d: day_end(d) <= now):
            transitions += self._close_day(state, day, days)
            state.closed_day = day
        nights_due = _due([s.nights for s in shards], state.closed_night, lambda n: night_end(n) <= now)
        for night, nights in nights_due:
            transitions += self._close_night(state, night, nights)
            state.closed_night = night
        return transitions

    def _close_hour(self, state: FleetState, hour: datetime, facts: list[StationHour]) -> None:
        areas: list[tuple[Scope, str, list[StationHour]]] = [("city", CITY, facts)]
        areas += [
            ("district", district, members) for district, members in sorted(group_by_district(facts).items())
        ]
        for scope, area, members in areas:
            means = mean_means(members)
            if not means:
                lacking = sorted({metric for member in members for metric in member.lacking})
                state.figures.append(figures.not_valid("aqi_hourly", area_tags(scope, area), hour, lacking))
                continue
            if "o3" in means:
                slots = state.area_o3.setdefault(area, {}).setdefault(hour.date(), [None] * 24)
                slots[hour.hour] = means["o3"]
            result, state.area_so2[area] = hourly_aqi(
                ClosedHour(ms(hour), means), state.area_so2.get(area, [])
            )
            state.figures.append(
                figures.aqi_figure(
                    "aqi_hourly",
                    area_tags(scope, area),
                    result.aqi,
                    means,
                    hour,
                    primary=[pollutant.value for pollutant in result.primary],
                )
            )

    def _close_day(self, state: FleetState, day: date, facts: list[StationDay]) -> list[Transition]:
        if state.year != day.year:
            state.year, state.city_days, state.heavy_days = day.year, 0, 0
            state.district_pm25, state.district_good = {}, {}
            state.district_pm25_months, state.district_aqi_months = {}, {}
            state.year_began = day
        by_district = group_by_district(facts)
        days = {CITY: area_day(facts, _o3_of(state, CITY, day))} | {
            district: area_day(members, _o3_of(state, district, day))
            for district, members in by_district.items()
        }
        state.area_o3 = {
            area: {d: o3 for d, o3 in by_day.items() if d > day} for area, by_day in state.area_o3.items()
        }
        city = days[CITY].aqi
        state.city_days += 1
        heavy_aqi = max(
            (r.compute.heavy_aqi for r in self.rules if isinstance(r.compute, HeavyDayBudget)),
            default=HEAVY_AQI,
        )
        state.heavy_days += int(city is not None and city >= heavy_aqi)
        for district, members in by_district.items():
            pm25 = [m.means["pm25"] for m in members if "pm25" in m.means]
            if pm25:
                total, count = state.district_pm25.get(district, (0.0, 0))
                state.district_pm25[district] = (total + math.fsum(pm25) / len(pm25), count + 1)
                _count_day(state.district_pm25_months, district, day)
            index = days[district].aqi
            if index is not None:
                good, total_days = state.district_good.get(district, (0, 0))
                state.district_good[district] = (good + int(index <= GOOD_AQI), total_days + 1)
                _count_day(state.district_aqi_months, district, day)
        self._day_figures(state, day, days, facts, by_district)
        at = day_end(day)
        transitions: list[Transition] = []
        for rule in self.rules:
            for subject, value, window, window_zh in self._day_values(rule, state, day):
                transitions += self._judge(rule, state, subject, Observation(value, at, window, window_zh))
        return transitions

    def _day_figures(
        self,
        state: FleetState,
        day: date,
        days: dict[str, DayValues],
        facts: list[StationDay],
        by_district: dict[str, list[StationDay]],
    ) -> None:
        """The day's AQI of the city and each district, and where the year stands against the plan."""
        at = day_start(day)
        if (city := area_day_figure(area_tags("city", CITY), days[CITY], facts, at)) is not None:
            state.figures.append(city)
        share = next((r.compute.share for r in self.rules if isinstance(r.compute, HeavyDayBudget)), 0.014)
        progress = {
            "heavy_days": state.heavy_days,
            "days": state.city_days,
            "heavy_budget_used_pct": _budget_used(state, day, share),
        }
        state.figures.append(
            Figure(measurement="plan_progress", tags=area_tags("city", CITY), fields=progress, at=at)
        )
        for district, members in sorted(by_district.items()):
            tags = area_tags("district", district)
            if (figure := area_day_figure(tags, days[district], members, at)) is not None:
                state.figures.append(figure)
            fields: dict[str, figures.FieldValue] = {}
            if district in state.district_pm25:
                total, count = state.district_pm25[district]
                fields["pm25_ytd_valid"] = _year_so_far(state, state.district_pm25_months, district, day)
                fields["pm25_ytd"] = total / count
            if district in state.district_good:
                good, assessed = state.district_good[district]
                fields["good_days_valid"] = _year_so_far(state, state.district_aqi_months, district, day)
                fields |= {
                    "good_days": good,
                    "days": assessed,
                    "projected_good_days": good / assessed * days_in_year(day.year),
                }
            if fields:
                state.figures.append(
                    Figure(
                        measurement="plan_progress",
                        tags=area_tags("district", district),
                        fields=fields,
                        at=at,
                    )
                )

    def _day_values(self, rule: FleetRule, state: FleetState, day: date) -> list[tuple[str, float, str, str]]:
        """(subject, value, window in English, in Chinese) for each subject the rule judges today."""
        year, year_zh = f"{day.year}-01-01 to {day:%Y-%m-%d}", f"{day.year}-01-01至{day:%Y-%m-%d}"
        match rule.compute:
            case HeavyDayBudget(share=share):
                used = _budget_used(state, day, share)
                heavy = state.heavy_days
                return [(CITY, used, f"heavy days {heavy}, {year}", f"重污染{heavy}天，{year_zh}")]
            case YearToDateMean(min_days=enough):
                return [
                    (district, total / count, f"PM2.5 mean {year}", f"PM2.5均值，{year_zh}")
                    for district, (total, count) in sorted(state.district_pm25.items())
                    if self._covers(rule, district)
                    and count >= enough
                    and _year_so_far(state, state.district_pm25_months, district, day)
                ]
            case ProjectedGoodDays(min_days=enough):
                return [
                    (
                        district,
                        good / total * days_in_year(day.year),
                        f"good days {good} of {total}, {year}",
                        f"优良{good}/{total}天，{year_zh}",
                    )
                    for district, (good, total) in sorted(state.district_good.items())
                    if self._covers(rule, district)
                    and total >= enough
                    and _year_so_far(state, state.district_aqi_months, district, day)
                ]
        return []

    @staticmethod
    def _covers(rule: FleetRule, district: str) -> bool:
        return rule.applies_to.districts is None or district in rule.applies_to.districts

    def _close_night(self, state: FleetState, night: date, facts: list[StationNight]) -> list[Transition]:
        facts = [fact for fact in facts if self.night_area is None or fact.district in self.night_area]
        if not facts:
            return []
        compliant = sum(fact.compliant for fact in facts)
        state.recent_nights = [*state.recent_nights, (night, compliant, len(facts))][-self.keep_nights :]
        assessed = sum(count for _, _, count in state.recent_nights)
        rolling = 100 * sum(good for _, good, _ in state.recent_nights) / assessed
        state.figures.append(
            Figure(
                measurement="noise_compliance",
                tags=area_tags("city", CITY),
                fields={
                    "night_rate": 100 * compliant / len(facts),
                    "compliant": compliant,
                    "assessed": len(facts),
                    "rolling_rate": rolling,
                    "rolling_nights": len(state.recent_nights),
                },
                at=day_start(night) + timedelta(hours=22),
            )
        )
        transitions: list[Transition] = []
        for rule in self.rules:
            if isinstance(rule.compute, NightCompliance):
                kept = state.recent_nights[-rule.compute.nights :]
                assessed = sum(count for _, _, count in kept)
                rate = 100 * sum(good for _, good, _ in kept) / assessed
                first = kept[0][0]
                window = f"{assessed} station-nights, {first:%Y-%m-%d} to {night:%Y-%m-%d}"
                window_zh = f"{assessed}站次夜间，{first:%Y-%m-%d}至{night:%Y-%m-%d}"
                seen = Observation(rate, night_end(night), window, window_zh)
                transitions += self._judge(rule, state, CITY, seen)
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
