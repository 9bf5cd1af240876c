"""``dlab sweep``: run a planned sweep, ``--jobs N`` at a time, each run in its own process.

:mod:`dlab.sweep.plan` turns a study, configs/globs, ``--grid`` and ``--seeds``
into validated runs; this module runs them, each as ``python -m dlab run ...``:

- TensorFlow fixes its thread pools and visible GPUs when it starts, so each
  job's share of CPU threads (``TF_NUM_INTRAOP_THREADS`` ...) and its GPU
  (``CUDA_VISIBLE_DEVICES``) must be in the environment before the process
  starts. A process pool that calls ``api.run`` would reuse a started
  TensorFlow for the next run and could not change either.
- A run that crashes hard (out of memory, a segfault in a native library) takes
  only its own process down; the sweep records it and goes on.
- The run is exactly what ``dlab run`` does, with its run directory, run.log and
  exit codes; the sweep keeps each process's console output in ``logs/``.

The price is TensorFlow's start-up per run (a few seconds), small next to any
real training run. Results land in ``OUT/sweeps/<name>-<time>-<id>/``
(see :mod:`dlab.sweep.summary`); the console view is :mod:`dlab.cli.sweep_console`.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from dlab.errors import UsageError
from dlab.fileio import read_json_object
from dlab.run.directory import check_writable, now_iso
from dlab.scaleout.processes import child_options
from dlab.sweep.plan import PlannedRun, SweepPlan
from dlab.sweep.summary import key_metrics, write_study_figures, write_summary

_RUN_DIR_LINE = re.compile(r"^dlab: run directory (.+)$", re.MULTILINE)
_STOPPED = {
    code
    for name in ("SIGINT", "SIGTERM", "SIGHUP")
    if hasattr(signal, name)
    for code in (128 + getattr(signal, name), -getattr(signal, name))
}
"""Exit codes of a run stopped by a signal (handled: 130 / 143 / 129; or killed by it)."""


@dataclass
class SweepResult:
    """The outcome of a sweep: its folder, one row per run, and the exit code it earns."""

    sweep_dir: Path
    rows: list[dict[str, Any]]
    figures: list[Path]

    @property
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.rows:
            counts[row["status"]] = counts.get(row["status"], 0) + 1
        return counts

    @property
    def exit_code(self) -> int:
        """0 when every run completed, 1 otherwise (failed, interrupted or skipped runs)."""
        return 0 if all(row["status"] == "completed" for row in self.rows) else 1


# --------------------------------------------------------------------------- resources


def cpu_count() -> int:
    """CPUs this process may use (its affinity mask, which containers and taskset narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def visible_gpus() -> list[str]:
    """GPU ids for CUDA_VISIBLE_DEVICES, found without starting TensorFlow.

    The parent's CUDA_VISIBLE_DEVICES when set (``-1`` or empty: none), else ``nvidia-smi``.
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        ids = [part.strip() for part in visible.split(",") if part.strip()]
        return [] if not ids or ids[0].startswith("-") else ids
    smi = shutil.which("nvidia-smi")
    if not smi:
        return []
    try:
        listing = subprocess.run(
            [smi, "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in listing.stdout.splitlines() if line.strip().isdigit()]


def job_environment(slot: int, threads: int, gpus: Sequence[str]) -> dict[str, str]:
    """The environment of the run in job slot ``slot``: its CPU threads and its GPU.

    TensorFlow reads TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS when it starts;
    OMP/OpenBLAS/MKL bound oneDNN's and NumPy's pools the same way.
    """
    env = dict(os.environ)
    env.update(
        {
            "TF_NUM_INTRAOP_THREADS": str(threads),
            "TF_NUM_INTEROP_THREADS": str(min(threads, 2)),
            "OMP_NUM_THREADS": str(threads),
            "OPENBLAS_NUM_THREADS": str(threads),
            "MKL_NUM_THREADS": str(threads),
            "PYTHONUNBUFFERED": "1",
            "MPLBACKEND": "Agg",
        }
    )
    if gpus:
        env["CUDA_VISIBLE_DEVICES"] = gpus[slot % len(gpus)]
    return env


# --------------------------------------------------------------------------- running


@dataclass
class RunSettings:
    """What every run of a sweep gets: the ``dlab run`` flags passed through."""

    out: Path
    device: str = "auto"
    smoke: bool = False
    epochs: int | None = None
    sets: tuple[str, ...] = ()
    save_model: bool = True
    tensorboard: bool = False
    verbose: int | None = None

    def summary(self) -> dict[str, Any]:
        """The flags as the sweep's summary.json records them (``run_flags``)."""
        return {
            "out": str(self.out),
            "device": self.device,
            "smoke": self.smoke,
            "epochs": self.epochs,
            "sets": list(self.sets),
            "save_model": self.save_model,
        }

    def argv(self, run: PlannedRun) -> list[str]:
        """The ``python -m dlab run ...`` command line of one run."""
        argv = [
            sys.executable,
            "-m",
            "dlab",
            "run",
            run.config,
            "--out",
            str(self.out),
            "--device",
            self.device,
        ]
        if self.smoke:
            argv.append("--smoke")
        if self.epochs is not None:
            argv += ["--epochs", str(self.epochs)]
        if run.seed is not None:
            argv += ["--seed", str(run.seed)]
        for assignment in (*self.sets, *run.overrides):
            argv += ["--set", assignment]
        if not self.save_model:
            argv.append("--no-save")
        if self.tensorboard:
            argv.append("--tensorboard")
        if self.verbose is not None:  # else each run picks 2: its output goes to a log file
            argv += ["--verbose", str(self.verbose)]
        return argv


@dataclass
class _Job:
    run: PlannedRun
    slot: int
    process: subprocess.Popen
    log_path: Path
    log: IO[bytes]
    started: float


def create_sweep_dir(root: Path, name: str) -> Path:
    """A new folder ``root/sweeps/<name>-<YYYYmmdd-HHMMSS>-<id>`` (never an existing one)."""
    from dlab.run.directory import new_timestamped_folder

    return new_timestamped_folder(root / "sweeps", prefix=f"{name}-")


def _row(run: PlannedRun, status: str) -> dict[str, Any]:
    return {
        "index": run.index,
        "config": run.name,
        "overrides": list(run.overrides),
        "seed": run.seed,
        "status": status,
        "exit_code": None,
        "error": None,
        "wall_time_s": None,
        "metrics": {},
        "run_dir": None,
        "log": None,
    }


def _error_from_log(text: str, exit_code: int) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    starts = [i for i, line in enumerate(lines) if line.startswith("error: ")]
    if starts:  # dlab's own message, possibly several lines: from its "error:" to the end
        return " ".join(lines[starts[-1] :]).removeprefix("error: ")[:2000]
    if exit_code < 0:
        return f"killed by signal {-exit_code}" + (f"; last output: {lines[-1]}" if lines else "")
    return f"exit code {exit_code}" + (f"; last output: {lines[-1]}" if lines else "")


def collect(job: _Job, exit_code: int, extra_metrics: Sequence[str]) -> dict[str, Any]:
    """A finished run's row: status, error, metrics and run directory, read from what it wrote."""
    job.log.close()
    row = _row(job.run, "failed")
    row.update(
        exit_code=exit_code,
        log=str(job.log_path.resolve()),
        wall_time_s=round(time.perf_counter() - job.started, 3),
    )
    text = job.log_path.read_text(encoding="utf-8", errors="replace")
    found = _RUN_DIR_LINE.search(text)
    metrics = None
    if found:
        run_dir = Path(found.group(1).strip())
        row["run_dir"] = str(run_dir.resolve())
        metrics = read_json_object(run_dir / "metrics.json")
    if metrics is not None:
        row["status"] = str(metrics.get("status"))
        row["metrics"] = key_metrics(metrics, extra_metrics)
        if isinstance(metrics.get("error"), dict):
            row["error"] = f"{metrics['error'].get('type')}: {metrics['error'].get('message')}"
    if row["status"] == "running":  # killed before it could write its final metrics.json
        row["status"] = "failed"
    if row["run_dir"] is None and text.rstrip().endswith("KeyboardInterrupt"):
        row["status"] = "interrupted"  # stopped while Python was still starting: never a run
    if exit_code in _STOPPED and row["status"] != "completed":
        row["status"] = "interrupted"
    if exit_code != 0 and row["status"] == "completed":
        row["status"] = "failed"
    if row["status"] == "interrupted" and row["error"] is None:
        row["error"] = "interrupted (Ctrl-C, or --fail-fast after another run failed)"
    if row["status"] != "completed" and row["error"] is None:
        row["error"] = _error_from_log(text, exit_code)
    return row


def open_sweep(root: Path, plan: SweepPlan) -> tuple[Path, list[str], dict[str, Any]]:
    """The sweep folder (with logs/), the study's compared metric, and the summary header every
    executor starts from (local processes or Ray tasks add how they run)."""
    sweep_dir = create_sweep_dir(root, re.sub(r"[^A-Za-z0-9_.-]+", "-", plan.name))
    (sweep_dir / "logs").mkdir()
    extra = [plan.study.compare.metric] if plan.study else []
    header = {
        "sweep": plan.name,
        "kind": plan.kind,
        "started_at": now_iso(),
        "finished_at": None,
        "study": plan.study.model_dump() if plan.study else None,
        "grid": plan.grid,
        "seeds": plan.seeds,
    }
    return sweep_dir, extra, header


def run_sweep(
    plan: SweepPlan,
    settings: RunSettings,
    *,
    jobs: int = 1,
    fail_fast: bool = False,
    progress: Callable[[str, dict[str, Any]], None] | None = None,
) -> SweepResult:
    """Run a planned sweep and write its folder; see the module docstring.

    Args:
        plan: from :func:`plan_sweep`.
        settings: the flags every run gets.
        jobs: runs at a time, each in its own process with ``cpu_count() // jobs`` threads
            and, where GPUs exist, one GPU (round-robin over job slots).
        fail_fast: at the first failed run, interrupt the running ones and start no more.
        progress: called as ``progress(event, info)`` for ``start``, ``launch``, ``finish``,
            ``tick`` and ``end`` (see :class:`dlab.cli.sweep_console.ConsoleProgress`).

    Returns:
        The sweep folder and its rows; ``exit_code`` is 0 only when every run completed.

    Raises:
        UsageError: ``jobs`` < 1 or an outputs folder that cannot be written.
        KeyboardInterrupt: after interrupting the running runs and writing the summary.
    """
    if jobs < 1:
        raise UsageError(f"--jobs {jobs}: the number of parallel runs must be at least 1.")
    root = check_writable(Path(settings.out))
    threads = max(1, cpu_count() // jobs)
    gpus = [] if settings.device == "cpu" else visible_gpus()
    sweep_dir, extra, header = open_sweep(root, plan)
    header.update(
        {
            "jobs": jobs,
            "threads_per_job": threads,
            "gpus": gpus,
            "fail_fast": fail_fast,
            "run_flags": settings.summary(),
        }
    )
    rows = {run.index: _row(run, "pending") for run in plan.runs}
    notify = progress or (lambda event, info: None)

    def save() -> None:
        write_summary(sweep_dir, header, [rows[i] for i in sorted(rows)], bool(plan.seeds), extra)

    save()
    notify("start", {"plan": plan, "sweep_dir": sweep_dir, "jobs": jobs, "threads": threads, "gpus": gpus})
    pending = list(plan.runs)
    running: dict[int, _Job] = {}
    started = time.perf_counter()
    stopping = False

    def finish(slot: int, exit_code: int) -> None:
        nonlocal stopping
        job = running.pop(slot)
        row = collect(job, exit_code, extra)
        rows[job.run.index] = row
        save()
        notify("finish", {"row": row, "label": job.run.label, "counts": _counts(rows)})
        if fail_fast and row["status"] != "completed" and not stopping:
            stopping = True
            _interrupt(running.values())

    try:
        while pending or running:
            while pending and len(running) < jobs and not stopping:
                run = pending.pop(0)
                slot = min(set(range(jobs)) - set(running))
                log_path = sweep_dir / "logs" / f"{run.index:03d}-{run.name}.log"
                log = open(log_path, "wb")  # noqa: SIM115 - closed in collect()
                process = subprocess.Popen(
                    settings.argv(run),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,  # and it dies with the sweep:
                    **child_options(job_environment(slot, threads, gpus)),
                )
                running[slot] = _Job(run, slot, process, log_path, log, time.perf_counter())
                rows[run.index] = {**_row(run, "running"), "log": str(log_path.resolve())}
                save()  # a sweep killed outright still shows what was running
                notify("launch", {"label": run.label, "counts": _counts(rows)})
            for slot, job in list(running.items()):
                exit_code = job.process.poll()
                if exit_code is not None:
                    finish(slot, exit_code)
            if stopping and not running:
                break
            notify("tick", {"counts": _counts(rows), "elapsed": time.perf_counter() - started})
            time.sleep(0.1)
    except KeyboardInterrupt as error:  # Ctrl-C, or SIGTERM / SIGHUP (dlab.scaleout.processes)
        _interrupt(running.values(), getattr(error, "signal_number", signal.SIGINT))
        for slot, job in list(running.items()):
            finish(slot, _wait(job.process))
        _skip_unstarted(rows)
        header.update(finished_at=now_iso(), wall_time_s=round(time.perf_counter() - started, 3))
        save()
        raise
    _skip_unstarted(rows)  # --fail-fast stopped the sweep
    header.update(finished_at=now_iso(), wall_time_s=round(time.perf_counter() - started, 3))
    save()
    figures = []
    ordered = [rows[i] for i in sorted(rows)]
    if plan.study is not None:
        compare = plan.study.compare
        figures = write_study_figures(
            sweep_dir, ordered, compare.metric, compare.goal, compare.threshold, title=plan.study.study
        )
    result = SweepResult(sweep_dir, ordered, figures)
    notify("end", {"result": result, "plan": plan, "elapsed": header["wall_time_s"]})
    return result


def _skip_unstarted(rows: dict[int, dict[str, Any]]) -> None:
    """Runs that never got to finish once the sweep stops are ``skipped``."""
    for index, row in rows.items():
        if row["status"] in ("pending", "running"):
            rows[index] = {**row, "status": "skipped"}


def _counts(rows: dict[int, dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows.values():
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts


def _interrupt(jobs: Any, number: int = signal.SIGINT) -> None:
    """Forward a stop signal (Ctrl-C's by default) to running runs; each marks itself
    interrupted. They run in their own process groups, so this is the one they get."""
    for job in jobs:
        if job.process.poll() is None:
            try:
                job.process.send_signal(number)
            except OSError:
                pass


def _wait(process: subprocess.Popen, grace_s: float = 30.0) -> int:
    """Wait for an interrupted run to write its files; kill it after ``grace_s``."""
    try:
        return process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()
    except KeyboardInterrupt:  # a second Ctrl-C: stop waiting
        process.kill()
        return process.wait()
