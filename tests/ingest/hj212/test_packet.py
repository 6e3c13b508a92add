"""HJ 212-2017 data segments: every command we take, the mapping to readings, and properties."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from envalert.core.contract import CHINA_STANDARD_TIME, Flag, Kind, Reading
from envalert.core.stations import Station
from ingest.hj212.mapping import DEFAULT_FACTORS, reading_of
from ingest.hj212.packet import MAX_PARTS, Packet, PacketError, answer, joined, parse_segment

SCR = Station(id="ZZ-NH3-T01", kind=Kind.AMMONIA, name="1号机组SCR出口", district="荥阳市", unit_type="SCR")
AIR = Station(id="ZZ-AIR-T01", kind=Kind.AIR, name="测试站", district="金水区")
HEAD = "QN=20261128101500123;ST={st};CN={cn};PW=123456;MN=ZZNH3T01;Flag=5;CP=&&"


def segment(cn: str, cp: str, st: str = "31") -> bytes:
    return (HEAD.format(st=st, cn=cn) + cp + "&&").encode()


def test_the_standards_example_segment() -> None:
    packet = parse_segment(
        b"QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&"
    )
    assert (packet.qn, packet.st, packet.cn, packet.pw, packet.mn, packet.flag) == (
        "20160801085857223", "32", "1062", "100000", "010000A8900016F000169DC0", 5,
    )  # fmt: skip
    assert packet.fields == {"RtdInterval": "30"} and packet.factors == {} and packet.wants_answer


def test_real_time_data_2011_gives_each_factors_rtd_and_flag() -> None:
    cp = "DataTime=20261128101500;a21001-Rtd=2.35,a21001-Flag=N;a99999-Rtd=1,a99999-Flag=N"
    packet = parse_segment(segment("2011", cp))
    assert packet.factors == {"a21001": {"Rtd": "2.35", "Flag": "N"}, "a99999": {"Rtd": "1", "Flag": "N"}}
    reading, notes = reading_of(packet, SCR, DEFAULT_FACTORS)
    assert reading is not None and reading.values == {"nh3": 2.35} and reading.flags == {}
    assert reading.ts == datetime(2026, 11, 28, 10, 15, tzinfo=CHINA_STANDARD_TIME)
    assert notes == ["factor a99999 is not a ammonia metric here (see ENVALERT_HJ212_FACTORS)"]


@pytest.mark.parametrize("cn", ["2051", "2061"])
def test_minute_and_hour_data_give_each_factors_average(cn: str) -> None:
    cp = (
        "DataTime=20261128100000;a34004-Min=30,a34004-Avg=41.5,a34004-Max=60,a34004-Flag=N;"
        "a05024-Avg=120,a05024-Flag=C;a21005-Avg=0.8,a21005-Cou=1.2"
    )
    reading, _ = reading_of(parse_segment(segment(cn, cp, st="22")), AIR, DEFAULT_FACTORS)
    assert reading is not None and reading.values == {"pm25": 41.5, "o3": 120.0, "co": 0.8}
    assert reading.flags == {"o3": Flag.CALIBRATION}, "only N data is judged; the flag travels with it"


def test_daily_data_notifications_and_answers_parse() -> None:
    assert parse_segment(segment("2031", "DataTime=20261127000000;a21001-Avg=1.1")).cn == "2031"
    assert parse_segment(segment("9013", "")).fields == {}
    assert parse_segment(segment("9014", "")).cn == "9014"
    assert (
        parse_segment(segment("2081", "DataTime=20261128101500;RestartTime=20261128080000")).fields[
            "RestartTime"
        ]
        == "20261128080000"
    )


def test_our_answers_carry_the_request_qn_and_ask_for_nothing() -> None:
    request = parse_segment(segment("2011", "DataTime=20261128101500;a21001-Rtd=2.35"))
    reply = answer(request, "9014")
    assert reply.segment() == "QN=20261128101500123;ST=91;CN=9014;PW=123456;MN=ZZNH3T01;Flag=4;CP=&&&&"
    assert not parse_segment(reply.segment().encode()).wants_answer


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"QN=1;ST=31;CN=2011;PW=1;MN=X;Flag=5", "no_cp: the segment has no CP=&&…&& part"),
        (b"QN=1;ST=31;CN=2011;PW=1;MN=X;CP=&&DataTime=1", "no_cp: the CP part does not end with &&"),
        (b"ST=31;CN=2011;PW=1;CP=&&&&", "bad_header: missing MN"),
        (b"ST=31;PW=1;CP=&&&&", "bad_header: missing CN, MN"),
        (b"ST=31;CN=2011;PW=1;MN=X;Oops=1;CP=&&&&", "bad_header: unknown header field(s) Oops"),
        (b"ST=31;CN=2011;PW=1;MN=X;Oops=1;Eek=2;CP=&&&&", "bad_header: unknown header field(s) Eek, Oops"),
        (b"ST=31;CN=2011;PW=1;MN=X;Oops;CP=&&&&", "bad_field: header item 'Oops' is not NAME=VALUE"),
        (b"ST=31;CN=2011;PW=1;MN=X;Flag=five;CP=&&&&", "bad_header: Flag='five' is not a number"),
        (b"ST=31;CN=2011;PW=1;MN=X;CP=&&a21001-Rtd&&", "bad_field: CP item 'a21001-Rtd' is not NAME=VALUE"),
        (b"ST=31;CN=2011;PW=1;MN=X;CP=&&a=1;a=2&&", "bad_field: CP field a appears twice"),
        # A name without "=" is shown cut to its first 40 characters.
        (
            b"ST=31;CN=2011;PW=1;MN=X;CP=&&" + b"x" * 41 + b"&&",
            f"bad_field: CP item '{'x' * 40}' is not NAME=VALUE",
        ),
        ("ST=31;CN=2011;PW=1;MN=站;CP=&&&&".encode(), "not_ascii: byte 22 is not ASCII"),
    ],
)
def test_malformed_segments_say_what_is_wrong(raw: bytes, error: str) -> None:
    with pytest.raises(PacketError) as failed:
        parse_segment(raw)
    assert str(failed.value) == error


@pytest.mark.parametrize(
    ("cp", "error"),
    [
        ("a21001-Rtd=2.3", "no_time: CN=2011 data without DataTime"),
        (
            "DataTime=2026-11-28;a21001-Rtd=2.3",
            "bad_time: '2026-11-28' is not a time as yyyyMMddHHmmss (14 digits)",
        ),
        # strptime takes 12 or 13 digits too, reading a shifted time: HJ 212's is exactly 14.
        (
            "DataTime=202611281015;a21001-Rtd=2.3",
            "bad_time: '202611281015' is not a time as yyyyMMddHHmmss (14 digits)",
        ),
        (
            "DataTime=2026112810150;a21001-Rtd=2.3",
            "bad_time: '2026112810150' is not a time as yyyyMMddHHmmss (14 digits)",
        ),
        (
            "DataTime=202611281015000;a21001-Rtd=2.3",
            "bad_time: '202611281015000' is not a time as yyyyMMddHHmmss (14 digits)",
        ),
        (
            "DataTime=20261328101500;a21001-Rtd=2.3",
            "bad_time: '20261328101500' is not a time as yyyyMMddHHmmss (14 digits)",
        ),
        ("DataTime=20261128101500;a21001-Rtd=high", "bad_value: a21001-Rtd='high' is not a number"),
        ("DataTime=20261128101500;a21001-Rtd=nan", "bad_value: a21001-Rtd='nan' is not a finite number"),
        (
            "DataTime=20261128101500;a21001-Rtd=2.3,a21001-Flag=Q",
            "bad_flag: a21001-Flag='Q' is not one of NFMSDCTB",
        ),
    ],
)
def test_unusable_data_says_what_is_wrong(cp: str, error: str) -> None:
    with pytest.raises(PacketError) as failed:
        reading_of(parse_segment(segment("2011", cp)), SCR, DEFAULT_FACTORS)
    assert str(failed.value) == error


TOKEN = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=";,=&-"), min_size=1, max_size=12
)


PACKETS = st.builds(
    Packet,
    st=TOKEN,
    cn=TOKEN,
    pw=TOKEN,
    mn=TOKEN,
    qn=st.none() | TOKEN,
    flag=st.none() | st.integers(0, 255),
    fields=st.dictionaries(TOKEN, TOKEN, max_size=4),
    factors=st.dictionaries(TOKEN, st.dictionaries(TOKEN, TOKEN, min_size=1, max_size=4), max_size=4),
)


@given(PACKETS)
def test_build_then_parse_gives_the_same_packet(packet: Packet) -> None:
    assert parse_segment(packet.segment().encode()) == packet


@st.composite
def segments(draw: st.DrawFn) -> tuple[bytes, Packet | None]:
    """Any bytes, or a packet's segment with a few bytes put in or cut out somewhere (or none):
    the bytes, and the packet when they are still exactly its segment."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=400)), None
    packet = draw(PACKETS)
    raw = packet.segment().encode()
    at, cut, junk = draw(st.integers(0, len(raw))), draw(st.integers(0, 3)), draw(st.binary(max_size=4))
    changed = raw[:at] + junk + raw[at + cut :]
    return changed, packet if changed == raw else None


