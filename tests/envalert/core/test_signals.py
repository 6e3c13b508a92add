"""Stopping on SIGINT or SIGTERM, in a process of its own so that a hang fails the test instead
of the run."""

from __future__ import annotations

import subprocess
import sys

import pytest

STOPPED_BY = """
import os, signal
from envalert.core.signals import stop_on_signal
before = signal.getsignal(signal.{name})
with stop_on_signal() as stopped:
    with stopped._cond:  # where a signal can find the main thread: inside the event's own wait
        os.kill(os.getpid(), signal.{name})
        for _ in range(10_000):
            pass
    assert stopped.wait(5), "the event was never set"
print("stopped", signal.getsignal(signal.{name}) is before)
"""


@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM"])
def test_a_signal_sets_the_event_even_while_the_main_thread_holds_its_lock(name: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", STOPPED_BY.format(name=name)],
        capture_output=True,
        text=True,
        timeout=15,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "stopped True", "set, and the previous handler back after the block"
