"""Routing and timing policy: which units hear of an alert, on which channels, and how often.

An alert always goes to the units its rule names (``notify`` in the rule catalogue, already in
``AlertEvent.units``); routes add units by rule, severity and station attributes, the way an
Alertmanager routing tree adds receivers by label.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from fnmatch import fnmatchcase
from importlib.resources import files
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from envalert.core.config_files import ConfigError, load_yaml
from envalert.core.contract import Kind
from envalert.core.stations import NoiseZone, Station
from notifiers.directory import Directory
from rules.durations import Duration
from rules.events import AlertEvent, responsible_units
from rules.model import Role, Severity

SHIPPED = Path(str(files("notifiers") / "routing.yaml"))


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Match(Strict):
    """Every condition given must hold; a list means any of its values."""

    rule: list[str] | None = Field(None, description="rule ids, shell-style patterns: ammonia.*")
    severity: list[Severity] | None = None
    kind: list[Kind] | None = Field(None, description="kind of the alert's station")
    subject_kind: list[str] | None = Field(None, description="station, district or city")
    district: list[str] | None = None
    zone: list[NoiseZone] | None = None
    unit_type: list[str] | None = None

    def matches(self, event: AlertEvent, station: Station | None) -> bool:
        def within(allowed: Sequence[object] | None, value: object) -> bool:
            return allowed is None or value in allowed

        return (
            (self.rule is None or any(fnmatchcase(event.rule, pattern) for pattern in self.rule))
            and within(self.severity, event.severity)
            and within(self.subject_kind, event.subject_kind)
            and within(self.district, event.district)
            and within(self.kind, station.kind if station else None)
            and within(self.zone, station.zone if station else None)
            and within(self.unit_type, station.unit_type if station else None)
        )


class Route(Strict):
    match: Match
    notify: list[Role] = Field(default_factory=list, description="roles, resolved as rules resolve them")
    units: list[str] = Field(default_factory=list, description="units by name, from the directory")
    why: str = ""


class Timings(Strict):
    #: How long a unit's first alert waits for others to go out with it.
    group_wait: Duration = timedelta(seconds=30)
    #: The shortest gap between two notices to the same unit.
    group_interval: Duration = timedelta(minutes=5)
    #: A firing, unacknowledged alert is told again this often.
    repeat_interval: Duration = timedelta(hours=4)
    #: A critical alert unacknowledged this long goes to the unit's parent (and on up, as often).
    escalate_after: Duration = timedelta(minutes=30)


class Channels(Strict):
    """Which contact tags hear of what."""

    warning: list[str] = ["duty"]
    critical: list[str] = ["duty", "sms"]
    resolved: list[str] = ["duty"]
    escalation: list[str] = ["duty", "leader"]


class Routing(Strict):
    timings: Timings = Timings()
    channels: Channels = Channels()
    routes: list[Route] = Field(default_factory=list)

    def units_for(self, event: AlertEvent, station: Station | None) -> list[str]:
        names = list(event.units)
        for route in self.routes:
            if route.match.matches(event, station):
                names += responsible_units(route.notify, event.district, station) + route.units
        return list(dict.fromkeys(names))

    def check_against(self, directory: Directory, source: Path) -> None:
        for index, route in enumerate(self.routes):
            for name in route.units:
                if directory.find(name) is None:
                    raise ConfigError(
                        f"{source}: routes[{index}].units: {name!r} is not a unit of {directory.source}; "
                        "fix: use a unit name from the directory, or add the unit there"
                    )


def load_routing(path: Path = SHIPPED) -> Routing:
    return load_yaml(path, Routing)
