"""The rule catalogue's schema: what a rule applies to, what it computes, when it fires and clears.

A rule is data (YAML), validated here before anything runs: a wrong metric, a missing threshold
or an impossible window is refused with the rule id and the field path.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from envalert.core.contract import METRICS, Flag, Kind, StationId
from envalert.core.stations import NoiseZone, Station
from rules.durations import Duration
from rules.standards.aqi import HEAVY_AQI
from rules.standards.validity import HOURS_FOR_A_NIGHT


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(Strict):
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Severity(StrEnum):
    WARNING = "warning"
    CRITICAL = "critical"


class Role(StrEnum):
    """Who is told, resolved to units by the notifiers' directory."""

    DISTRICT = "district"  # the district/county government or development zone (附件1)
    DISTRICT_BRANCH = "district_branch"  # the district branch of 市生态环境局
    CITY_BUREAU = "city_bureau"  # 市生态环境局
    WATER_BUREAU = "water_bureau"  # 市水利局
    OPERATOR = "operator"  # the enterprise or unit that runs the station


class Selector(Strict):
    """Which stations a rule watches: every condition given must hold."""

    kinds: list[Kind] = Field(min_length=1)
    zones: list[NoiseZone] | None = None
    unit_types: list[Literal["SCR", "SNCR"]] | None = None
    sectors: list[Literal["power", "cement"]] | None = None
    districts: list[str] | None = None
    stations: list[StationId] | None = None

    def matches(self, station: Station) -> bool:
        return (
            station.kind in self.kinds
            and (self.zones is None or station.zone in self.zones)
            and (self.unit_types is None or station.unit_type in self.unit_types)
            and (self.sectors is None or station.sector in self.sectors)
            and (self.districts is None or station.district in self.districts)
            and (self.stations is None or station.id in self.stations)
        )


# --- what a rule computes from a station's readings --------------------------------------


class Latest(Strict):
    """Each reading's value as it comes; at night only, if asked (22:00–06:00 Beijing time)."""

    function: Literal["latest"]
    metric: str
    period: Literal["always", "night"] = "always"


class Mean(Strict):
    """Arithmetic mean over a window: trailing (sliding, judged at each reading) or calendar
    (a clock hour or day in Beijing time, judged when it closes)."""

    function: Literal["mean"]
    metric: str
    window: Duration
    align: Literal["sliding", "calendar"] = "sliding"
    min_samples: int = Field(1, ge=1)


class HourlyMean(Strict):
    """Mean of the valid clock-hour means in a trailing window of whole hours, judged as each
    hour closes: long windows are built from hourly values, as GB 3095-2012 §6 averages them.
    An hour's mean is valid with 45 minutes of data at the station's cadence; the window needs
    ``min_hours`` of them (24 h: 20, 8 h: 6; 1 h: the clock hour itself)."""

    function: Literal["hourly_mean"]
    metric: str
    window: Duration
    min_hours: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _whole_hours(self) -> HourlyMean:
        hours = self.window / timedelta(hours=1)
        if hours != int(hours) or hours < 1:
            raise ValueError(f"window {self.window} is not a whole number of hours")
        if self.min_hours > hours:
            raise ValueError(f"min_hours {self.min_hours} is more than the {int(hours)} hours of the window")
        return self


class NightLeq(Strict):
    """Energy-average LAeq of the night 22:00–06:00 (GB 3096-2008), judged at 06:00, from the
    night's valid hourly Leq (45 minutes of data each); a night needs ``min_hours`` of its 8."""

    function: Literal["night_leq"]
    metric: Literal["laeq"] = "laeq"
    min_hours: int = Field(HOURS_FOR_A_NIGHT, ge=1, le=8)


class Rate(Strict):
    """Change per day across a trailing window: (newest − oldest) / days between them."""

    function: Literal["rate_per_day"]
    metric: str
    window: Duration


class HourlyAqi(Strict):
    """HJ 633-2012 AQI of each clock hour from the hourly means of the pollutants reported."""

    function: Literal["hourly_aqi"]


