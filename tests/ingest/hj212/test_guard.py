"""Connection caps, sign-in lockouts and the log budget, on a clock the test turns."""

from __future__ import annotations

import pytest

from ingest.hj212.gateway import Connection, redacted
from ingest.hj212.guard import AddressGuard, GuardLimits, LogBudget
from ingest.settings import GatewaySettings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


LIMITS = GuardLimits(max_connections=3, max_per_address=2, max_failures=3, lockout_seconds=60)


def test_connections_are_capped_per_address_and_in_all_and_given_back() -> None:
    guard = AddressGuard(LIMITS, Clock())
    assert [guard.admit("a"), guard.admit("a")] == [None, None]
    assert guard.admit("a") == "it has 2 open, at most 2 per address"
    assert guard.admit("b") is None
    assert guard.admit("c") == "3 open, at most 3 in all"
    guard.release("a")
    assert guard.admit("c") is None


def test_failures_within_the_window_lock_an_address_out_for_its_length() -> None:
    clock = Clock()
    guard = AddressGuard(LIMITS, clock)
    assert [guard.failed("a"), guard.failed("a")] == [False, False]
    clock.now += 61  # the first two are forgotten
    assert [guard.failed("a"), guard.failed("a"), guard.failed("a")] == [False, False, True]
    assert guard.admit("a") == "locked out for another 60 s after failed sign-ins"
    assert guard.admit("b") is None, "only that address"
    clock.now += 59.5
    assert guard.admit("a") is not None
    clock.now += 0.5
    assert guard.admit("a") is None, "the lockout ends"


def test_signing_in_forgets_an_address_s_failures() -> None:
    guard = AddressGuard(LIMITS, Clock())
    guard.failed("a"), guard.failed("a")
    guard.signed_in("a")
    assert [guard.failed("a"), guard.failed("a"), guard.failed("a")] == [False, False, True]


def test_the_log_budget_allows_bursts_then_its_rate() -> None:
    clock = Clock()
    budget = LogBudget(rate=2, burst=3, clock=clock)
    assert [budget.allow() for _ in range(4)] == [True, True, True, False]
    clock.now += 0.5
    assert [budget.allow(), budget.allow()] == [True, False]
    clock.now += 100
    assert sum(budget.allow() for _ in range(10)) == 3, "never more than the burst"


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
