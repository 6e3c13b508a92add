"""A circuit breaker for the notifier's store: after a failure, wait before trying again.

A store that cannot be written (a full disk, a lock held elsewhere, a broken page) must stop the
notifier from acting on what it cannot record: a message sent and not recorded is due again at
once, and was sent hundreds of times a second before this breaker. Each failure doubles the
wait, up to a minute; the first success closes it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Breaker:
    def __init__(
        self,
        what: str,
        *,
        first: float = 1.0,
        most: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what, self._first, self._most, self._clock = what, first, most, clock
        self.failures = 0
        self._wait = 0.0
        self._until = 0.0
        #: The last failure, while the breaker is open: for the board and /metrics.
        self.last_error: str | None = None

    def allows(self) -> bool:
        return self._clock() >= self._until

    def failed(self, error: BaseException) -> float:
        """Open the breaker (or keep it open longer); returns the seconds until the next try."""
        self.failures += 1
        self._wait = min(self._most, self._wait * 2 if self._wait else self._first)
        self._until = self._clock() + self._wait
        self.last_error = f"{type(error).__name__}: {error}"
        log.error("%s failed (%s); trying again in %.0f s", self.what, self.last_error, self._wait)
        return self._wait

    def succeeded(self) -> None:
        if self.last_error is not None:
            log.warning("%s works again", self.what)
        self._wait, self._until, self.last_error = 0.0, 0.0, None
