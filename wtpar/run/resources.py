"""What this machine has to spare: usable CPUs, load and memory, read with psutil.

A reading is plain data, so `-j auto` (autojobs.py) and the memory hold-back can be
tested with made-up readings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Resources:
    """One reading of the machine."""

    cpus: int  # CPUs this process may use
    load: float  # 1-minute load average
    memory_total: int  # bytes
    memory_available: int  # bytes
    memory_percent: float  # used, 0-100


def usable_cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def read_resources() -> Resources:
    """The machine now."""
    import psutil

    memory = psutil.virtual_memory()
    return Resources(
        cpus=usable_cpus(),
        load=psutil.getloadavg()[0],
        memory_total=int(memory.total),
        memory_available=int(memory.available),
        memory_percent=float(memory.percent),
    )


def memory_percent() -> float:
    """The machine's used memory, in percent."""
    import psutil

    return float(psutil.virtual_memory().percent)
