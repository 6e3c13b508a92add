"""Run an asyncio service until SIGINT or SIGTERM asks it to stop, as every envalert process does."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Awaitable, Callable


def run_until_signalled(serve: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """``serve(stop)`` gets an event that SIGINT or SIGTERM sets; it drains and returns."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await serve(stop)

    asyncio.run(main())


def wait_until_signalled() -> None:
    """Block until SIGINT (Ctrl-C) or SIGTERM: how a person stops a command left running."""
    stopped = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        with contextlib.suppress(KeyboardInterrupt):
            stopped.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)
