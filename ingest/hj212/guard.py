"""Who may hold a connection to the HJ 212 gateway, and how much of the log anyone may fill.

The gateway faces the network: an address may hold a few connections, all addresses together a
bounded number, and an address that keeps failing to sign in (wrong password, unknown MN) is
locked out for a while. A six-digit password then takes years to guess instead of 90 seconds.
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


class AddressGuard:
    def __init__(self, limits: GuardLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._open: Counter[str] = Counter()
        self._failures: dict[str, deque[float]] = {}
        self._locked_until: dict[str, float] = {}

    def admit(self, address: str) -> str | None:
        """Take a new connection from ``address``: None if it may stay, else why not (for the
        log). Each admitted connection is given back with ``release``."""
        now = self._clock()
        until = self._locked_until.get(address)
        if until is not None:
            if now < until:
                return f"locked out for another {until - now:.0f} s after failed sign-ins"
            del self._locked_until[address]
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

    def failed(self, address: str) -> bool:
        """Note a failed sign-in from ``address``; True if it now locks the address out."""
        now = self._clock()
        recent = self._failures.pop(address, deque())
        recent.append(now)
        while recent[0] <= now - self.limits.lockout_seconds:
            recent.popleft()
        if len(recent) >= self.limits.max_failures:
            self._locked_until[address] = now + self.limits.lockout_seconds
            _forget_oldest(self._locked_until)
            return True
        self._failures[address] = recent  # re-inserted: the dict stays in order of last failure
        _forget_oldest(self._failures)
        return False

    def signed_in(self, address: str) -> None:
        self._failures.pop(address, None)


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
