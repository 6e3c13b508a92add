"""A sliding window's samples, (epoch ms, value) in time order, kept in two arrays.

A day of minute readings for an air station's 24 h and 8 h means is 1,920 samples. As a list
of tuples they took 220 KB of Python objects and 40 KB of the station's JSON row; in arrays
they take 31 KB, and the row holds them compressed in base64, some 6 KB: times as the steps
between them, which repeat, and values as they are. The row text is kept until the samples
change, so a tick, which changes no sample, costs no compression. Rows of the old form, a list
of pairs, are still read.
"""

from __future__ import annotations

import base64
import bisect
import itertools
import operator
import sys
import zlib
from array import array
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema


class Samples:
    __slots__ = ("_stored", "times", "values")
    __hash__ = None  # type: ignore[assignment]  # mutable: equal by content, not hashable

    def __init__(self, pairs: list[tuple[int, float]] | None = None) -> None:
        self.times = array("q", (at for at, _ in pairs or []))
        self.values = array("d", (value for _, value in pairs or []))
        #: The row text of these samples, until they change.
        self._stored: str | None = None

    def __len__(self) -> int:
        return len(self.times)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Samples) and (self.times, self.values) == (other.times, other.values)

    def __repr__(self) -> str:
        return f"Samples({list(zip(self.times, self.values, strict=True))!r})"

    def add(self, at: int, value: float) -> None:
        """Insert in time order; among samples of the same time, in order of value."""
        low, high = bisect.bisect_left(self.times, at), bisect.bisect_right(self.times, at)
        index = bisect.bisect_right(self.values, value, low, high)
        self.times.insert(index, at)
        self.values.insert(index, value)
        self._stored = None

    def drop_before(self, at: int, *, including: bool = False) -> None:
        """Forget the samples older than ``at`` (and at ``at`` too, if ``including``)."""
        cut = (bisect.bisect_right if including else bisect.bisect_left)(self.times, at)
        if cut:
            del self.times[:cut]
            del self.values[:cut]
            self._stored = None

    def dump(self) -> str:
        if self._stored is None:
            steps = self.times[:1] + array("q", map(operator.sub, self.times[1:], self.times[:-1]))
            raw = _little_endian(steps).tobytes() + _little_endian(self.values).tobytes()
            self._stored = base64.b64encode(zlib.compress(raw, 1)).decode() if raw else ""
        return self._stored

    @classmethod
    def parse(cls, stored: Any) -> Samples:
        if isinstance(stored, Samples):
            return stored
        if isinstance(stored, list):  # the old form: [[epoch ms, value], ...]
            return cls([(int(at), float(value)) for at, value in stored])
        if not isinstance(stored, str):
            raise ValueError(f"samples are a base64 string or a list of pairs, not {type(stored).__name__}")
        samples = cls()
        if stored:
            raw = zlib.decompress(base64.b64decode(stored))
            steps = array("q")
            steps.frombytes(raw[: len(raw) // 2])
            samples.values.frombytes(raw[len(raw) // 2 :])
            samples.times = array("q", itertools.accumulate(_little_endian(steps)))
            samples.values = _little_endian(samples.values)
        samples._stored = stored
        return samples

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls.parse, serialization=core_schema.plain_serializer_function_ser_schema(cls.dump)
        )


def _little_endian(numbers: array[Any]) -> array[Any]:
    """Rows are written little-endian, whatever the machine: there, a swapped copy."""
    if sys.byteorder == "little":
        return numbers
    swapped = array(numbers.typecode, numbers)
    swapped.byteswap()
    return swapped
