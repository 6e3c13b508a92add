"""HJ 212-2017 data segments: ``QN=…;ST=…;CN=…;PW=…;MN=…;Flag=…;CP=&&…&&``.

``parse_segment`` reads one into a ``Packet`` or raises ``PacketError`` (our own, with a reason
code), whatever bytes it is given; ``Packet.segment`` writes one back, so the two round-trip.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ingest.contract import CHINA_STANDARD_TIME

#: HJ 212 times are local (Beijing) time, to the second; QN to the millisecond.
TIME_FORMAT = "%Y%m%d%H%M%S"
HEADER_FIELDS = ("QN", "ST", "CN", "PW", "MN", "Flag")
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
        header = {"QN": self.qn, "ST": self.st, "CN": self.cn, "PW": self.pw, "MN": self.mn}
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
    try:
        if len(text) != len("yyyyMMddHHmmss") or not text.isascii() or not text.isdigit():
            raise ValueError(text)
        return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=CHINA_STANDARD_TIME)
    except ValueError:
        raise PacketError("bad_time", f"{text!r} is not a time as yyyyMMddHHmmss (14 digits)") from None


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
    factors: dict[str, dict[str, str]] = {}
    fields: dict[str, str] = {}
    body = rest[:-2]
    for group in body.split(";") if body else []:
        for name, value in _pairs(group.split(","), "CP").items():
            code, dash, part = name.partition("-")
            into = factors.setdefault(code, {}) if dash and code and part else fields
            key = part if into is not fields else name
            if key in into:
                raise PacketError("bad_field", f"CP field {name} appears twice")
            into[key] = value
    return Packet(
        st=header["ST"],
        cn=header["CN"],
        pw=header["PW"],
        mn=header["MN"],
        qn=header.get("QN"),
        flag=int(flag) if flag is not None else None,
        factors=factors,
        fields=fields,
    )


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