@given(segments())
def test_any_bytes_parse_to_a_packet_that_says_the_same_again_or_raise_our_own_error(
    drawn: tuple[bytes, Packet | None],
) -> None:
    raw, intact = drawn
    try:
        packet = parse_segment(raw)
    except PacketError as error:
        assert intact is None, f"a well-formed segment was refused: {error}"
        assert error.reason.isidentifier() and error.detail, "a stable reason and what was wrong"
        return
    assert packet == intact if intact is not None else parse_segment(packet.segment().encode()) == packet


DATA_TIME = datetime(2026, 11, 28, 10, 15, tzinfo=CHINA_STANDARD_TIME)
#: Pieces of a CP field, well-formed and not, so that generated CPs often parse.
CP_PIECES = st.sampled_from(
    [
        "DataTime=20261128101500", "DataTime=2026112810150", "DataTime=20261332101500",
        "a21001-Rtd=2.5", "a21001-Rtd=-0.25", "a21001-Rtd=x", "a21001-Rtd=nan", "a21001-Rtd=",
        "a21001-Flag=N", "a21001-Flag=C", "a21001-Flag=Q", "a99999-Rtd=1", "a21001-Rtd=1,a21001-Flag=D",
        "=", ",", ";", "&&", "",
    ]
) | st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12)  # fmt: skip


