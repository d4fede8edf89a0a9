"""What this machine offers the process: the cores it may run on."""

from __future__ import annotations

import os


def cpu_cores() -> int:
    """The cores this process may run on (its affinity mask, which batch systems set)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
