"""A gateway connection's deadlines, and what of a frame may reach the log."""

from __future__ import annotations

import pytest

from ingest.hj212.gateway import Connection, redacted
from ingest.settings import GatewaySettings

SETTINGS = GatewaySettings(hj212_frame_seconds=60, hj212_idle_seconds=3900)


@pytest.mark.parametrize(
    ("signed_in_at", "frame_began", "pending", "due"),
    [
        (None, None, False, 1060),  # a new connection: its first frame within 60 s
        (None, 1050, True, 1060),
        (2000, None, False, 5900),  # signed in: idle until 3900 s after its last frame
        (2000, 2100, True, 2160),  # but a frame's bytes must all come within 60 s
        (2000, 2100, False, 5900),  # no bytes held: the frame's start no longer counts
    ],
)
def test_a_connection_s_deadline(
    signed_in_at: float | None, frame_began: float | None, pending: bool, due: float
) -> None:
    connection = Connection("p", "a", opened=1000, signed_in_at=signed_in_at, frame_began=frame_began)
    assert connection.deadline(SETTINGS, pending) == due


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("b'QN=1;ST=31;CN=2011;PW=123456;MN=X;'", "b'QN=1;ST=31;CN=2011;PW=***;MN=X;'"),
        ("b'QN=1;PW=12345", "b'QN=1;PW=***"),
        ("b'PW=abc&&'", "b'PW=***&&'"),
    ],
)
def test_a_password_never_reaches_the_log(text: str, shown: str) -> None:
    assert redacted(text) == shown
