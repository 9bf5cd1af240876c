"""Helpers shared by the hand-run benchmarks: finding dlab, timing subprocesses, machine noise."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
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
    """User + system CPU seconds of this process's finished (waited-for) children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class Measured:
    """One subprocess run: what :func:`run_measured` saw."""

    wall: float
    """Wall seconds from start to exit."""
    stdout: str
    cpu: float
    """The child's own user + system CPU seconds (its threads, and children it waited for)."""
    other: float | None
    """CPU seconds *other* processes used meanwhile (machine busy time minus the child's); None
    where /proc/stat cannot be read."""
    returncode: int


def run_measured(argv: list[str], check: bool = True, env: dict[str, str] | None = None) -> Measured:
    """Run ``argv`` with its output captured; its wall time, CPU time and the machine's noise.

    The child's CPU time is the RUSAGE_CHILDREN delta across the run (exact: the benchmarks
    run one child at a time). ``env`` replaces the child's environment (None: this one's).
    A failing command raises (``check``) or is reported on stderr.
    """
    children_before, busy_before = children_cpu_seconds(), busy_cpu_seconds()
    start = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    busy_after, children_after = busy_cpu_seconds(), children_cpu_seconds()
    if result.returncode != 0:
        tail = "\n".join((result.stderr + result.stdout).strip().splitlines()[-15:])
        message = f"{' '.join(argv)} exited {result.returncode}:\n{tail}"
        if check:
            raise RuntimeError(message)
        print(f"warning: {message}", file=sys.stderr)
    cpu = children_after - children_before
    other = None
    if busy_before is not None and busy_after is not None:
        other = max(busy_after - busy_before - cpu, 0.0)
    return Measured(elapsed, result.stdout, cpu, other, result.returncode)


def run_captured(argv: list[str], check: bool = True) -> tuple[float, str, float | None]:
    """Run ``argv`` with its output captured (:func:`run_measured`).

    Returns wall seconds, stdout, and the CPU seconds that *other* processes used
    meanwhile (machine busy time minus the child's), to spot runs skewed by other work.
    """
    run = run_measured(argv, check)
    return run.wall, run.stdout, run.other


def timed(argv: list[str]) -> float:
    """Wall seconds of one run of ``argv``; output discarded, a failure only warned about."""
    return run_captured(argv, check=False)[0]
