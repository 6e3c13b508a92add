"""Durations as people write them in a catalogue: 90s, 15m, 1h, 24h, 7d."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")


def parse_duration(raw: object) -> timedelta:
    if isinstance(raw, timedelta):
        return raw
    match = _PATTERN.match(str(raw))
    if not match:
        raise ValueError(
            f"{raw!r} is not a duration: write a number and a unit s, m, h or d, e.g. 15m or 24h"
        )
    try:
        return timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    except OverflowError:
        raise ValueError(f"{raw!r} is longer than any duration this can hold") from None


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


Duration = Annotated[timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration)]
