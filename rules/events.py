"""AlertEvent: the contract between the stream and the notifiers, one per transition.

Its ``key`` names the transition (fingerprint, state, severity, event time), so a transition
that at-least-once delivery produces twice is recognised as the same one downstream.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from envalert.core.contract import CHINA_STANDARD_TIME, METRICS
from envalert.core.stations import Station
from rules.evaluator import Transition
from rules.fleet import CITY
from rules.model import FleetRule, Role, Rule, Severity

CITY_BUREAU = "市生态环境局"
WATER_BUREAU = "市水利局"

SEVERITY_ZH = {Severity.WARNING: "预警", Severity.CRITICAL: "严重"}
STATE_ZH = {"pending": "待确认", "firing": "告警", "resolved": "已解除"}
#: Units that are words, in Chinese; symbols (mg/m³, dB(A), %) read the same in both.
UNIT_ZH = {"readings": "个读数", "min": "分钟", "days": "天"}
#: Each language's words for those units.
UNIT_WORDS = {"zh": UNIT_ZH, "en": {}}


class AlertEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    fingerprint: str
    key: str
    rule: str
    subject: str
    subject_kind: Literal["station", "district", "city"]
    state: Literal["pending", "firing", "resolved"]
    severity: Severity | None
    value: float
    threshold: float
    unit: str
    window: str
    window_zh: str
    event_time: datetime
    started_at: datetime
    district: str | None
    station_name: str | None
    source: str
    units: list[str]
    title_zh: str
    title_en: str
    message_zh: str
    message_en: str


def value_unit(rule: Rule | FleetRule) -> str:
    """The unit of the value a rule judges, for people reading the alert."""
    compute = rule.compute
    match compute.function:
        case "outside_instrument_range":
            return ""  # 1 or 0, whatever the metric
        case "silence" | "flagged_minutes":
            return "min"
        case "repeats":
            return "readings"
        case "lacking_hours":
            return "h"
        case "heavy_day_budget" | "night_compliance":
            return "%"
        case "projected_good_days":
            return "days"
        case "ytd_mean":
            return "µg/m³"
    assert isinstance(rule, Rule)
    metric = getattr(compute, "metric", None)  # an AQI has none; a night's Leq is of laeq
    unit = METRICS[rule.applies_to.kinds[0]][metric].unit if metric else ""
    return f"{unit}/day" if compute.function == "rate_per_day" else unit


def responsible_units(roles: list[Role], district: str | None, station: Station | None) -> list[str]:
    """The units the plan makes responsible, by name; the notifiers' directory knows their contacts."""
    names: list[str] = []
    for role in roles:
        match role:
            case Role.DISTRICT if district:
                names.append(district)
            case Role.DISTRICT_BRANCH if district:
                names.append(f"{CITY_BUREAU}{district}分局")
            case Role.CITY_BUREAU:
                names.append(CITY_BUREAU)
            case Role.WATER_BUREAU:
                names.append(WATER_BUREAU)
            case Role.OPERATOR if station and station.operator:
                names.append(station.operator)
    return list(dict.fromkeys(names))


def number(value: float) -> str:
    """A reading or a limit as people read it: four significant digits, whole above 10,000."""
    return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"


def measured(value: float, unit: str, language: Literal["zh", "en"]) -> str:
    """A value with its unit, in the words of ``language``."""
    return f"{number(value)} {UNIT_WORDS[language].get(unit, unit)}".strip()


def reading_against_threshold(event: AlertEvent, language: Literal["zh", "en"]) -> str:
    """What an alert read against its threshold, as the board lists it: ``6 / 5 mg/m³``."""
    return f"{number(event.value)} / {measured(event.threshold, event.unit, language)}"


def beijing(moment: datetime) -> str:
    """A moment to the minute, in Beijing time, as every alert and notice gives it."""
    return f"{moment.astimezone(CHINA_STANDARD_TIME):%m-%d %H:%M}"


def alert_event(transition: Transition, rule: Rule | FleetRule, station: Station | None) -> AlertEvent:
    """Dress a transition for people: who is responsible, and what to tell them in zh and en."""
    district = station.district if station else (None if transition.subject == CITY else transition.subject)
    kind: Literal["station", "district", "city"] = (
        "station" if station else "city" if transition.subject == CITY else "district"
    )
    unit = value_unit(rule)
    where_zh = f"{station.name}（{station.district}）" if station else transition.subject
    where_en = f"{station.name} ({station.district}, {station.id})" if station else transition.subject
    since = beijing(transition.started_at)
    shown, limit = measured(transition.value, unit, "en"), measured(transition.threshold, unit, "en")
    shown_zh, limit_zh = measured(transition.value, unit, "zh"), measured(transition.threshold, unit, "zh")
    label_zh = STATE_ZH[transition.state] + (
        f"·{SEVERITY_ZH[transition.severity]}"
        if transition.severity and transition.state != "resolved"
        else ""
    )
    label_en = transition.state + (
        f" {transition.severity.value}" if transition.severity and transition.state != "resolved" else ""
    )
    message_zh = (
        f"【{label_zh}】{where_zh} {rule.title.zh}：{transition.window_zh} {shown_zh}，阈值 {limit_zh}，"
        f"自 {since} 起。依据：{rule.source}"
    )
    message_en = (
        f"[{label_en}] {where_en} {rule.title.en}: {transition.window} {shown}, threshold {limit}, "
        f"since {since} (Beijing time). Source: {rule.source}"
    )
    severity = transition.severity.value if transition.severity else "none"
    return AlertEvent(
        fingerprint=transition.fingerprint,
        key=f"{transition.fingerprint}/{transition.state}/{severity}/{transition.at.isoformat()}",
        rule=rule.id,
        subject=transition.subject,
        subject_kind=kind,
        state=transition.state,
        severity=transition.severity,
        value=transition.value,
        threshold=transition.threshold,
        unit=unit,
        window=transition.window,
        window_zh=transition.window_zh,
        event_time=transition.at,
        started_at=transition.started_at,
        district=district,
        station_name=station.name if station else None,
        source=rule.source,
        units=responsible_units(rule.notify, district, station),
        title_zh=rule.title.zh,
        title_en=rule.title.en,
        message_zh=message_zh,
        message_en=message_en,
    )
