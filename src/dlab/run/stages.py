"""Where the time of a run goes: seconds per stage, for metrics.json's ``stages`` and ``--profile``.

A short run is mostly fixed cost: starting Python and importing the CLI, starting the backend,
reading the data, tracing and compiling, drawing figures, saving the model. ``stages`` names each
part, so "why does a 1-epoch smoke run take 20 s?" has an answer in the run folder:

    process_start   the interpreter and dlab's imports, before the run's first step
    resolve, check  the config, the outputs folder, a resume, the tracking store
    start           the device and the Keras backend (importing TensorFlow or JAX)
    load_data       reading and checking the data
    build           building the model
    fit             model.fit (its first epoch also traces and compiles: timing.first_epoch_extra_s)
    evaluate        the test evaluation
    figures         the run's plots
    save_model      model.keras and inference.json

Stages are wall seconds, measured where they happen; what a stage does not cover (writing
metrics.json, run.log, the curves of the history) is the rest of ``wall_time_s``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

ORDER = (
    "process_start",
    "resolve",
    "check",
    "start",
    "load_data",
    "build",
    "fit",
    "evaluate",
    "figures",
    "save_model",
)


@dataclass
class Stages:
    """Seconds per stage; a stage timed twice (k-fold's folds) adds up."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def time(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - started)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + max(seconds, 0.0)

    def to_dict(self) -> dict[str, float]:
        """The stages in the order a run goes through them, rounded to milliseconds."""
        known = [name for name in ORDER if name in self.seconds]
        others = sorted(set(self.seconds) - set(ORDER))
        return {name: round(self.seconds[name], 3) for name in (*known, *others)}


def since_process_start() -> float | None:
    """Seconds since this process started (Linux's /proc; None elsewhere): the interpreter's
    start-up and every import before the run's first step."""
    try:
        with open("/proc/self/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime", encoding="ascii") as uptime:
            up = float(uptime.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22 of stat: start time in ticks
    return max(up - started, 0.0)


def render_stages(stages: dict[str, float], total_s: float | None) -> str:
    """The ``--profile`` table: each stage's seconds and its share of ``total_s`` (the whole
    process so far), with what no stage covers as ``other``."""
    total = max(total_s or 0.0, sum(stages.values())) or 1.0
    rows = [*stages.items(), ("other", total - sum(stages.values()))]
    lines = [f"profile: {total:.2f} s in all (wall)"]
    for name, seconds in rows:
        lines.append(f"  {name:<14} {seconds:8.3f} s  {seconds / total:6.1%}")
    return "\n".join(lines)
