"""Concentration limits: GB 3095-2012 (ambient air, class II), HJ 562/563-2010 (ammonia slip),
GB 37822-2019 (NMHC at a plant's monitoring point).

Each limit knows whether the limit value itself still complies: GB limits are maxima ("≤"),
while the ammonia-slip specifications ask for less than the value ("<").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rules.standards.aqi import Averaging, Pollutant


@dataclass(frozen=True)
class Limit:
    value: float
    unit: str
    source: str
    #: True when a concentration equal to ``value`` already breaks the limit.
    value_breaks: bool = False

    def broken_by(self, concentration: float) -> bool:
        return concentration >= self.value if self.value_breaks else concentration > self.value


UG, MG = "µg/m³", "mg/m³"
GB3095 = "GB 3095-2012 class II"

#: GB 3095-2012 table 1, class II (residential, commercial, industrial and rural areas).
AMBIENT_CLASS_II: dict[tuple[Pollutant, Averaging], Limit] = {
    (Pollutant.SO2, Averaging.DAY): Limit(150, UG, GB3095),
    (Pollutant.SO2, Averaging.HOUR): Limit(500, UG, GB3095),
    (Pollutant.NO2, Averaging.DAY): Limit(80, UG, GB3095),
    (Pollutant.NO2, Averaging.HOUR): Limit(200, UG, GB3095),
    (Pollutant.CO, Averaging.DAY): Limit(4, MG, GB3095),
    (Pollutant.CO, Averaging.HOUR): Limit(10, MG, GB3095),
    (Pollutant.O3, Averaging.EIGHT_HOURS): Limit(160, UG, GB3095 + ", daily maximum 8 h mean"),
    (Pollutant.O3, Averaging.HOUR): Limit(200, UG, GB3095),
    (Pollutant.PM10, Averaging.DAY): Limit(150, UG, GB3095),
    (Pollutant.PM25, Averaging.DAY): Limit(75, UG, GB3095),
}
#: Annual means, GB 3095-2012 class II.
AMBIENT_ANNUAL: dict[Pollutant, Limit] = {
    Pollutant.SO2: Limit(60, UG, GB3095),
    Pollutant.NO2: Limit(40, UG, GB3095),
    Pollutant.PM10: Limit(70, UG, GB3095),
    Pollutant.PM25: Limit(35, UG, GB3095),
}

UnitType = Literal["SCR", "SNCR"]

#: Ammonia slip at the outlet of a denitration unit, mg/m³: "less than" the value.
AMMONIA_SLIP: dict[UnitType, Limit] = {
    "SCR": Limit(2.5, MG, "HJ 562-2010 (SCR)", value_breaks=True),
    "SNCR": Limit(8.0, MG, "HJ 563-2010 (SNCR)", value_breaks=True),
}

#: Ammonia at a cement kiln using ammonia or urea to remove NOx, mg/m³ (GB 4915-2013 tables 1
#: and 2): the general limit, and the special limit of key regions.
CEMENT_AMMONIA = Limit(10.0, MG, "GB 4915-2013 table 1 (cement kiln)")
CEMENT_AMMONIA_SPECIAL = Limit(8.0, MG, "GB 4915-2013 table 2 (cement kiln, special limit)")


def ammonia_slip(unit_type: UnitType, sector: str, special: bool) -> Limit:
    """The ammonia-slip limit of a denitration unit: by its sector, then its type."""
    if sector == "cement":
        return CEMENT_AMMONIA_SPECIAL if special else CEMENT_AMMONIA
    return AMMONIA_SLIP[unit_type]


GB37822 = "GB 37822-2019 appendix A"


def nmhc_limits(special: bool) -> tuple[Limit, Limit]:
    """(1 h mean, any single reading) NMHC limits at a plant's monitoring point, mg/m³.

    Special limits apply where the provincial government requires them (key regions).
    """
    if special:
        return Limit(6, MG, GB37822), Limit(20, MG, GB37822)
    return Limit(10, MG, GB37822), Limit(30, MG, GB37822)
