"""A process's memory and a folder's disk use, sampled through a run: do they level off?"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import mean


def memory_mb(pid: int, field: str = "VmRSS") -> float:
    """A process's memory figure from the kernel, in MB: ``VmRSS`` now, ``VmHWM`` its peak so far."""
    status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    kilobytes = next(line.split()[1] for line in status.splitlines() if line.startswith(f"{field}:"))
    return int(kilobytes) / 1024


def disk_mb(folder: Path) -> float:
    """The blocks the folder's files take on disk, as du counts them, in MB: Kafka's index files
    are sparse, their length says little."""
    used = 0
    for path, _, names in os.walk(folder):
        for name in names:
            try:
                used += os.lstat(os.path.join(path, name)).st_blocks * 512
            except FileNotFoundError:  # a segment deleted while we walked
                continue
    return used / 1e6


@dataclass(frozen=True)
class Footprint:
    seconds: float
    resident_mb: float
    disk_mb: float


class FootprintSampler:
    """Samples a process's memory and its data folder every ``every`` seconds, in a thread."""

    def __init__(self, pid: int, folder: Path, every: float = 1.0) -> None:
        self._pid, self._folder, self._every = pid, folder, every
        self._stop = threading.Event()
        self._started = time.monotonic()
        self.samples: list[Footprint] = []
        self._thread = threading.Thread(target=self._run, name="footprint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            seconds = time.monotonic() - self._started
            self.samples.append(Footprint(seconds, memory_mb(self._pid), disk_mb(self._folder)))
            self._stop.wait(self._every)

    def stop(self) -> list[Footprint]:
        self._stop.set()
        self._thread.join()
        return self.samples


@dataclass(frozen=True)
class Levels:
    """The mean memory and disk of a run's middle and last thirds (the first is warm-up), and the
    highest after warm-up: flat when the last third's means are no higher than the middle's."""

    middle_resident_mb: float
    last_resident_mb: float
    middle_disk_mb: float
    last_disk_mb: float
    peak_disk_mb: float

    @classmethod
    def of(cls, samples: list[Footprint]) -> Levels:
        third = len(samples) // 3
        middle, last = samples[third : 2 * third], samples[2 * third :]
        return cls(
            middle_resident_mb=mean(s.resident_mb for s in middle),
            last_resident_mb=mean(s.resident_mb for s in last),
            middle_disk_mb=mean(s.disk_mb for s in middle),
            last_disk_mb=mean(s.disk_mb for s in last),
            peak_disk_mb=max(s.disk_mb for s in middle + last),
        )