@given(
    rtd=st.none() | st.floats(allow_nan=False, allow_infinity=False),
    flag=st.sampled_from([None, *Flag]),
    junk=st.lists(CP_PIECES, max_size=6).map(";".join),
)
def test_any_text_after_a_valid_header_gives_what_it_says_or_raises_our_own_error(
    rtd: float | None, flag: Flag | None, junk: str
) -> None:
    """A well-formed CP gives exactly its ammonia value, time and flag; with anything after it,
    a reading (when there is one) holds exactly what the packet says, and anything unusable is
    our own error."""
    parts = ([f"a21001-Rtd={rtd!r}"] if rtd is not None else []) + (
        [f"a21001-Flag={flag.value}"] if flag else []
    )
    cp = ";".join(
        [f"DataTime={DATA_TIME:%Y%m%d%H%M%S}"]
        + ([",".join(parts)] if parts else [])
        + ([junk] if junk else [])
    )
    try:
        packet = parse_segment(segment("2011", cp))
        reading, _ = reading_of(packet, SCR, DEFAULT_FACTORS)
    except PacketError as error:
        assert junk, f"a well-formed CP was refused: {error}"
        assert error.reason.isidentifier() and error.detail
        return
    if not junk:
        flags = {} if flag in (None, Flag.NORMAL) else {"nh3": flag}
        expected = (
            None
            if rtd is None
            else Reading(station=SCR.id, kind=SCR.kind, ts=DATA_TIME, values={"nh3": rtd}, flags=flags)
        )
        assert reading == expected
        return
    fields = packet.factors.get("a21001", {})
    if "Rtd" not in fields:
        assert reading is None
        return
    assert reading is not None and reading.ts == packet.data_time
    assert reading.values == {"nh3": float(fields["Rtd"])}
    assert reading.flags == ({} if fields.get("Flag", "N") == "N" else {"nh3": Flag(fields["Flag"])})


