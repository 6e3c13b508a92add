"""Scenarios: episodes laid over the baseline, each meant to raise particular alerts.

A scenario is YAML (simulators/scenarios/*.yaml): when it starts, how long it runs, which
stations it touches and how, and which rules it is meant to fire (``expects``), so a test can
hold it to that. Effects change the baseline's readings: scale or shift a metric (with a ramp
up and down), hold a metric stuck, flag it (maintenance, calibration, over range), or drop
readings (a dropout, a station gone silent). An effect can be limited to hours of the day, such
as a night shift of a construction site.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from envalert.core.config_files import load_yaml
from envalert.core.contract import CHINA_STANDARD_TIME, Flag, Kind, Reading, StationId
from envalert.core.stations import Station
from rules.durations import Duration
from rules.model import Text
from simulators.generators import baseline

SHIPPED = Path(str(files("simulators") / "scenarios"))


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Effect(Strict):
    """Where and when: stations by id, kind or district (every condition given must hold)."""

    stations: list[StationId] | None = None
    kinds: list[Kind] | None = None
    districts: list[str] | None = None
    after: Duration = Field(description="from the scenario's start")
    lasting: Duration = Field(alias="for")
    #: Beijing-time hours [from, to) it applies in; [22, 6] is the night.
    hours: tuple[int, int] | None = None

    @model_validator(mode="after")
    def _aimed(self) -> Effect:
        if self.stations is None and self.kinds is None and self.districts is None:
            raise ValueError("say which stations: give stations, kinds or districts")
        return self

    def touches(self, station: Station) -> bool:
        return (
            (self.stations is None or station.id in self.stations)
            and (self.kinds is None or station.kind in self.kinds)
            and (self.districts is None or station.district in self.districts)
        )

    def weight(self, at: datetime, start: datetime, ramp: timedelta = timedelta(0)) -> float:
        """0 outside the effect, 1 in its full swing, in between on its ramps."""
        begin, end = start + self.after, start + self.after + self.lasting
        if not begin <= at < end or not self._in_hours(at):
            return 0.0
        if ramp <= timedelta(0):
            return 1.0
        return min(1.0, (at - begin) / ramp, (end - at) / ramp)

    def _in_hours(self, at: datetime) -> bool:
        if self.hours is None:
            return True
        hour, (first, last) = at.astimezone(CHINA_STANDARD_TIME).hour, self.hours
        return first <= hour < last if first < last else hour >= first or hour < last


class Scale(Effect):
    effect: Literal["scale"]
    metrics: list[str] = Field(min_length=1)
    factor: float = Field(gt=0)
    ramp: Duration = timedelta(0)


class Shift(Effect):
    effect: Literal["shift"]
    metrics: list[str] = Field(min_length=1)
    by: float
    ramp: Duration = timedelta(0)


class Stuck(Effect):
    """The analyser repeats its last good value."""

    effect: Literal["stuck"]
    metrics: list[str] = Field(min_length=1)


class Flagged(Effect):
    effect: Literal["flag"]
    metrics: list[str] = Field(min_length=1)
    flag: Flag


class Silent(Effect):
    """No readings at all: a dropout, a station gone silent."""

    effect: Literal["silence"]


Episode = Annotated[Scale | Shift | Stuck | Flagged | Silent, Field(discriminator="effect")]


class Scenario(Strict):
    name: str = Field(pattern=r"^[a-z0-9-]+$")
    title: Text
    start: AwareDatetime
    duration: Duration
    step: Duration = timedelta(minutes=10)
    seed: int = 2025
    #: The rules it is meant to fire, and no other.
    expects: list[str] = Field(min_length=1)
    episodes: list[Episode] = Field(min_length=1)

    def recent(self, now: datetime) -> Scenario:
        """The same scenario on the last days before today's midnight (Beijing time): whole days,
        so that its nights and afternoons fall as written."""
        midnight = now.astimezone(CHINA_STANDARD_TIME).replace(hour=0, minute=0, second=0, microsecond=0)
        return self.model_copy(update={"start": midnight - self.duration})

    def readings(self, stations: dict[str, Station]) -> list[Reading]:
        """The baseline of ``stations`` over the scenario, with its episodes laid over it."""
        plain = baseline(stations.values(), self.start, self.start + self.duration, self.step, self.seed)
        held: dict[tuple[str, str], float] = {}
        made = []
        for reading in plain:
            changed = self._apply(reading, stations[reading.station], held)
            if changed is not None:
                made.append(changed)
        return made

    def _apply(
        self, reading: Reading, station: Station, held: dict[tuple[str, str], float]
    ) -> Reading | None:
        values, flags = dict(reading.values), dict(reading.flags)
        for episode in self.episodes:
            if not episode.touches(station):
                continue
            ramp = getattr(episode, "ramp", timedelta(0))
            weight = episode.weight(reading.ts, self.start, ramp)
            if weight == 0:
                continue
            match episode:
                case Silent():
                    return None
                case Scale(metrics=metrics, factor=factor):
                    values.update({m: round(values[m] * (1 + (factor - 1) * weight), 3) for m in metrics})
                case Shift(metrics=metrics, by=by):
                    values.update({m: round(values[m] + by * weight, 3) for m in metrics})
                case Stuck(metrics=metrics):
                    values.update({m: held.setdefault((station.id, m), values[m]) for m in metrics})
                case Flagged(metrics=metrics, flag=flag):
                    flags.update({m: flag for m in metrics})
        return reading.model_copy(update={"values": values, "flags": flags})


def load_scenario(name_or_path: str, folder: Path = SHIPPED) -> Scenario:
    """A shipped scenario by name, or any scenario file by path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = folder / f"{name_or_path}.yaml"
    return load_yaml(path, Scenario)


def shipped() -> list[str]:
    return sorted(path.stem for path in SHIPPED.glob("*.yaml"))
