"""HJ 212-2017 data segments: ``QN=…;ST=…;CN=…;PW=…;MN=…;Flag=…;CP=&&…&&``.

``parse_segment`` reads one into a ``Packet`` or raises ``PacketError`` (our own, with a reason
code), whatever bytes it is given; ``Packet.segment`` writes one back, so the two round-trip
(for a packet whose CP names each key once). A message too long for one packet comes in parts,
each with PNUM (how many) and PNO (which one); ``joined`` puts them back together.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime

from envalert.core.contract import CHINA_STANDARD_TIME

#: HJ 212 times are local (Beijing) time, to the second; QN to the millisecond.
TIME_FORMAT = "%Y%m%d%H%M%S"
HEADER_FIELDS = ("QN", "PNUM", "PNO", "ST", "CN", "PW", "MN", "Flag")
#: The most parts a split message may have: a data logger's message is a few packets at most,
#: and the gateway holds the parts until the last comes.
MAX_PARTS = 64
REQUIRED = ("ST", "CN", "PW", "MN")
#: Answers a station may ask for (Flag bit 0) and the answer's CN.
DATA_ANSWER, NOTIFICATION_ANSWER = "9014", "9013"


class PacketError(ValueError):
    """A data segment that is not HJ 212-2017; ``reason`` is a stable code for logs and counts."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Packet:
    st: str
    cn: str
    pw: str
    mn: str
    qn: str | None = None
    flag: int | None = None
    #: A part of a split message: how many parts, and which this is (from 1).
    pnum: int | None = None
    pno: int | None = None
    #: Per factor code (a34004 …), its fields (Rtd, Avg, Min, Max, Cou, Flag, SampleTime …).
    factors: dict[str, dict[str, str]] = field(default_factory=dict)
    #: The CP's other fields (DataTime, RtdInterval, QnRtn, ExeRtn …), in order.
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def wants_answer(self) -> bool:
        """Flag bit 0: the station asks for an answer."""
        return self.flag is not None and self.flag & 1 == 1

    @property
    def data_time(self) -> datetime | None:
        return parse_time(self.fields["DataTime"]) if "DataTime" in self.fields else None

    def segment(self) -> str:
        header = {
            "QN": self.qn,
            "PNUM": None if self.pnum is None else str(self.pnum),
            "PNO": None if self.pno is None else str(self.pno),
            "ST": self.st,
            "CN": self.cn,
            "PW": self.pw,
            "MN": self.mn,
        }
        if self.flag is not None:
            header["Flag"] = str(self.flag)
        parts = [f"{name}={value}" for name, value in header.items() if value is not None]
        groups = [f"{name}={value}" for name, value in self.fields.items()]
        groups += [
            ",".join(f"{code}-{name}={value}" for name, value in values.items())
            for code, values in self.factors.items()
        ]
        return ";".join(parts) + ";CP=&&" + ";".join(groups) + "&&"


def parse_time(text: str) -> datetime:
    """HJ 212's yyyyMMddHHmmss, exactly 14 digits: strptime alone would take 12 or 13 and read a
    shifted time (``202611281015`` as 10:01:05)."""
    # A parsed segment is ASCII, so isdigit() means 0-9 here.
    if len(text) == len("yyyyMMddHHmmss") and text.isdigit():
        with suppress(ValueError):
            return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=CHINA_STANDARD_TIME)
    raise PacketError("bad_time", f"{text!r} is not a time as yyyyMMddHHmmss (14 digits)")


def parse_segment(segment: bytes) -> Packet:
    try:
        text = segment.decode("ascii")
    except UnicodeDecodeError as error:
        raise PacketError("not_ascii", f"byte {error.start} is not ASCII") from None
    head, marker, rest = text.partition("CP=&&")
    if not marker:
        raise PacketError("no_cp", "the segment has no CP=&&…&& part")
    if not rest.endswith("&&"):
        raise PacketError("no_cp", "the CP part does not end with &&")
    header = _pairs([part for part in head.split(";") if part], "header")
    unknown = sorted(set(header) - set(HEADER_FIELDS))
    if unknown:
        raise PacketError("bad_header", f"unknown header field(s) {', '.join(unknown)}")
    missing = [name for name in REQUIRED if not header.get(name)]
    if missing:
        raise PacketError("bad_header", f"missing {', '.join(missing)}")
    flag = header.get("Flag")
    if flag is not None and not flag.isdigit():
        raise PacketError("bad_header", f"Flag={flag!r} is not a number")
    pnum, pno = _part_numbers(header)
    cn = header["CN"]
    # Information uploads repeat a group per pollutant (PolId=…): only data uploads, whose
    # values envalert takes, must name each key once.
    fields, factors = _cp(rest[:-2], once=cn.startswith("2"))
    return Packet(
        st=header["ST"],
        cn=cn,
        pw=header["PW"],
        mn=header["MN"],
        qn=header.get("QN"),
        flag=int(flag) if flag is not None else None,
        pnum=pnum,
        pno=pno,
        factors=factors,
        fields=fields,
    )


