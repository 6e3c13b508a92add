"""Store batches of readings in InfluxDB, waiting out outages and isolating refused points.

``store`` returns only when every reading is either in InfluxDB or handed to ``on_refused``:
that is the moment the worker may let Kafka offsets advance.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from envalert.core.influx import InfluxRefusedError, InfluxUnavailableError, InfluxWriter

log = logging.getLogger(__name__)

Item = TypeVar("Item")


class RetryingSink:
    def __init__(self, writer: InfluxWriter, max_backoff: float) -> None:
        self.writer = writer
        self.max_backoff = max_backoff
        self.written = 0

    async def _until_available(self, action: Callable[[], Awaitable[None]], what: str) -> None:
        backoff, attempt, since = min(0.25, self.max_backoff), 0, time.monotonic()
        while True:
            try:
                await action()
            except InfluxUnavailableError as error:
                attempt += 1
                log.warning(
                    "InfluxDB unavailable for %s (attempt %d, %.0f s so far): %s; retrying in %.1f s",
                    what,
                    attempt,
                    time.monotonic() - since,
                    error,
                    backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            if attempt:
                log.info("InfluxDB is back after %.1f s; %s done", time.monotonic() - since, what)
            return

    async def prepare(self) -> None:
        await self._until_available(self.writer.prepare, f"preparing {self.writer.address}")

    async def store(
        self,
        items: Sequence[Item],
        line: Callable[[Item], str],
        on_refused: Callable[[Item, str], Awaitable[None]],
    ) -> None:
        """Write all items; a refused batch is split in halves until the bad items are found."""
        if not items:
            return
        lines = [line(item) for item in items]
        try:
            await self._until_available(lambda: self.writer.write(lines), f"a batch of {len(lines)} points")
            self.written += len(lines)
        except InfluxRefusedError as error:
            if len(items) == 1:
                log.error("InfluxDB refused a point, sent to the dead-letter topic: %s", error)
                await on_refused(items[0], str(error))
                return
            middle = len(items) // 2
            await self.store(items[:middle], line, on_refused)
            await self.store(items[middle:], line, on_refused)
