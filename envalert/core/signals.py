"""Run an asyncio service until SIGINT or SIGTERM asks it to stop, as every envalert process does."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
from collections.abc import Awaitable, Callable, Iterator

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def run_until_signalled(serve: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """``serve(stop)`` gets an event that SIGINT or SIGTERM sets; it drains and returns."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, stop.set)
        await serve(stop)

    asyncio.run(main())


@contextlib.contextmanager
def stop_on_signal() -> Iterator[threading.Event]:
    """An event that SIGINT (Ctrl-C) or SIGTERM sets while the block runs.

    Both handlers are set here rather than relying on KeyboardInterrupt: a process that a shell
    starts in the background inherits SIGINT ignored, and Python then raises nothing on it. The
    handler only writes to a pipe, and a thread sets the event: a handler runs on the main thread
    between any two of its bytecodes, and setting the event there could wait forever for the
    event's own lock, held by the main thread it interrupted inside ``wait``."""
    stopped = threading.Event()
    read_end, write_end = os.pipe()

    def relay() -> None:
        if os.read(read_end, 1):  # empty once the block has ended and closed the pipe
            stopped.set()

    relaying = threading.Thread(target=relay, name="stop-on-signal", daemon=True)
    relaying.start()
    previous = {
        signum: signal.signal(signum, lambda *_: os.write(write_end, b"!")) for signum in STOP_SIGNALS
    }
    try:
        yield stopped
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        os.close(write_end)
        relaying.join()
        os.close(read_end)


def wait_until_signalled() -> None:
    """Block until SIGINT (Ctrl-C) or SIGTERM: how a person stops a command left running."""
    with stop_on_signal() as stopped:
        stopped.wait()
