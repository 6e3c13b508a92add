"""HJ 212-2017 framing: ``##`` + 4-digit length + data segment + 4-hex-digit CRC + ``\r\n``.

The reader takes whatever TCP hands it (half a frame, three frames, garbage in between) and
returns each whole frame, or a problem saying what was wrong, and never raises: a stream keeps
going after a bad frame, so a good frame after it is never lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

HEADER = b"##"
TRAILER = b"\r\n"
#: HJ 212-2017 allows a data segment of up to 9999 bytes by its length field; real packets are
#: far shorter, so a smaller limit (a setting) catches a wrong length early.
LARGEST_SEGMENT = 9999

Problem = Literal["garbage", "bad_length", "oversized", "bad_crc"]


def crc(segment: bytes) -> int:
    """HJ 212-2017's CRC of a data segment (its appendix): CRC-16 with 0xA001, register 0xFFFF,
    each byte XORed into the register's low byte after shifting it right by 8."""
    register = 0xFFFF
    for byte in segment:
        register = (register >> 8) ^ byte
        for _ in range(8):
            carry = register & 1
            register >>= 1
            if carry:
                register ^= 0xA001
    return register


def build_frame(segment: str | bytes) -> bytes:
    data = segment.encode("ascii") if isinstance(segment, str) else segment
    if len(data) > LARGEST_SEGMENT:
        raise ValueError(f"a data segment has at most {LARGEST_SEGMENT} bytes, not {len(data)}")
    return HEADER + f"{len(data):04d}".encode() + data + f"{crc(data):04X}".encode() + TRAILER


@dataclass(frozen=True)
class Frame:
    segment: bytes
    crc_ok: bool
    #: The CRC the frame carried and the one its segment has: they differ when ``crc_ok`` is false.
    carried: str
    computed: str


@dataclass(frozen=True)
class FrameProblem:
    reason: Problem
    detail: str
    #: The bytes dropped because of it (at most the first 200, for the log).
    dropped: bytes


class FrameReader:
    """Cuts frames out of a byte stream, one connection's worth."""

    def __init__(self, max_segment: int = 4096) -> None:
        self.max_segment = min(max_segment, LARGEST_SEGMENT)
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Frame | FrameProblem]:
        self._buffer += data
        found: list[Frame | FrameProblem] = []
        while (item := self._next()) is not None:
            found.append(item)
        return found

    def pending(self) -> int:
        """Bytes held waiting for the rest of a frame."""
        return len(self._buffer)

    def _drop(self, count: int, reason: Problem, detail: str) -> FrameProblem:
        dropped = bytes(self._buffer[:count])
        del self._buffer[:count]
        return FrameProblem(reason, detail, dropped[:200])

    def _next(self) -> Frame | FrameProblem | None:
        buffer = self._buffer
        start = buffer.find(HEADER)
        if start < 0:
            keep = 1 if buffer.endswith(b"#") else 0  # perhaps the first half of a header
            garbage = len(buffer) - keep
            return self._drop(garbage, "garbage", f"{garbage} byte(s) outside any frame") if garbage else None
        if start > 0:
            return self._drop(start, "garbage", f"{start} byte(s) before a frame")
        if len(buffer) < 6:
            return None
        digits = bytes(buffer[2:6])
        if not digits.isdigit():
            return self._drop(2, "bad_length", f"the length field {digits!r} is not 4 decimal digits")
        length = int(digits)
        if length > self.max_segment:
            return self._drop(
                2, "oversized", f"a {length}-byte data segment is over the {self.max_segment} allowed"
            )
        end = 6 + length + 4
        # A segment is printable text: a line end before the frame's declared end means its
        # length is wrong, and what follows may be the next frame.
        early = buffer.find(TRAILER, 6, end)
        if early >= 0:
            return self._drop(
                early + 2, "bad_length", f"the frame ends {end - early} byte(s) before its length says"
            )
        if len(buffer) < end + 2:
            return None
        if buffer[end : end + 2] != TRAILER:
            return self._drop(2, "bad_length", f"no \\r\\n where a {length}-byte data segment ends")
        segment, carried = bytes(buffer[6 : 6 + length]), bytes(buffer[6 + length : end]).decode("latin-1")
        del buffer[: end + 2]
        computed = f"{crc(segment):04X}"
        return Frame(segment, carried.upper() == computed, carried, computed)
