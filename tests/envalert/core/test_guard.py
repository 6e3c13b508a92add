"""Connection caps, sign-in lockouts and the log budget, on a clock the test turns."""

from __future__ import annotations

from envalert.core.guard import AddressGuard, GuardLimits, LogBudget


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
    failed = guard.lockout.failed
    assert [failed("a"), failed("a")] == [False, False]
    clock.now += 61  # the first two are forgotten
    assert [failed("a"), failed("a"), failed("a")] == [False, False, True]
    assert guard.admit("a") == "locked out for another 60 s after failed sign-ins"
    assert guard.admit("b") is None, "only that address"
    clock.now += 59.5
    assert guard.admit("a") is not None
    clock.now += 0.5
    assert guard.admit("a") is None, "the lockout ends"


def test_signing_in_forgets_an_address_s_failures() -> None:
    lockout = AddressGuard(LIMITS, Clock()).lockout
    lockout.failed("a"), lockout.failed("a")
    lockout.succeeded("a")
    assert [lockout.failed("a"), lockout.failed("a"), lockout.failed("a")] == [False, False, True]


def test_the_log_budget_allows_bursts_then_its_rate() -> None:
    clock = Clock()
    budget = LogBudget(rate=2, burst=3, clock=clock)
    assert [budget.allow() for _ in range(4)] == [True, True, True, False]
    clock.now += 0.5
    assert [budget.allow(), budget.allow()] == [True, False]
    clock.now += 100
    assert sum(budget.allow() for _ in range(10)) == 3, "never more than the burst"
