"""Loading the rule catalogue, and explaining a rule in plain words."""

from __future__ import annotations

from datetime import timedelta
from importlib.resources import files
from pathlib import Path

from envalert.core.config_files import load_yaml
from rules.durations import format_duration
from rules.model import (
    Aggregation,
    ByAttribute,
    Catalogue,
    Condition,
    FleetAggregation,
    FleetRule,
    FromStandard,
    FromStation,
    HeavyDayBudget,
    HourlyAqi,
    HourlyMean,
    LackingHours,
    Mean,
    NightCompliance,
    NightLeq,
    ProjectedGoodDays,
    Rate,
    Rule,
    Threshold,
    YearToDateMean,
)
from rules.standards.aqi import HEAVY_AQI, SEVERE_AQI, Averaging, Category, Pollutant, concentration_at
from rules.standards.limits import (
    AMBIENT_CLASS_II,
    AMMONIA_SLIP,
    CEMENT_AMMONIA,
    CEMENT_AMMONIA_SPECIAL,
    Limit,
    nmhc_limits,
)
from rules.standards.noise import EXISTING_RAILWAY_LIMITS, SUDDEN_NOISE_ALLOWANCE, ZONE_LIMITS
from rules.standards.validity import (
    DAYS_FOR_A_MONTH,
    DAYS_FOR_FEBRUARY,
    EIGHT_HOUR_MEANS_FOR_A_DAY,
    HOUR_COVERAGE,
    HOURS_FOR_8H,
    HOURS_FOR_A_DAY,
)

SHIPPED = Path(str(files("rules") / "catalogue.yaml"))


def load_catalogue(path: Path = SHIPPED) -> Catalogue:
    return load_yaml(path, Catalogue)


def _normal_or_special(normal: Limit, special: Limit) -> str:
    return (
        f"{normal.value:g} {normal.unit}, or {special.value:g} {special.unit} where special limits apply "
        f"({normal.source})"
    )


PM25_24H = AMBIENT_CLASS_II[(Pollutant.PM25, Averaging.DAY)]
O3_8H = AMBIENT_CLASS_II[(Pollutant.O3, Averaging.EIGHT_HOURS)]
STANDARD_WORDS = {
    "gb3095_pm25_24h": f"{PM25_24H.value:g} {PM25_24H.unit} ({PM25_24H.source}, 24 h PM2.5)",
    "gb3095_o3_8h": f"{O3_8H.value:g} {O3_8H.unit} ({O3_8H.source})",
    "pm25_24h_at_iaqi_200": f"{concentration_at(Pollutant.PM25, Averaging.DAY, 200):g} µg/m³ "
    "(PM2.5 24 h at IAQI 200, HJ 633-2012)",
    "o3_8h_at_iaqi_200": f"{concentration_at(Pollutant.O3, Averaging.EIGHT_HOURS, 200):g} µg/m³ "
    "(O3 8 h at IAQI 200, HJ 633-2012)",
    "aqi_heavy": f"AQI {HEAVY_AQI} ({Category.HEAVY.zh}, HJ 633-2012)",
    "aqi_severe": f"AQI {SEVERE_AQI} ({Category.SEVERE.zh}, HJ 633-2012)",
    "gb3096_night": "the night limit of the zone (GB 3096-2008): "
    + ", ".join(f"{zone.value}: {night:g}" for zone, (_, night) in ZONE_LIMITS.items())
    + f"; 4b beside an existing railway line {EXISTING_RAILWAY_LIMITS[1]:g}",
    "gb3096_sudden": f"the zone's night limit + {SUDDEN_NOISE_ALLOWANCE:g} dB(A) (GB 3096-2008)",
    "ammonia_slip": "the unit's limit: "
    + ", ".join(
        f"{unit} {limit.value:g} {limit.unit} ({limit.source})" for unit, limit in AMMONIA_SLIP.items()
    )
    + f"; a cement kiln {CEMENT_AMMONIA.value:g}, or {CEMENT_AMMONIA_SPECIAL.value:g} where special "
    "limits apply (GB 4915-2013)",
    "gb37822_nmhc_1h": _normal_or_special(*(nmhc_limits(special)[0] for special in (False, True))),
    "gb37822_nmhc_single": _normal_or_special(*(nmhc_limits(special)[1] for special in (False, True))),
}


def threshold_words(threshold: Threshold) -> str:
    match threshold:
        case ByAttribute(by=attribute, values=values):
            return f"by {attribute}: " + ", ".join(f"{key} {value:g}" for key, value in values.items())
        case FromStation(station_attribute=attribute):
            return f"the station's {attribute.replace('_', ' ')}"
        case FromStandard(standard=standard, times=times):
            return STANDARD_WORDS[standard] if times == 1 else f"{times:g} × {STANDARD_WORDS[standard]}"
    return f"{threshold:g}"