def test_split_packets_carry_their_number_and_count() -> None:
    """HJ 212-2017: a message too long for one packet is split, each part with PNUM (how many) and
    PNO (which), and Flag bit D set."""
    raw = b"QN=20261128101500000;PNUM=2;PNO=1;ST=31;CN=2051;PW=1;MN=X;Flag=7;CP=&&DataTime=20261128101500&&"
    packet = parse_segment(raw)
    assert (packet.pnum, packet.pno, packet.wants_answer) == (2, 1, True)
    assert packet.segment().encode() == raw


RANGE = "parts go from 1 to PNUM, at most 64"


@pytest.mark.parametrize(
    ("numbers", "error"),
    [
        ("PNUM=2;PNO=3", f"part 3 of 2: {RANGE}"),
        ("PNUM=0;PNO=0", f"part 0 of 0: {RANGE}"),
        ("PNUM=two;PNO=1", "PNUM='two' and PNO='1' must be numbers"),
        ("PNUM=2;PNO=" + "x" * 11, "PNUM='2' and PNO='xxxxxxxxxx' must be numbers"),
        ("PNUM=2", "PNUM and PNO come together: a part needs both"),
        ("PNO=1", "PNUM and PNO come together: a part needs both"),
        (f"PNUM={MAX_PARTS + 1};PNO=1", f"part 1 of 65: {RANGE}"),
        ("PNUM=10000;PNO=1", "PNUM='10000' and PNO='1' must be numbers"),
        ("PNUM=" + "9" * 5000 + ";PNO=1", "PNUM='9999999999' and PNO='1' must be numbers"),
    ],
)
def test_impossible_part_numbers_are_refused(numbers: str, error: str) -> None:
    with pytest.raises(PacketError) as failed:
        parse_segment(f"QN=1;{numbers};ST=31;CN=2051;PW=1;MN=X;Flag=7;CP=&&&&".encode())
    assert str(failed.value) == f"bad_header: {error}"


def test_part_numbers_of_four_digits_are_taken() -> None:
    packet = parse_segment(b"QN=1;PNUM=0064;PNO=0001;ST=31;CN=2051;PW=1;MN=X;Flag=7;CP=&&&&")
    assert (packet.pnum, packet.pno) == (64, 1)


def test_keys_may_repeat_across_groups_except_in_data_uploads() -> None:
    """Information uploads repeat a group per pollutant (PolId=…); a data upload names each value once."""
    info = parse_segment(
        b"ST=31;CN=3020;PW=1;MN=X;CP=&&DataTime=20261128101500;PolId=a21001;PolId=a24088,i13=1&&"
    )
    assert info.cn == "3020"
    assert info.fields == {"DataTime": "20261128101500", "PolId": "a21001", "i13": "1"}, "the first kept"
    with pytest.raises(PacketError) as twice:
        parse_segment(b"ST=31;CN=2051;PW=1;MN=X;CP=&&a21001-Avg=1;a21001-Avg=2&&")
    assert str(twice.value) == "bad_field: CP field a21001-Avg appears twice"
    with pytest.raises(PacketError) as twice:
        parse_segment(b"ST=31;CN=3020;PW=1;MN=X;CP=&&PolId=a21001,PolId=a24088&&")
    assert str(twice.value) == "bad_field: CP field PolId appears twice"


def test_a_value_may_hold_an_equals_sign_and_a_name_is_cut_at_its_first_dash() -> None:
    packet = parse_segment(b"ST=31;CN=3020;PW=1;MN=X;CP=&&Info=a=b;i13-Info-x=1&&")
    assert (packet.fields, packet.factors) == ({"Info": "a=b"}, {"i13": {"Info-x": "1"}})


