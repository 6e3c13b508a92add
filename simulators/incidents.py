"""The demo's incidents, laid over the baseline: one rule family each (#6 brings scenario files)."""

from __future__ import annotations

from datetime import datetime, timedelta

from ingest.contract import Flag, Reading

#: The demo's incidents, one rule family each, all over well before the demo's readings end:
#: (station, first minute, last minute, metric, value, flag).
INCIDENTS: list[tuple[str, int, int, str, float, Flag | None]] = [
    ("ZZ-GW-JWT01", 5, 12, "level", 61.5, None),  # below the well's warning level 62.0
    ("ZZ-VOC-SJ01", 8, 8, "nmhc", 36.0, None),  # one NMHC reading above 30 mg/m³
    ("ZZ-AIR-JS01", 10, 10, "pm25", 48.0, Flag.OVER_RANGE),  # the analyser reports over its range
    ("ZZ-VOC-SJ01", 14, 27, "nmhc", 1.5, None),  # the analyser repeats itself: stuck
    ("ZZ-NOI-GC01", 16, 18, "lmax", 86.0, None),  # a pile driver; at night, sudden noise (55 + 15)
]


def with_incidents(readings: list[Reading], start: datetime, step: timedelta) -> list[Reading]:
    """``readings`` with the demo's incidents laid over them (#6 brings scenario files)."""
    changed = []
    for reading in readings:
        minute = (reading.ts - start) // step
        values, flags = dict(reading.values), dict(reading.flags)
        for station, first, last, metric, value, flag in INCIDENTS:
            if reading.station == station and first <= minute <= last:
                values[metric] = value
                if flag:
                    flags[metric] = flag
        changed.append(reading.model_copy(update={"values": values, "flags": flags}))
    return changed
