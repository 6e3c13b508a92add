"""A sliding window's samples, (epoch ms, value) in time order, kept in two arrays.

A day of minute readings for an air station's 24 h and 8 h means is 1,920 samples. As a list
of tuples they took 220 KB of Python objects and 40 KB of the station's JSON row; in arrays
they take 31 KB, and the row holds them compressed in base64, some 6 KB: times as the steps
between them, which repeat, and values as they are.

The row holds them in blocks of six hours of sample time, each compressed on its own, and a
block's text is kept until one of its samples changes. A reading changes the newest block and
the oldest (the window forgets its first samples), so it recompresses those two, not the day:
for an air station a day old, a reading's windows and row took 286 µs, 132 µs in blocks (of
three hours: 97 µs, but rows a tenth larger and slower to parse). A tick, which changes no
sample, costs no compression. Rows of the old forms, the samples in one block or a list of
pairs, are still read.
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

#: The span of sample time one block of a row holds.
BLOCK_MS = 6 * 3_600_000
#: Between a row's blocks; base64 never writes it.
BETWEEN_BLOCKS = ","


class Samples:
    __slots__ = ("_blocks", "times", "values")
    __hash__ = None  # type: ignore[assignment]  # mutable: equal by content, not hashable

    def __init__(self, pairs: list[tuple[int, float]] | None = None) -> None:
        self.times = array("q", (at for at, _ in pairs or []))
        self.values = array("d", (value for _, value in pairs or []))
        #: Each block's row text, by block (sample time // BLOCK_MS), until a sample in it changes.
        self._blocks: dict[int, str] = {}

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
        self._blocks.pop(at // BLOCK_MS, None)

    def drop_before(self, at: int, *, including: bool = False) -> None:
        """Forget the samples older than ``at`` (and at ``at`` too, if ``including``)."""
        cut = (bisect.bisect_right if including else bisect.bisect_left)(self.times, at)
        if cut:
            # The last sample forgotten: its block lost samples, and the blocks before it are gone.
            changed = self.times[cut - 1] // BLOCK_MS
            del self.times[:cut]
            del self.values[:cut]
            for block in [block for block in self._blocks if block <= changed]:
                del self._blocks[block]

    def dump(self) -> str:
        texts = []
        low = 0
        while low < len(self.times):
            block = self.times[low] // BLOCK_MS
            high = bisect.bisect_left(self.times, (block + 1) * BLOCK_MS, low)
            text = self._blocks.get(block)
            if text is None:
                text = self._blocks[block] = _encode(self.times[low:high], self.values[low:high])
            texts.append(text)
            low = high
        return BETWEEN_BLOCKS.join(texts)

    @classmethod
    def parse(cls, stored: Any) -> Samples:
        if isinstance(stored, Samples):
            return stored
        if isinstance(stored, list):  # the old form: [[epoch ms, value], ...]
            return cls([(int(at), float(value)) for at, value in stored])
        if not isinstance(stored, str):
            raise ValueError(f"samples are a base64 string or a list of pairs, not {type(stored).__name__}")
        samples = cls()
        for text in stored.split(BETWEEN_BLOCKS) if stored else []:
            times, values = _decode(text)
            if times and times[0] // BLOCK_MS == times[-1] // BLOCK_MS:  # not a day in one (old rows)
                samples._blocks[times[0] // BLOCK_MS] = text
            samples.times.extend(times)
            samples.values.extend(values)
        return samples

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls.parse, serialization=core_schema.plain_serializer_function_ser_schema(cls.dump)
        )


def _encode(times: array[int], values: array[float]) -> str:
    """Samples as text: the first time, then the steps between times, then the values."""
    steps = times[:1] + array("q", map(operator.sub, times[1:], times[:-1]))
    raw = _little_endian(steps).tobytes() + _little_endian(values).tobytes()
    return base64.b64encode(zlib.compress(raw, 1)).decode()


def _decode(text: str) -> tuple[array[int], array[float]]:
    raw = zlib.decompress(base64.b64decode(text))
    steps, values = array("q"), array("d")
    steps.frombytes(raw[: len(raw) // 2])
    values.frombytes(raw[len(raw) // 2 :])
    return array("q", itertools.accumulate(_little_endian(steps))), _little_endian(values)


def _little_endian(numbers: array[Any]) -> array[Any]:
    """Rows are written little-endian, whatever the machine: there, a swapped copy."""
    if sys.byteorder == "little":
        return numbers
    swapped = array(numbers.typecode, numbers)
    swapped.byteswap()
    return swapped
