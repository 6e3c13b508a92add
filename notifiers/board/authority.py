"""What a board user may change: the alerts and silences of the units they act for.

A user acts for units of the directory and for every unit below them (a district's branch, the
enterprises under it …); acting for 市生态环境局, the top of the escalation chain, is acting for
the whole city. A user may acknowledge an alert told to one of their units, and may silence only
what is confined to them: a named station of theirs (``subject``) or a district of theirs
(``district``), exactly, not by a pattern. Only the whole city may silence by pattern or by
``unit`` (which mutes an alert for every unit it goes to). Every silence is bounded by the user's
``max_silence``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from envalert.core.contract import Kind
from envalert.core.stations import Station
from notifiers.board.users import BoardUser
from notifiers.directory import Directory
from rules.durations import format_duration
from rules.events import CITY_BUREAU, WATER_BUREAU, responsible_units
from rules.model import Role

#: Characters that make a matcher a pattern (fnmatch's).
PATTERN = set("*?[")
#: The roles that tie a station to units of its own (the city-wide bureaus are every station's).
LOCAL_ROLES = [Role.DISTRICT, Role.DISTRICT_BRANCH, Role.OPERATOR]


class Authority:
    def __init__(self, directory: Directory, stations: Mapping[str, Station]) -> None:
        self.directory, self.stations = directory, stations

    def covered(self, user: BoardUser) -> set[str]:
        """The names of the units the user acts for: theirs and every unit below them."""
        roots = {unit.name for name in user.units if (unit := self.directory.find(name))}
        covered = set()
        for unit in self.directory.units():
            chain, parent = {unit.name}, self.directory.parent(unit.name)
            while parent is not None and parent.name not in chain:
                chain.add(parent.name)
                parent = self.directory.parent(parent.name)
            if chain & roots:
                covered.add(unit.name)
        return covered

    def whole_city(self, user: BoardUser) -> bool:
        return CITY_BUREAU in self.covered(user)

    def may_acknowledge(self, user: BoardUser, told: list[str]) -> str | None:
        """None if ``user`` may acknowledge an alert told to the units ``told``; else why not."""
        if set(told) & self.covered(user):
            return None
        return f"{user.name} acts for {'、'.join(user.units)}; this alert goes to {'、'.join(told)}"

    @staticmethod
    def too_long(user: BoardUser, lasting: timedelta) -> str | None:
        """None if ``user`` may set a silence this long; else why not."""
        if lasting > user.max_silence:
            return f"a silence by {user.name} lasts at most {format_duration(user.max_silence)}"
        return None

    def may_silence(self, user: BoardUser, matchers: Mapping[str, str]) -> str | None:
        """None if ``user`` may set (or end) a silence of ``matchers``; else why not."""
        if self.whole_city(user):
            return None
        covered = self.covered(user)
        subject, district = matchers.get("subject", ""), matchers.get("district", "")
        if "unit" not in matchers:
            if subject and not PATTERN & set(subject) and self._station_units(subject) & covered:
                return None
            if district and not PATTERN & set(district) and district in covered:
                return None
        return (
            f"{user.name} acts for {'、'.join(user.units)}: a silence must name one of their stations "
            "(subject) or districts (district) exactly, with no pattern and no unit"
        )

    def _station_units(self, station_id: str) -> set[str]:
        station = self.stations.get(station_id)
        if station is None:
            return set()
        units = set(responsible_units(LOCAL_ROLES, station.district, station))
        return units | ({WATER_BUREAU} if station.kind is Kind.GROUNDWATER else set())