class Stuck(Strict):
    """Data quality: how many consecutive readings repeat the same value."""

    function: Literal["repeats"]
    metric: str


class Silence(Strict):
    """Data quality: time since the station's last reading, in minutes, measured on the event clock."""

    function: Literal["silence"]


class FlaggedFor(Strict):
    """Data quality: minutes that a metric (any metric, if none is named) has carried one of
    the given instrument flags without a break."""

    function: Literal["flagged_minutes"]
    metric: str | None = None
    flags: list[Flag] = Field(min_length=1)


class LackingHours(Strict):
    """Data quality: clock hours in a row in which a metric had data but too little of it for an
    hourly value (45 minutes at the station's cadence, GB 3095-2012 §6), counted as each closes."""

    function: Literal["lacking_hours"]


class OutOfRange(Strict):
    """Data quality: 1 when a value of the metric (of any, if none is named) leaves the range
    of the station's instrument or carries flag T, else 0."""

    function: Literal["outside_instrument_range"]
    metric: str | None = None


Aggregation = Annotated[
    Latest
    | Mean
    | HourlyMean
    | NightLeq
    | Rate
    | HourlyAqi
    | Stuck
    | Silence
    | FlaggedFor
    | LackingHours
    | OutOfRange,
    Field(discriminator="function"),
]

#: Functions that judge a pollutant or level against a limit: they use only N-flagged data.
LIMIT_FUNCTIONS = {"latest", "mean", "hourly_mean", "night_leq", "rate_per_day", "hourly_aqi"}


# --- thresholds, which may depend on the station ---------------------------------------------


class ByAttribute(Strict):
    """A threshold per value of a station attribute, e.g. per noise zone or denitration unit."""

    by: Literal["zone", "unit_type", "district"]
    values: dict[str, float] = Field(min_length=1)


class FromStation(Strict):
    """A threshold the station catalogue carries, e.g. a well's warning level."""

    station_attribute: Literal["warning_level"]


class FromStandard(Strict):
    """A limit from tested code in rules/standards, so the number has one home; ``times`` scales
    it (an escalation at twice a limit)."""

    standard: Literal[
        "gb3095_pm25_24h",
        "gb3095_o3_8h",
        "pm25_24h_at_iaqi_200",
        "o3_8h_at_iaqi_200",
        "aqi_heavy",
        "aqi_severe",
        "gb3096_night",
        "gb3096_sudden",
        "ammonia_slip",
        "gb37822_nmhc_1h",
        "gb37822_nmhc_single",
    ]
    times: float = Field(1.0, gt=0)


Threshold = float | ByAttribute | FromStation | FromStandard


class Condition(Strict):
    """When the computed value breaks the rule, at which severity, and when it clears again."""

    op: Literal[">", ">=", "<", "<="]
    warning: Threshold | None = None
    critical: Threshold | None = None
    #: Clear only once the value is this far on the safe side of the warning threshold (or the
    #: critical one, to step down from critical), so a value hovering at a limit does not flap.
    hysteresis: float = Field(0.0, ge=0)
    #: Fire only after this many consecutive breaking values, and this long in breach.
    pending_count: int = Field(1, ge=1)
    pending_for: Duration = timedelta(0)

    @model_validator(mode="after")
    def _needs_a_threshold(self) -> Condition:
        if self.warning is None and self.critical is None:
            raise ValueError("give a warning or a critical threshold (or both)")
        plain = [t for t in (self.warning, self.critical) if isinstance(t, float | int)]
        if len(plain) == 2 and breaks(self.op, plain[0], plain[1]) and plain[0] != plain[1]:
            raise ValueError(
                f"the critical threshold {plain[1]:g} must be at least as severe as the warning "
                f"threshold {plain[0]:g} for op {self.op!r}"
            )
        return self


def breaks(op: str, value: float, threshold: float) -> bool:
    return {
        ">": value > threshold,
        ">=": value >= threshold,
        "<": value < threshold,
        "<=": value <= threshold,
    }[op]


class RuleBase(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=80)
    title: Text
    description: Text
    source: str = Field(min_length=3, description="plan clause or standard, e.g. GB 3095-2012")
    condition: Condition
    notify: list[Role] = Field(min_length=1)


