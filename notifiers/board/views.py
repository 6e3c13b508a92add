"""What the board shows, as pydantic models: the API's answers and the page's data are the same.

Built on demand from the notifier's state (alerts, acknowledgements, silences), the station
catalogue and what ``Live`` followed on Kafka; nothing here is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from envalert.core.stations import Station
from notifiers.board.live import Live
from notifiers.lifecycle import Tracked
from notifiers.silences import Acknowledgement, Silence
from notifiers.store import Store
from rules.events import AlertEvent, reading_against_threshold
from rules.fleet import threshold_for
from rules.model import Catalogue, HeavyDayBudget, NightCompliance, Severity
from rules.standards.aqi import Category

#: Rules about a station's data rather than the environment: they set its health.
SILENT_RULE = "dq.silent"
DATA_QUALITY_PREFIX = "dq."


class Acknowledged(BaseModel):
    by: str
    at: datetime
    comment: str


class BoardAlert(BaseModel):
    """A firing alert as the monitoring centre sees it."""

    fingerprint: str
    rule: str
    title_zh: str
    title_en: str
    message_zh: str
    message_en: str
    severity: Severity | None
    subject: str
    subject_kind: Literal["station", "district", "city"]
    station_name: str | None
    district: str | None
    kind: str
    value: float
    threshold: float
    unit: str
    #: The value against the threshold, worded as in the alert's messages and the notices.
    reading_zh: str
    reading_en: str
    window: str
    window_zh: str
    since: datetime
    updated: datetime
    units: list[str]
    escalated_to: list[str]
    acknowledged: Acknowledged | None
    silenced_by: list[str]


class StationHealth(BaseModel):
    id: str
    name: str
    kind: str
    district: str
    #: Event time of its latest reading the board has seen (since its start, see Live).
    last_seen: datetime | None
    status: Literal["ok", "silent", "flagged", "unseen"]
    #: Its firing data-quality rules.
    problems: list[str]


class CityFigures(BaseModel):
    """The plan's city figures: the current AQI, and the year against its two targets."""

    aqi: int | None = None
    aqi_hour: datetime | None = None
    category_zh: str | None = None
    category_en: str | None = None
    level: str | None = None
    primary: str | None = None
    heavy_days: int | None = None
    days: int | None = None
    heavy_budget_used_pct: float | None = None
    heavy_days_target_pct: float
    night_compliance_pct: float | None = None
    night_compliance_nights: int | None = None
    night_compliance_target_pct: float
    #: Set when the latest hour had too little data for an AQI: the pollutants that lacked it.
    aqi_lacking: str | None = None


class Counts(BaseModel):
    firing: int
    critical: int
    warning: int
    acknowledged: int
    silenced: int


class Snapshot(BaseModel):
    generated_at: datetime
    counts: Counts
    alerts: list[BoardAlert]
    stations: list[StationHealth]
    city: CityFigures
    silences: list[Silence]
    feed: list[AlertEvent]
    #: Every unit of the directory, id → name: messages link to the board by unit id.
    units: dict[str, str]


@dataclass(frozen=True)
class PlanTargets:
    """The two plan targets the board measures the year against, read from the rule catalogue."""

    heavy_days_pct: float
    night_compliance_pct: float

    @classmethod
    def of(cls, catalogue: Catalogue) -> PlanTargets:
        heavy, night = 1.4, 85.0
        for rule in catalogue.fleet_rules:
            if isinstance(rule.compute, HeavyDayBudget):
                heavy = round(rule.compute.share * 100, 9)
            if isinstance(rule.compute, NightCompliance):
                night = threshold_for(rule.condition.warning, "") or night
        return cls(heavy, night)