def _part_numbers(header: dict[str, str]) -> tuple[int | None, int | None]:
    pnum, pno = header.get("PNUM"), header.get("PNO")
    if pnum is None and pno is None:
        return None, None
    if pnum is None or pno is None:
        raise PacketError("bad_header", "PNUM and PNO come together: a part needs both")
    if not all(number.isascii() and number.isdigit() and len(number) <= 4 for number in (pnum, pno)):
        raise PacketError("bad_header", f"PNUM={pnum[:10]!r} and PNO={pno[:10]!r} must be numbers")
    if not 1 <= int(pno) <= int(pnum) <= MAX_PARTS:
        raise PacketError("bad_header", f"part {pno} of {pnum}: parts go from 1 to PNUM, at most {MAX_PARTS}")
    return int(pnum), int(pno)


def _cp(body: str, once: bool) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """The CP's plain fields and its factors' fields; a key met again is refused if ``once``,
    else the first is kept."""
    factors: dict[str, dict[str, str]] = {}
    fields: dict[str, str] = {}
    for group in body.split(";") if body else []:
        for name, value in _pairs(group.split(","), "CP").items():
            code, dash, part = name.partition("-")
            into = factors.setdefault(code, {}) if dash and code and part else fields
            key = part if into is not fields else name
            if key in into:
                if once:
                    raise PacketError("bad_field", f"CP field {name} appears twice")
                continue
            into[key] = value
    return fields, factors


def joined(parts: list[Packet]) -> Packet:
    """The message the parts of a split packet make, their CP fields together in PNO order. A
    field repeated alike in several parts (each part's DataTime) is taken once; one that differs,
    or parts that disagree on the command, are refused."""
    ordered = sorted(parts, key=lambda part: part.pno or 0)
    first = ordered[0]
    if stray := [
        part.pno for part in ordered if (part.st, part.cn, part.mn) != (first.st, first.cn, first.mn)
    ]:
        raise PacketError("bad_header", f"part(s) {stray} differ from part {first.pno} in ST, CN or MN")
    fields: dict[str, str] = {}
    factors: dict[str, dict[str, str]] = {}
    for part in ordered:
        _merge(fields, part.fields, part.pno, "")
        for code, values in part.factors.items():
            _merge(factors.setdefault(code, {}), values, part.pno, f"{code}-")
    return Packet(
        st=first.st,
        cn=first.cn,
        pw=first.pw,
        mn=first.mn,
        qn=first.qn,
        flag=first.flag,
        factors=factors,
        fields=fields,
    )


def _merge(into: dict[str, str], more: dict[str, str], pno: int | None, prefix: str) -> None:
    for name, value in more.items():
        if into.get(name, value) != value:
            raise PacketError("bad_field", f"CP field {prefix}{name} differs in part {pno}")
        into[name] = value


def _pairs(items: list[str], where: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in items:
        name, equals, value = item.partition("=")
        if not equals or not name:
            raise PacketError("bad_field", f"{where} item {item[:40]!r} is not NAME=VALUE")
        if name in found:
            raise PacketError("bad_field", f"{where} field {name} appears twice")
        found[name] = value
    return found


def answer(packet: Packet, cn: str) -> Packet:
    """Our answer to ``packet``: 9014 (data answer) or 9013 (notification answer). It carries the
    request's QN so the station can match it, ST=91 (system interaction) and Flag=4 (protocol
    version 2017, no answer wanted)."""
    return Packet(st="91", cn=cn, pw=packet.pw, mn=packet.mn, qn=packet.qn, flag=4)
