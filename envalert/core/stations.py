"""The station catalogue: who each station is, where, and the attributes its limits depend on."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from envalert.core.config_files import load_yaml
from envalert.core.contract import Kind, StationId

#: The shipped catalogue, and every process's default: the 39 stations of Zhengzhou's networks that
#: the plan names (air, noise, groundwater, VOCs, ammonia slip), which the simulators also play.
DEFAULT_STATIONS = Path(__file__).with_name("stations.yaml")


class NoiseZone(StrEnum):
    """GB 3096-2008 acoustic functional zones."""

    Z0 = "0"
    Z1 = "1"
    Z2 = "2"
    Z3 = "3"
    Z4A = "4a"
    Z4B = "4b"


class Hj212Access(BaseModel):
    """How a station's HJ 212-2017 data logger identifies itself to the gateway."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mn: str = Field(min_length=1, max_length=24, description="the logger's MN (device number)")
    password: str = Field(min_length=1, description="its PW; may be ${VAR} or ${file:PATH}")


class Station(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: StationId
    kind: Kind
    name: str
    district: str = Field(description="responsible district or county, as named in 附件1")
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    zone: NoiseZone | None = Field(None, description="noise stations: functional zone")
    unit_type: Literal["SCR", "SNCR"] | None = Field(None, description="ammonia: denitration unit")
    sector: Literal["power", "cement"] = Field(
        "power",
        description="ammonia: the industry the unit serves, which sets its ammonia-slip limit: power "
        "(HJ 562-2010 SCR, HJ 563-2010 SNCR) or cement (GB 4915-2013)",
    )
    railway: Literal["new", "existing"] | None = Field(
        None,
        description="noise, zone 4b: the railway trunk line is new (its EIA approved from 2011-01-01: "
        "the 4b limits apply) or existing (the limits without trains, 70/55 dB(A)); GB 3096-2008",
    )
    operator: str | None = Field(None, description="the unit or enterprise that runs the station")
    warning_level: float | None = Field(None, description="groundwater: level (m) below which to warn")
    special_limits: bool = Field(
        False, description="special emission limits apply here: GB 37822-2019 (VOCs), GB 4915-2013 (cement)"
    )
    instrument_ranges: dict[str, tuple[float, float]] = Field(
        default_factory=dict, description="metric → (low, high) the instrument can measure"
    )
    hj212: Hj212Access | None = Field(None, description="stations that connect over HJ 212-2017")

    @model_validator(mode="after")
    def _railway_with_4b(self) -> Station:
        if self.zone is NoiseZone.Z4B and self.railway is None:
            raise ValueError(
                f"station {self.id} is in zone 4b: give railway: new (a trunk line whose EIA was "
                "approved from 2011-01-01, night limit 60 dB(A)) or existing (night limit 55 dB(A)), "
                "as GB 3096-2008 says"
            )
        if self.railway is not None and self.zone is not NoiseZone.Z4B:
            raise ValueError(f"station {self.id}: railway applies to zone 4b stations only")
        return self

    def tags(self) -> dict[str, str]:
        """InfluxDB tags besides the station id: what dashboards group and filter by."""
        tags = {"district": self.district}
        if self.zone:
            tags["zone"] = self.zone.value
        if self.unit_type:
            tags["unit_type"] = self.unit_type
        return tags


class StationCatalogue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stations: list[Station]

    @model_validator(mode="after")
    def _unique_ids(self) -> StationCatalogue:
        seen: set[str] = set()
        for station in self.stations:
            if station.id in seen:
                raise ValueError(f"station id {station.id!r} appears twice; ids must be unique")
            seen.add(station.id)
        return self

    def by_id(self) -> dict[str, Station]:
        return {station.id: station for station in self.stations}


def load_stations(path: Path) -> dict[str, Station]:
    return load_yaml(path, StationCatalogue).by_id()