class Rule(RuleBase):
    """A rule judged on each station's own readings."""

    applies_to: Selector
    compute: Aggregation

    @model_validator(mode="after")
    def _metric_exists(self) -> Rule:
        metric = getattr(self.compute, "metric", None)
        for kind in self.applies_to.kinds:
            if metric is not None and metric not in METRICS[kind]:
                raise ValueError(
                    f"compute.metric {metric!r} is not reported by {kind.value} stations; "
                    f"use one of {', '.join(METRICS[kind])}"
                )
        if isinstance(self.compute, HourlyAqi) and self.applies_to.kinds != [Kind.AIR]:
            raise ValueError("hourly_aqi needs air stations (applies_to.kinds: [air])")
        window = getattr(self.compute, "window", None)
        if window is not None and not timedelta(minutes=1) <= window <= timedelta(days=366):
            raise ValueError(f"compute.window {window} is impossible: use 1m to 366d")
        if isinstance(self.compute, Mean) and self.compute.align == "calendar" and window not in CALENDAR:
            raise ValueError("a calendar window is 1h (a clock hour) or 24h (a day in Beijing time)")
        return self

    @property
    def judges_limits(self) -> bool:
        return self.compute.function in LIMIT_FUNCTIONS


CALENDAR = {timedelta(hours=1), timedelta(days=1)}


# --- fleet-wide rules: the plan's figures for districts and the city ------------------------


class FleetScope(Strict):
    """A fleet rule's subjects: the city as a whole, or each district (附件1)."""

    scope: Literal["city", "district"]
    districts: list[str] | None = None


class HeavyDayBudget(Strict):
    """Percent of the year's heavy-pollution-day budget used: the days whose city daily AQI
    reached ``heavy_aqi``, over ``share`` × the days of the year."""

    function: Literal["heavy_day_budget"]
    share: float = Field(0.014, gt=0, le=1)
    #: The AQI at which a day is heavily polluted: HJ 633-2012's 重度污染 starts at 201.
    heavy_aqi: int = Field(HEAVY_AQI, ge=0, le=500)


class YearToDateMean(Strict):
    """A district's mean of daily PM2.5 means since 1 January."""

    function: Literal["ytd_mean"]
    metric: Literal["pm25"] = "pm25"
    #: A year is not judged on its first few days: a mean of two winter days says little.
    min_days: int = Field(30, ge=1, le=366)


class ProjectedGoodDays(Strict):
    """A district's good days (daily AQI ≤ 100) so far, scaled to the whole year."""

    function: Literal["projected_good_days"]
    min_days: int = Field(30, ge=1, le=366)


class NightCompliance(Strict):
    """Percent of compliant station-nights over the last ``nights`` nights, city-wide."""

    function: Literal["night_compliance"]
    nights: int = Field(30, ge=1, le=366)


FleetAggregation = Annotated[
    HeavyDayBudget | YearToDateMean | ProjectedGoodDays | NightCompliance, Field(discriminator="function")
]
#: Which scope each fleet function is computed for.
FLEET_SCOPES = {
    "heavy_day_budget": "city",
    "night_compliance": "city",
    "ytd_mean": "district",
    "projected_good_days": "district",
}


class FleetRule(RuleBase):
    """A rule judged on per-station results gathered by district or for the whole city."""

    applies_to: FleetScope
    compute: FleetAggregation

    @model_validator(mode="after")
    def _scope_fits(self) -> FleetRule:
        needed = FLEET_SCOPES[self.compute.function]
        if self.applies_to.scope != needed:
            raise ValueError(
                f"{self.compute.function} is computed per {needed}: set applies_to.scope: {needed}"
            )
        return self


class Catalogue(Strict):
    rules: list[Rule]
    fleet_rules: list[FleetRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_ids(self) -> Catalogue:
        seen: set[str] = set()
        for rule in [*self.rules, *self.fleet_rules]:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} appears twice; ids must be unique")
            seen.add(rule.id)
        return self
