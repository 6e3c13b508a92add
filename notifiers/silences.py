"""Silences and acknowledgements, as people give them on the command line or the board.

A silence mutes every alert whose labels match all its matchers for a time range; an
acknowledgement says someone is on one alert's episode, which stops its repeats and escalation.
"""

from __future__ import annotations

from datetime import datetime
from fnmatch import fnmatchcase

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from envalert.core.stations import Station
from rules.events import AlertEvent

#: What a silence can match on.
LABELS = ("rule", "subject", "district", "severity", "kind", "subject_kind", "unit")


def labels(event: AlertEvent, station: Station | None) -> dict[str, str]:
    return {
        "rule": event.rule,
        "subject": event.subject,
        "district": event.district or "",
        "severity": event.severity.value if event.severity else "",
        "kind": station.kind.value if station else "",
        "subject_kind": event.subject_kind,
    }


class Silence(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    #: label → value or shell-style pattern (air.*); ``unit`` matches any unit the alert goes to.
    matchers: dict[str, str] = Field(min_length=1)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    created_by: str = Field(min_length=1)
    comment: str = Field(min_length=1, description="why: people reading the silence later need it")

    @field_validator("matchers")
    @classmethod
    def _known_labels(cls, matchers: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(matchers) - set(LABELS))
        if unknown:
            raise ValueError(f"unknown label(s) {', '.join(unknown)}; silences match on {', '.join(LABELS)}")
        return matchers

    @model_validator(mode="after")
    def _ordered(self) -> Silence:
        if self.ends_at < self.starts_at:
            raise ValueError("ends_at must come after starts_at")
        return self

    def ended(self, now: datetime) -> Silence:
        """This silence ended at ``now``: it mutes nothing from that instant (one not begun yet
        never mutes anything)."""
        return self.model_copy(update={"ends_at": max(now, self.starts_at)})

    def mutes(self, alert_labels: dict[str, str], units: list[str], now: datetime) -> bool:
        if not self.starts_at <= now < self.ends_at:
            return False
        for label, pattern in self.matchers.items():
            values = units if label == "unit" else [alert_labels.get(label, "")]
            if not any(fnmatchcase(value, pattern) for value in values):
                return False
        return True


class Acknowledgement(BaseModel):
    model_config = ConfigDict(frozen=True)

    fingerprint: str
    #: The episode acknowledged: a later episode of the same alert is not.
    started_at: AwareDatetime
    by: str = Field(min_length=1)
    at: AwareDatetime
    comment: str = ""
