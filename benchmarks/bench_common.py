"""Helpers shared by the hand-run benchmarks: finding dlab, timing subprocesses, machine noise."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path


def dlab_command() -> list[str]:
    """The dlab console script next to this interpreter, else ``python -m dlab``."""
    script = Path(sys.executable).parent / "dlab"
    return [str(script)] if script.exists() else [sys.executable, "-m", "dlab"]


def busy_cpu_seconds() -> float | None:
    """CPU seconds the whole machine has spent busy since boot (Linux /proc/stat), else None."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_captured(argv: list[str], check: bool = True) -> tuple[float, str, float | None]:
    """Run ``argv`` with its output captured.

    Returns wall seconds, stdout, and the CPU seconds that *other* processes used
    meanwhile (machine busy time minus the child's), to spot runs skewed by other work.
    A failing command raises (``check``) or is reported on stderr.
    """
    children_before, busy_before = children_cpu_seconds(), busy_cpu_seconds()
    start = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    busy_after, children_after = busy_cpu_seconds(), children_cpu_seconds()
    if result.returncode != 0:
        tail = "\n".join((result.stderr + result.stdout).strip().splitlines()[-15:])
        message = f"{' '.join(argv)} exited {result.returncode}:\n{tail}"
        if check:
            raise RuntimeError(message)
        print(f"warning: {message}", file=sys.stderr)
    other = None
    if busy_before is not None and busy_after is not None:
        other = max(busy_after - busy_before - (children_after - children_before), 0.0)
    return elapsed, result.stdout, other


def timed(argv: list[str]) -> float:
    """Wall seconds of one run of ``argv``; output discarded, a failure only warned about."""
    return run_captured(argv, check=False)[0]
