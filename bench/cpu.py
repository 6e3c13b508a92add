"""CPU time per process, from the kernel: where a run's two cores went.

End to end, every stage shares the machine's cores, so the pipeline's rate is bounded by the
cores over the CPU time all stages spend on a reading; each stage's share says which to cut.
"""

from __future__ import annotations

import os
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User and system time a process (all its threads) has spent so far."""
    # The command name, in brackets, may hold spaces: the fields are counted after it.
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class CpuMeter:
    """CPU time each named process spends from the meter's making until ``per_reading``."""

    def __init__(self, pids: dict[str, int]) -> None:
        self._pids = pids
        self._started = {name: cpu_seconds(pid) for name, pid in pids.items()}

    def per_reading(self, readings: int, seconds: float) -> dict[str, float]:
        """Each process's CPU µs per reading, their total, and the cores they kept busy."""
        spent = {name: cpu_seconds(pid) - self._started[name] for name, pid in self._pids.items()}
        figures = {f"cpu_us_per_reading_{name}": cpu / readings * 1e6 for name, cpu in spent.items()}
        figures["cpu_us_per_reading_all"] = sum(spent.values()) / readings * 1e6
        figures["cores_busy"] = sum(spent.values()) / seconds
        return figures
