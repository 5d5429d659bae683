"""What machine produced a number: recorded beside every benchmark result and nightly report."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np


def _proc_field(path: str, key: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def machine_info() -> dict:
    mem = _proc_field("/proc/meminfo", "MemTotal")
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": _proc_field("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
        "cores": os.cpu_count() or 1,
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "mem_total_GB": round(int(mem.split()[0]) / 1024**2, 1) if mem else None,
        "numpy": np.__version__,
        # other work on the machine skews timings: record the load when the measurement started
        "loadavg_1_5_15": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
