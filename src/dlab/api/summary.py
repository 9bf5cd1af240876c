"""A finished run's summary lines: what the console ends with, and what run.log ends with too.

``dlab run`` and ``dlab tune`` end with ``status:``, ``test:`` and ``run directory:``. Those
lines are made after the run's console capture has closed (they need the final metrics.json),
so they were never in run.log, and ``--quiet`` promises that run.log has everything; here they
are made once and appended to run.log, so the two always end alike.
"""

from __future__ import annotations

from typing import Any

from dlab.run.directory import RunDir


def summarize(result: Any) -> list[str]:
    """The summary lines of a finished run (a :class:`~dlab.pipeline.steps.RunResult` or a
    search's result), appended to its run.log as they are returned."""
    lines = summary_lines(result.metrics, result.run_dir)
    run_dir = RunDir(result.run_dir)
    if run_dir.path.is_dir():  # removed by hand meanwhile: the console still gets the lines
        run_dir.append_log("".join(f"{line}\n" for line in lines))
    return lines


def summary_lines(metrics: dict[str, Any], run_dir: Any) -> list[str]:
    """``status:`` (with early stop, wall time and speed), ``test:`` (when there are test
    metrics) and ``run directory:``."""
    test = metrics.get("test") or {}
    shown = ", ".join(f"{key} {value:.4f}" for key, value in test.items() if isinstance(value, (int, float)))
    timing = metrics.get("timing") or {}
    stopped = f"  (stopped early: {metrics['stopped_early']})" if metrics.get("stopped_early") else ""
    speed = f"  ({timing['train_samples_per_s']} samples/s)" if timing.get("train_samples_per_s") else ""
    lines = [f"status: {metrics.get('status')}{stopped}  wall time: {metrics.get('wall_time_s')} s{speed}"]
    if shown:
        lines.append(f"test: {shown}")
    lines.append(f"run directory: {run_dir}")
    return lines
