"""Start the pipeline's own processes (bridge, worker, notifier) as children and know when they are ready."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

#: Each process's ``envalert`` command, and what it logs once it is ready for work.
COMMANDS = {"bridge": ["bridge"], "worker": ["worker"], "notifier": ["notify", "run"]}
READY_MARKERS = {"bridge": "subscribed to", "worker": "Worker ready", "notifier": "notifier ready"}


def count_marker(log: Path, name: str) -> int:
    try:
        return log.read_text(errors="replace").count(READY_MARKERS[name])
    except FileNotFoundError:
        return 0


def launch(name: str, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start ``envalert NAME`` with its output appended to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "envalert.command.cli", *COMMANDS[name]],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env if env is not None else dict(os.environ),
        )


def wait_ready(
    name: str, process: subprocess.Popen[bytes], log: Path, seen_before: int, timeout: float = 90
) -> None:
    """Wait until ``process`` logs its ready marker once more than ``seen_before`` times."""
    deadline = time.monotonic() + timeout
    while count_marker(log, name) <= seen_before:
        if process.poll() is not None:
            raise RuntimeError(f"the {name} exited with {process.returncode}; see {log}:\n{tail(log)}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the {name} was not ready after {timeout} s; see {log}:\n{tail(log)}")
        time.sleep(0.1)


def tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def stop(processes: list[subprocess.Popen[bytes]], timeout: float = 30) -> None:
    """SIGTERM, so each drains what it holds; SIGKILL whatever is still there after ``timeout``."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
