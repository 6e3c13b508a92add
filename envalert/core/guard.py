"""Defences of the ports that face the network (the HJ 212 gateway, the board): how many
connections an address may hold, lockouts for addresses that keep failing to sign in, and how
much of the log strangers may fill.

An address that keeps failing to sign in (a wrong password, an unknown MN, a wrong token) is
locked out for a while: a six-digit password then takes years to guess instead of 90 seconds.
Every table here is bounded, so a flood of addresses cannot grow it without limit.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: The most addresses whose recent failures are remembered; the oldest are forgotten first.
REMEMBERED_ADDRESSES = 100_000


@dataclass(frozen=True)
class GuardLimits:
    max_connections: int
    max_per_address: int
    #: Failed sign-ins from one address within ``lockout_seconds`` that lock it out.
    max_failures: int
    lockout_seconds: float


class Lockout:
    """Failed sign-ins by address: ``max_failures`` within ``seconds`` lock it out that long."""

    def __init__(
        self, max_failures: int, seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_failures, self.seconds, self._clock = max_failures, seconds, clock
        self._failures: dict[str, deque[float]] = {}
        self._locked_until: dict[str, float] = {}

    def remaining(self, address: str) -> float:
        """Seconds the address is still locked out for; 0 when it is not."""
        until = self._locked_until.get(address)
        if until is None:
            return 0.0
        left = until - self._clock()
        if left <= 0:
            del self._locked_until[address]
            return 0.0
        return left

    def failed(self, address: str) -> bool:
        """Note a failed sign-in from ``address``; True if it now locks the address out."""
        now = self._clock()
        recent = self._failures.pop(address, deque())
        recent.append(now)
        while recent[0] <= now - self.seconds:
            recent.popleft()
        if len(recent) >= self.max_failures:
            self._locked_until[address] = now + self.seconds
            _forget_oldest(self._locked_until)
            return True
        self._failures[address] = recent  # re-inserted: the dict stays in order of last failure
        _forget_oldest(self._failures)
        return False

    def succeeded(self, address: str) -> None:
        self._failures.pop(address, None)


class AddressGuard:
    """Connections per address and in all, and the lockout of addresses that fail to sign in."""

    def __init__(self, limits: GuardLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.lockout = Lockout(limits.max_failures, limits.lockout_seconds, clock)
        self._open: Counter[str] = Counter()

    def admit(self, address: str) -> str | None:
        """Take a new connection from ``address``: None if it may stay, else why not (for the
        log). Each admitted connection is given back with ``release``."""
        if left := self.lockout.remaining(address):
            return f"locked out for another {left:.0f} s after failed sign-ins"
        if self._open[address] >= self.limits.max_per_address:
            return f"it has {self._open[address]} open, at most {self.limits.max_per_address} per address"
        total = self._open.total()
        if total >= self.limits.max_connections:
            return f"{total} open, at most {self.limits.max_connections} in all"
        self._open[address] += 1
        return None

    def release(self, address: str) -> None:
        self._open[address] -= 1
        if self._open[address] <= 0:
            del self._open[address]


def _forget_oldest(table: dict[str, Any]) -> None:
    while len(table) > REMEMBERED_ADDRESSES:
        del table[next(iter(table))]


class LogBudget:
    """A token bucket for log lines that anyone on the network can cause: ``rate`` a second,
    bursts of ``burst``. What it refuses is counted by the caller and summed up later."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate, self._burst, self._clock = rate, burst, clock
        self._tokens = float(burst)
        self._at = clock()

    def allow(self) -> bool:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False