def board_alert(
    tracked: Tracked, ack: Acknowledgement | None, silences: list[Silence], now: datetime
) -> BoardAlert:
    event = tracked.event
    return BoardAlert(
        fingerprint=event.fingerprint,
        rule=event.rule,
        title_zh=event.title_zh,
        title_en=event.title_en,
        message_zh=event.message_zh,
        message_en=event.message_en,
        severity=event.severity,
        subject=event.subject,
        subject_kind=event.subject_kind,
        station_name=event.station_name,
        district=event.district,
        kind=tracked.labels.get("kind", ""),
        value=event.value,
        threshold=event.threshold,
        unit=event.unit,
        reading_zh=reading_against_threshold(event, "zh"),
        reading_en=reading_against_threshold(event, "en"),
        window=event.window,
        window_zh=event.window_zh,
        since=event.started_at,
        updated=event.event_time,
        units=tracked.units,
        escalated_to=sorted(tracked.escalated),
        acknowledged=Acknowledged(by=ack.by, at=ack.at, comment=ack.comment) if ack else None,
        silenced_by=[s.id for s in silences if s.mutes(tracked.labels, tracked.units, now)],
    )


def firing_alerts(alerts: Mapping[str, Tracked], store: Store, now: datetime) -> list[BoardAlert]:
    """Every firing alert: critical first, then those nobody took on, then the newest."""
    acks = {(ack.fingerprint, ack.started_at): ack for ack in store.acks()}
    silences = store.silences(now)
    shown = [
        board_alert(tracked, acks.get((tracked.event.fingerprint, tracked.event.started_at)), silences, now)
        for tracked in alerts.values()
        if tracked.event.state == "firing"
    ]
    shown.sort(key=lambda a: a.since, reverse=True)
    shown.sort(key=lambda a: (a.severity != Severity.CRITICAL, a.acknowledged is not None))
    return shown


def station_health(
    stations: Mapping[str, Station], alerts: list[BoardAlert], live: Live
) -> list[StationHealth]:
    problems: dict[str, list[str]] = {}
    for alert in alerts:
        if alert.subject_kind == "station" and alert.rule.startswith(DATA_QUALITY_PREFIX):
            problems.setdefault(alert.subject, []).append(alert.rule)
    health = []
    for station_id, station in sorted(stations.items()):
        found = sorted(problems.get(station_id, []))
        seen = live.last_seen.get(station_id)
        status: Literal["ok", "silent", "flagged", "unseen"] = (
            "silent" if SILENT_RULE in found else "flagged" if found else "ok" if seen else "unseen"
        )
        health.append(
            StationHealth(
                id=station_id,
                name=station.name,
                kind=station.kind.value,
                district=station.district,
                last_seen=seen,
                status=status,
                problems=found,
            )
        )
    return health


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def city_figures(live: Live, targets: PlanTargets) -> CityFigures:
    figures = CityFigures(
        heavy_days_target_pct=targets.heavy_days_pct, night_compliance_target_pct=targets.night_compliance_pct
    )
    hourly = live.city.get("aqi_hourly")
    if hourly and hourly.fields.get("valid") is False:
        figures.aqi_hour, figures.aqi_lacking = hourly.at, str(hourly.fields.get("lacking", ""))
    elif hourly and (index := _number(hourly.fields.get("aqi"))) is not None:
        category = Category.of(int(index))
        primary = hourly.fields.get("primary")
        figures.aqi, figures.aqi_hour = int(index), hourly.at
        figures.category_zh, figures.category_en, figures.level = category.zh, category.en, category.level
        figures.primary = str(primary) if primary else None
    progress = live.city.get("plan_progress")
    if progress:
        heavy, days = _number(progress.fields.get("heavy_days")), _number(progress.fields.get("days"))
        figures.heavy_days = int(heavy) if heavy is not None else None
        figures.days = int(days) if days is not None else None
        figures.heavy_budget_used_pct = _number(progress.fields.get("heavy_budget_used_pct"))
    noise = live.city.get("noise_compliance")
    if noise:
        figures.night_compliance_pct = _number(noise.fields.get("rolling_rate"))
        nights = _number(noise.fields.get("rolling_nights"))
        figures.night_compliance_nights = int(nights) if nights is not None else None
    return figures


def counts(alerts: list[BoardAlert]) -> Counts:
    return Counts(
        firing=len(alerts),
        critical=sum(a.severity == Severity.CRITICAL for a in alerts),
        warning=sum(a.severity == Severity.WARNING for a in alerts),
        acknowledged=sum(a.acknowledged is not None for a in alerts),
        silenced=sum(bool(a.silenced_by) for a in alerts),
    )