def condition_words(condition: Condition) -> list[str]:
    lines = [
        f"{severity} when the value is {condition.op} {threshold_words(threshold)}"
        for severity, threshold in (("warning", condition.warning), ("critical", condition.critical))
        if threshold is not None
    ]
    if condition.pending_count > 1 or condition.pending_for:
        waits = [f"{condition.pending_count} values in a row"] if condition.pending_count > 1 else []
        waits += [f"{format_duration(condition.pending_for)} in breach"] if condition.pending_for else []
        lines.append("fires only after " + " and ".join(waits))
    if condition.hysteresis:
        lines.append(f"clears {condition.hysteresis:g} on the safe side of the threshold")
    return lines


def subjects(rule: Rule | FleetRule) -> str:
    if isinstance(rule, FleetRule):
        scope = rule.applies_to
        where = "the city as a whole" if scope.scope == "city" else "each district"
        return where + (f" among {', '.join(scope.districts)}" if scope.districts else "")
    return f"{', '.join(kind.value for kind in rule.applies_to.kinds)} stations" + "".join(
        f"; {name} {', '.join(map(str, values))}"
        for name, values in rule.applies_to.model_dump(exclude={"kinds"}, exclude_none=True).items()
    )


def all_rules(catalogue: Catalogue) -> dict[str, Rule | FleetRule]:
    found: dict[str, Rule | FleetRule] = {rule.id: rule for rule in catalogue.rules}
    return found | {rule.id: rule for rule in catalogue.fleet_rules}


def explain(rule: Rule | FleetRule) -> str:
    compute = rule.compute.model_dump(exclude_none=True)
    return "\n".join(
        [
            f"{rule.id}",
            f"  {rule.title.zh}",
            f"  {rule.title.en}",
            "",
            f"  {rule.description.zh}",
            f"  {rule.description.en}",
            "",
            f"  source:     {rule.source}",
            f"  applies to: {subjects(rule)}",
            f"  computes:   {', '.join(f'{key}={value}' for key, value in compute.items())}",
            f"  validity:   {validity_words(rule.compute)}",
            *(f"  condition:  {line}" for line in condition_words(rule.condition)),
            f"  notifies:   {', '.join(role.value for role in rule.notify)}",
        ]
    )


HOURLY_VALUE = (
    f"an hourly value needs {HOUR_COVERAGE // timedelta(minutes=1)} minutes of data in its hour at the "
    "station's cadence (GB 3095-2012 §6)"
)
DAYS = (
    f"a station's day needs {HOURS_FOR_A_DAY} valid hourly values of a pollutant, O3's daily maximum "
    f"8 h mean {EIGHT_HOUR_MEANS_FOR_A_DAY} valid 8 h means of {HOURS_FOR_8H} hourly values each "
    "(GB 3095-2012 §6, HJ 663-2013)"
)


def validity_words(compute: Aggregation | FleetAggregation) -> str:
    """How much data the rule's window needs before it is judged; with less, the alert keeps its state."""
    match compute:
        case HourlyMean():
            hours = int(compute.window / timedelta(hours=1))
            if hours == 1:
                return f"{HOURLY_VALUE}; a clock hour without one is not judged"
            return f"{HOURLY_VALUE}; the window needs {compute.min_hours} valid hourly values of its {hours}"
        case NightLeq():
            return (
                f"an hourly Leq needs {HOUR_COVERAGE // timedelta(minutes=1)} minutes of data in its hour "
                f"at the station's cadence; a night needs {compute.min_hours} of its 8 hours (envalert's "
                "choice: GB 3096-2008 and HJ 640-2012 ask for continuous monitoring without a share)"
            )
        case HourlyAqi():
            return f"{HOURLY_VALUE}; an hour with no pollutant's hourly value has no AQI"
        case LackingHours():
            return f"watches that validity itself: {HOURLY_VALUE}"
        case Mean(align="calendar"):
            return f"at least {compute.min_samples} N-flagged readings in the period"
        case Mean():
            return f"at least {compute.min_samples} N-flagged readings in the window"
        case Rate():
            return "N-flagged readings spanning at least half the window"
        case HeavyDayBudget():
            return f"city days from the stations' valid days: {DAYS}"
        case NightCompliance():
            return "station-nights with a valid night Leq (see noise.night.leq)"
        case YearToDateMean() | ProjectedGoodDays():
            return (
                f"at least {compute.min_days} valid days this year, and {DAYS_FOR_A_MONTH} in each month "
                f"gone by ({DAYS_FOR_FEBRUARY} in February; GB 3095-2012 §6): {DAYS}"
            )
    return "each reading by itself"
