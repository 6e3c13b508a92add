"""HJ 212-2017 framing: the standard's example, and a stream cut anywhere, mixed with anything."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.hj212.frame import Frame, FrameProblem, FrameReader, build_frame, crc

EXAMPLE = (
    b"QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&"
)
EXAMPLE_FRAME = b"##0101" + EXAMPLE + b"1C80\r\n"
#: What a data segment is made of: printable ASCII (no line ends, no '#').
SEGMENT_TEXT = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="#"), max_size=300
)


def frames(items: list[Frame | FrameProblem]) -> list[bytes]:
    return [item.segment for item in items if isinstance(item, Frame)]


def problems(items: list[Frame | FrameProblem]) -> list[str]:
    return [item.reason for item in items if isinstance(item, FrameProblem)]


def test_the_standards_example_frame_carries_crc_1c80() -> None:
    assert crc(EXAMPLE) == 0x1C80
    assert build_frame(EXAMPLE) == EXAMPLE_FRAME
    [frame] = FrameReader().feed(EXAMPLE_FRAME)
    assert frame == Frame(EXAMPLE, True, "1C80", "1C80")


def test_a_frame_split_byte_by_byte_comes_out_once_whole() -> None:
    reader = FrameReader()
    found = [item for byte in EXAMPLE_FRAME for item in reader.feed(bytes([byte]))]
    assert frames(found) == [EXAMPLE] and problems(found) == [] and reader.pending() == 0


def test_several_frames_in_one_read_and_garbage_between_them() -> None:
    second = build_frame(b"ST=22;CN=2011;PW=1;MN=X;CP=&&&&")
    found = FrameReader().feed(b"\x00\xffnoise" + EXAMPLE_FRAME + b"AT+OK\r\n" + second + EXAMPLE_FRAME)
    assert frames(found) == [EXAMPLE, b"ST=22;CN=2011;PW=1;MN=X;CP=&&&&", EXAMPLE]
    assert problems(found) == ["garbage", "garbage"]


def test_a_crc_in_lower_case_hex_is_the_same_crc() -> None:
    [frame] = FrameReader().feed(EXAMPLE_FRAME.replace(b"1C80", b"1c80"))
    assert frame == Frame(EXAMPLE, True, "1c80", "1C80")


def test_a_wrong_crc_is_reported_with_both_values_and_the_frame_kept_for_the_caller_to_judge() -> None:
    [frame] = FrameReader().feed(EXAMPLE_FRAME.replace(b"1C80", b"1C81"))
    assert not frame.crc_ok and (frame.carried, frame.computed) == ("1C81", "1C80")


def test_wrong_lengths_and_oversized_frames_are_dropped_and_the_next_frame_still_found() -> None:
    too_short = b"##0050" + EXAMPLE + b"1C80\r\n"  # says 50, has 101: no \r\n after 50 + 4 bytes
    too_long = b"##0200" + EXAMPLE + b"1C80\r\n"  # says 200: ends early
    not_digits = b"##01x1" + EXAMPLE + b"1C80\r\n"
    oversized = b"##9000" + EXAMPLE + b"1C80\r\n"
    for bad, reason, detail, dropped in [
        (too_short, "bad_length", "no \\r\\n where a 50-byte data segment ends", b"##"),
        (too_long, "bad_length", "the frame ends 99 byte(s) before its length says", too_long),
        (not_digits, "bad_length", "the length field b'01x1' is not 4 decimal digits", b"##"),
        (oversized, "oversized", "a 9000-byte data segment is over the 4096 allowed", b"##"),
    ]:
        found = FrameReader(max_segment=4096).feed(bad + EXAMPLE_FRAME)
        assert frames(found) == [EXAMPLE], bad
        assert found[0] == FrameProblem(reason, detail, dropped)
        if dropped == b"##":  # the rest of the bad frame, up to the next, is garbage
            assert found[1] == FrameProblem("garbage", f"{len(bad) - 2} byte(s) before a frame", bad[2:])


def test_garbage_is_counted_whole_and_logged_up_to_200_bytes() -> None:
    [dropped, frame] = FrameReader().feed(b"x" * 300 + EXAMPLE_FRAME)
    assert (
        dropped == FrameProblem("garbage", "300 byte(s) before a frame", b"x" * 200)
        and frame.segment == EXAMPLE
    )
    reader = FrameReader()
    assert reader.feed(b"abc#") == [FrameProblem("garbage", "3 byte(s) outside any frame", b"abc")]
    assert reader.pending() == 1, "a '#' may begin a frame: it is kept"
    assert reader.feed(b"#") == [] and reader.pending() == 2


def test_a_segment_of_the_largest_length_is_framed_and_a_longer_one_refused() -> None:
    assert build_frame(b"x" * 9999).startswith(b"##9999")
    with pytest.raises(ValueError, match="a data segment has at most 9999 bytes, not 10000"):
        build_frame(b"x" * 10000)


@given(
    segments=st.lists(SEGMENT_TEXT, max_size=8),
    garbage=st.lists(st.binary(max_size=40).filter(lambda b: b"#" not in b), min_size=9, max_size=9),
    cuts=st.lists(st.integers(min_value=1, max_value=4000), max_size=30),
)
def test_any_stream_of_good_frames_and_garbage_cut_anywhere_gives_every_good_frame_in_order(
    segments: list[str], garbage: list[bytes], cuts: list[int]
) -> None:
    stream = b"".join(garbage[i] + build_frame(segment) for i, segment in enumerate(segments)) + garbage[-1]
    reader = FrameReader()
    found: list[Frame | FrameProblem] = []
    for start, end in zip([0, *sorted(cuts)], [*sorted(cuts), len(stream)], strict=True):
        found += reader.feed(stream[start:end])
    good = [item for item in found if isinstance(item, Frame)]
    assert [frame.segment.decode() for frame in good] == segments
    assert all(frame.crc_ok for frame in good)


@given(st.lists(st.binary(max_size=200), max_size=20))
def test_any_bytes_in_any_chunks_never_raise(chunks: list[bytes]) -> None:
    reader = FrameReader(max_segment=300)
    for chunk in chunks:
        for item in reader.feed(chunk):
            assert isinstance(item, Frame | FrameProblem)
    assert reader.pending() <= 300 + 12


def test_the_reader_takes_4096_bytes_unless_told_otherwise_and_never_more_than_9999() -> None:
    [frame] = FrameReader().feed(build_frame(b"x" * 4096))
    assert frame.segment == b"x" * 4096 and frame.crc_ok
    problem = FrameReader().feed(build_frame(b"x" * 4097))[0]
    assert problem == FrameProblem("oversized", "a 4097-byte data segment is over the 4096 allowed", b"##")
    assert FrameReader(max_segment=20_000).max_segment == 9999


def test_a_bad_length_field_is_refused_as_soon_as_its_four_bytes_are_in() -> None:
    assert FrameReader().feed(b"##abcd") == [
        FrameProblem("bad_length", "the length field b'abcd' is not 4 decimal digits", b"##"),
        FrameProblem("garbage", "4 byte(s) outside any frame", b"abcd"),
    ]


@pytest.mark.parametrize(
    ("bad", "detail"),
    [
        (b"##0050\r\n", "the frame ends 54 byte(s) before its length says"),
        (b"##0050ab\r\n", "the frame ends 52 byte(s) before its length says"),
    ],
)
def test_a_frame_ends_at_its_first_line_end_even_at_the_start_of_its_segment(bad: bytes, detail: str) -> None:
    found = FrameReader().feed(bad + b"cd\r\n" + EXAMPLE_FRAME)
    assert found[0] == FrameProblem("bad_length", detail, bad)
    assert frames(found) == [EXAMPLE]