def test_a_name_is_a_factors_only_with_a_code_before_its_dash_and_a_field_after_it() -> None:
    packet = parse_segment(b"ST=31;CN=3020;PW=1;MN=X;CP=&&-Rtd=5;a01001-=6;a01001-Rtd=7&&")
    assert (packet.fields, packet.factors) == ({"-Rtd": "5", "a01001-": "6"}, {"a01001": {"Rtd": "7"}})


def test_the_cp_part_begins_at_the_first_cp_marker() -> None:
    packet = parse_segment(b"ST=31;CN=3020;PW=1;MN=X;CP=&&Info=CP=&&&&")
    assert packet.fields == {"Info": "CP=&&"}


def test_the_parts_of_a_split_message_join_in_order() -> None:
    parts = [
        parse_segment(f"QN=7;PNUM=2;PNO={number};ST=31;CN=2051;PW=1;MN=X;Flag=7;CP=&&{cp}&&".encode())
        for number, cp in [(2, "a21001-Flag=N"), (1, "DataTime=20261128101500;a21001-Avg=2.2")]
    ]
    assert joined(parts) == Packet(
        st="31",
        cn="2051",
        pw="1",
        mn="X",
        qn="7",
        flag=7,
        fields={"DataTime": "20261128101500"},
        factors={"a21001": {"Avg": "2.2", "Flag": "N"}},
    ), "the first part's header, every part's fields, no part numbers"
    again = parse_segment(b"QN=7;PNUM=2;PNO=2;ST=31;CN=2051;PW=1;MN=X;Flag=7;CP=&&DataTime=20261128101500&&")
    assert joined([parts[1], again]).fields == {"DataTime": "20261128101500"}, "a field repeated alike"
    other = parse_segment(b"QN=7;PNUM=2;PNO=2;ST=31;CN=2051;PW=1;MN=X;Flag=7;CP=&&a21001-Avg=2.3&&")
    with pytest.raises(PacketError) as differs:
        joined([other, parts[1]])
    assert str(differs.value) == "bad_field: CP field a21001-Avg differs in part 2"
    late_time = parse_segment(
        b"QN=7;PNUM=2;PNO=2;ST=31;CN=2051;PW=1;MN=X;Flag=7;CP=&&DataTime=20261128101600&&"
    )
    with pytest.raises(PacketError) as differs:
        joined([late_time, parts[1]])
    assert str(differs.value) == "bad_field: CP field DataTime differs in part 2"
    stray = parse_segment(b"QN=7;PNUM=2;PNO=2;ST=31;CN=2061;PW=1;MN=X;Flag=7;CP=&&a21001-Flag=N&&")
    with pytest.raises(PacketError) as strays:
        joined([stray, parts[1]])
    assert str(strays.value) == "bad_header: part(s) [2] differ from part 1 in ST, CN or MN"


def test_each_factor_gives_its_commands_value_or_its_real_time_value_or_a_note() -> None:
    """Minute data without an Avg falls back to Rtd; a factor with neither, or one that is no
    metric of the station's kind, is noted and the factors after it are still read."""
    cp = "DataTime=20261128100000;a34004-Avg=40;a21001-Min=1,a21001-Max=3;a21001-Rtd=2.5"
    packet = parse_segment(segment("2051", cp.replace(";a21001-Rtd=2.5", "") + ";a05024-Avg=1"))
    reading, notes = reading_of(packet, SCR, DEFAULT_FACTORS)
    assert reading is None and notes == [
        "factor a34004 is not a ammonia metric here (see ENVALERT_HJ212_FACTORS)",
        "factor a21001 has no Avg value",
        "factor a05024 is not a ammonia metric here (see ENVALERT_HJ212_FACTORS)",
    ]
    only_rtd = parse_segment(segment("2051", "DataTime=20261128100000;a34004-Avg=40;a21001-Rtd=2.5"))
    reading, notes = reading_of(only_rtd, SCR, DEFAULT_FACTORS)
    assert reading is not None and reading.values == {"nh3": 2.5} and len(notes) == 1
