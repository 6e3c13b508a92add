"""From an HJ 212-2017 data packet to our reading: factor codes to metrics, the data flags, and
which value of each factor a command carries (real-time Rtd, or the period's Avg)."""

from __future__ import annotations

import math
from collections.abc import Mapping

from envalert.core.contract import METRICS, Flag, Reading
from envalert.core.stations import Station
from ingest.hj212.packet import Packet, PacketError

#: HJ 212-2017 factor codes (its appendix) → our metrics. ``ENVALERT_HJ212_FACTORS`` adds more.
DEFAULT_FACTORS: dict[str, str] = {
    "a34004": "pm25",
    "a34002": "pm10",
    "a21026": "so2",
    "a21004": "no2",
    "a21005": "co",
    "a05024": "o3",
    "a21001": "nh3",
    "a24088": "nmhc",
}
#: Data uploads and the field holding each factor's value: real-time, minute and hour data.
DATA_COMMANDS: dict[str, str] = {"2011": "Rtd", "2051": "Avg", "2061": "Avg"}
#: Uploads answered but not published: a daily summary of the minute and hour data envalert
#: already has (published, it would weigh a day's mean as one more reading), and equipment times.
UNPUBLISHED_UPLOADS: dict[str, str] = {
    "2031": "daily data",
    "2041": "equipment running time, daily",
    "2081": "data logger power-on time",
}


def reading_of(
    packet: Packet, station: Station, factors: Mapping[str, str]
) -> tuple[Reading | None, list[str]]:
    """The reading a data packet carries for ``station`` (None if it carries none of its metrics),
    and a note for each factor left out; PacketError when a value, flag or time is unusable."""
    part = DATA_COMMANDS[packet.cn]
    when = packet.data_time
    if when is None:
        raise PacketError("no_time", f"CN={packet.cn} data without DataTime")
    metrics = METRICS[station.kind]
    values: dict[str, float] = {}
    flags: dict[str, Flag] = {}
    notes: list[str] = []
    for code, fields in packet.factors.items():
        metric = factors.get(code)
        if metric is None or metric not in metrics:
            notes.append(
                f"factor {code} is not a {station.kind.value} metric here (see ENVALERT_HJ212_FACTORS)"
            )
            continue
        raw = fields.get(part, fields.get("Rtd"))
        if raw is None:
            notes.append(f"factor {code} has no {part} value")
            continue
        try:
            value = float(raw)
        except ValueError:
            raise PacketError("bad_value", f"{code}-{part}={raw!r} is not a number") from None
        if not math.isfinite(value):
            raise PacketError("bad_value", f"{code}-{part}={raw!r} is not a finite number")
        try:
            flag = Flag(fields.get("Flag", Flag.NORMAL.value))
        except ValueError:
            known = "".join(f.value for f in Flag)
            raise PacketError("bad_flag", f"{code}-Flag={fields['Flag']!r} is not one of {known}") from None
        values[metric] = value
        if flag is not Flag.NORMAL:
            flags[metric] = flag
    if not values:
        return None, notes
    return Reading(station=station.id, kind=station.kind, ts=when, values=values, flags=flags), notes
