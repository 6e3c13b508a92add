"""The organisation directory: the units the plan names, who they answer to, and how to reach them.

Alerts name units (``AlertEvent.units``); this file knows each unit's contacts as apprise URLs
with tags (duty, leader, sms) and its parent, to whom an unacknowledged critical alert escalates.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from importlib.resources import files
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from envalert.core.config_files import ConfigError, load_yaml
from envalert.core.secrets import SecretMissingError, expand
from envalert.core.stations import Station
from notifiers.delivery import masked, usable
from rules.events import CITY_BUREAU, WATER_BUREAU, responsible_units
from rules.model import Role

SHIPPED = Path(str(files("notifiers") / "directory.yaml"))


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Contact(Strict):
    name: str = Field(description="what people call this channel, e.g. 值班邮箱")
    url: str = Field(min_length=3, description="apprise URL; ${VAR}, ${file:PATH} for secrets")
    tags: list[str] = Field(default=["duty"], min_length=1)
    #: short: one line per alert (SMS, chat); long: subject and a full body (mail, webhook).
    variant: Literal["short", "long"] = "long"
    language: Literal["zh", "en", "zh+en"] = "zh+en"


class Unit(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="ASCII id for URLs and the CLI")
    name: str = Field(min_length=1, description="the name alerts use, e.g. 金水区")
    kind: Literal["district", "city_bureau", "district_branch", "water_bureau", "enterprise", "monitoring"]
    parent: str | None = Field(None, description="id of the unit an unacknowledged alert escalates to")
    #: None: the directory's ``channels``, with {unit} replaced by this unit's id.
    contacts: list[Contact] | None = None


class DirectoryFile(Strict):
    channels: list[Contact] = Field(default_factory=list)
    units: list[Unit] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> DirectoryFile:
        ids = [unit.id for unit in self.units]
        names = [unit.name for unit in self.units]
        for label, values in (("id", ids), ("name", names)):
            doubles = sorted({value for value in values if values.count(value) > 1})
            if doubles:
                raise ValueError(f"unit {label}s must be unique; these appear twice: {', '.join(doubles)}")
        by_id = {unit.id: unit for unit in self.units}
        for unit in self.units:
            if unit.parent is not None and unit.parent not in by_id:
                raise ValueError(f"unit {unit.id}: parent {unit.parent!r} is not a unit id in this file")
            seen, step = {unit.id}, unit.parent
            while step is not None:
                if step in seen:
                    raise ValueError(f"unit {unit.id}: its parents go round in a circle through {step}")
                seen.add(step)
                step = by_id[step].parent
        for unit in self.units:
            names = [contact.name for contact in unit.contacts or []]
            if len(set(names)) < len(names):
                raise ValueError(f"unit {unit.id}: contact names must be unique within the unit")
        if not self.channels and any(unit.contacts is None for unit in self.units):
            raise ValueError("units without contacts need the default `channels`; add them")
        return self


class Directory:
    """The resolved directory: every unit with its own contacts, secrets filled in."""

    def __init__(self, units: Iterable[Unit], source: Path) -> None:
        self.source = source
        self._by_name = {unit.name: unit for unit in units}
        self._by_id = {unit.id: unit for unit in self._by_name.values()}

    def find(self, name_or_id: str) -> Unit | None:
        return self._by_name.get(name_or_id) or self._by_id.get(name_or_id)

    def units(self) -> list[Unit]:
        return list(self._by_name.values())

    def parent(self, name: str) -> Unit | None:
        unit = self._by_name.get(name)
        return self._by_id[unit.parent] if unit and unit.parent else None

    def check_covers(self, stations: Mapping[str, Station]) -> None:
        """Every unit an alert of these stations can name must be here: fail at start, not at 3 a.m."""
        needed = {CITY_BUREAU, WATER_BUREAU}
        for station in stations.values():
            needed.update(responsible_units(list(Role), station.district, station))
        missing = sorted(name for name in needed if name not in self._by_name)
        if missing:
            raise ConfigError(
                f"{self.source}: the station catalogue names units this directory lacks: "
                f"{', '.join(missing)}; fix: add a unit with each of these names to {self.source.name}"
            )


def _resolve(unit: Unit, channels: list[Contact], environ: Mapping[str, str], path: Path) -> Unit:
    own = unit.contacts is not None
    contacts = []
    for index, contact in enumerate(unit.contacts if unit.contacts is not None else channels):
        where = f"units[{unit.id}].contacts[{index}].url" if own else f"channels[{index}].url ({unit.id})"
        try:
            url = expand(contact.url.replace("{unit}", unit.id), environ, path.parent)
        except SecretMissingError as error:
            raise ConfigError(f"{path}: {where}: {error}") from None
        if not usable(url):
            raise ConfigError(
                f"{path}: {where}: apprise cannot use {masked(url)}; fix: write the URL as the channel's "
                "page at https://github.com/caronc/apprise/wiki describes (mail needs from= and to=)"
            )
        contacts.append(contact.model_copy(update={"url": url}))
    return unit.model_copy(update={"contacts": contacts})


def load_directory(path: Path = SHIPPED, environ: Mapping[str, str] | None = None) -> Directory:
    """Read and check the directory, with every secret resolved; ConfigError names file and field."""
    parsed = load_yaml(path, DirectoryFile)
    env = os.environ if environ is None else environ
    return Directory([_resolve(unit, parsed.channels, env, path) for unit in parsed.units], path)
