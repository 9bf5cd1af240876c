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
  exit codes; the sweep keeps each process's console output in ``logs/``. The member's
  :class:`~dlab.pipeline.request.RunRequest` is its command line
  (:meth:`~dlab.pipeline.request.RunRequest.argv`), and the member names its run directory
  in a result file the sweep chose (``--result-file``), read back by
  :func:`~dlab.pipeline.request.read_result`.

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
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from dlab.errors import UsageError
from dlab.fileio import read_json_object
from dlab.pipeline.request import RunRequest, read_result
from dlab.run.directory import check_writable, new_timestamped_folder, now_iso
from dlab.scaleout.processes import child_options
from dlab.sweep.owner import SweepLock
from dlab.sweep.plan import PlannedRun, SweepPlan
from dlab.sweep.request import SweepRequest
from dlab.sweep.summary import key_metrics, write_study_figures, write_summary

Progress = Callable[[str, dict[str, Any]], None]
"""``progress(event, info)`` for ``start``, ``launch``, ``finish``, ``tick`` and ``end`` (see
:class:`dlab.cli.sweep_console.ConsoleProgress`)."""
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


def member_request(base: RunRequest, run: PlannedRun, result_file: str | Path | None = None) -> RunRequest:
    """The request of one member: the sweep's, with the member's config, seed and grid values, and
    the result file its process names its run directory in."""
    member = base.for_member(run.config, run.seed, run.overrides)
    return replace(member, output=replace(member.output, result_file=result_file))


def member_argv(request: RunRequest) -> list[str]:
    """The ``python -m dlab run ...`` command line of a member's request."""
    return [sys.executable, "-m", "dlab", "run", *request.argv()]


@dataclass
class Job:
    """A member whose process is running (a local job slot, or a Ray task's returned run)."""

    run: PlannedRun
    slot: int
    process: subprocess.Popen | None
    log_path: Path
    log: IO[bytes]
    started: float


def create_sweep_dir(root: Path, name: str) -> Path:
    """A new folder ``root/sweeps/<name>-<YYYYmmdd-HHMMSS>-<id>`` (never an existing one)."""
    return new_timestamped_folder(root / "sweeps", prefix=f"{name}-")


def member_row(run: PlannedRun, status: str) -> dict[str, Any]:
    """A member's row of the summary before anything is known about its run."""
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


def collect(job: Job, exit_code: int, extra_metrics: Sequence[str], run_dir: Path | None) -> dict[str, Any]:
    """A finished member's row: status, error, metrics and run directory, read from what it wrote.

    Args:
        run_dir: the run directory the member named in its result file (None: it made none).
    """
    job.log.close()
    row = member_row(job.run, "failed")
    row.update(
        exit_code=exit_code,
        log=str(job.log_path.resolve()),
        wall_time_s=round(time.perf_counter() - job.started, 3),
    )
    text = job.log_path.read_text(encoding="utf-8", errors="replace")
    metrics = None
    if run_dir is not None:
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


def open_sweep(root: Path, plan: SweepPlan) -> tuple[Path, list[str], dict[str, Any], SweepLock]:
    """The sweep folder (with logs/), the study's compared metric, the summary header every
    executor starts from (local processes or Ray tasks add how they run), and the sweep's lock
    (:mod:`dlab.sweep.owner`: held until the sweep ends, so a reader can tell a killed sweep)."""
    sweep_dir = create_sweep_dir(root, re.sub(r"[^A-Za-z0-9_.-]+", "-", plan.name))
    (sweep_dir / "logs").mkdir()
    lock = SweepLock(sweep_dir)
    extra = [plan.study.compare.metric] if plan.study else []
    header = {
        "sweep": plan.name,
        "kind": plan.kind,
        "driver": lock.owner,
        "started_at": now_iso(),
        "finished_at": None,
        "study": plan.study.model_dump() if plan.study else None,
        "grid": plan.grid,
        "seeds": plan.seeds,
    }
    return sweep_dir, extra, header, lock


def finish_sweep(plan: SweepPlan, sweep_dir: Path, rows: dict[int, dict[str, Any]]) -> SweepResult:
    """The result of a finished sweep, with a study's comparison figures drawn."""
    ordered = [rows[i] for i in sorted(rows)]
    figures = []
    if plan.study is not None:
        compare = plan.study.compare
        figures = write_study_figures(
            sweep_dir, ordered, compare.metric, compare.goal, compare.threshold, title=plan.study.study
        )
    return SweepResult(sweep_dir, ordered, figures)


def run_sweep(plan: SweepPlan, request: SweepRequest, progress: Progress | None = None) -> SweepResult:
    """Run a planned sweep here, ``request.jobs`` processes at a time, and write its folder.

    Each member gets ``cpu_count() // jobs`` threads and, where GPUs exist, one GPU (round-robin
    over job slots); ``request.fail_fast`` interrupts the running ones at the first failure and
    starts no more. See the module docstring.

    Returns:
        The sweep folder and its rows; ``exit_code`` is 0 only when every run completed.

    Raises:
        UsageError: ``jobs`` < 1 or an outputs folder that cannot be written.
        KeyboardInterrupt: after interrupting the running runs and writing the summary.
    """
    if request.jobs < 1:
        raise UsageError(f"--jobs {request.jobs}: the number of parallel runs must be at least 1.")
    root = check_writable(Path(request.run.output.out))
    with tempfile.TemporaryDirectory(prefix="dlab-sweep-") as results:
        sweep = _LocalSweep(plan, request, root, Path(results), progress)
        try:
            sweep.drain()
        except KeyboardInterrupt as error:  # Ctrl-C, or SIGTERM / SIGHUP (dlab.scaleout.processes)
            sweep.stop(getattr(error, "signal_number", signal.SIGINT))
            raise
        sweep.close()
    result = finish_sweep(plan, sweep.sweep_dir, sweep.rows)
    sweep.notify("end", {"result": result, "plan": plan, "elapsed": sweep.header["wall_time_s"]})
    return result


class _LocalSweep:
    """A local sweep while it runs: its job slots, one row per member, the summary it keeps."""

    def __init__(
        self, plan: SweepPlan, request: SweepRequest, root: Path, results: Path, progress: Progress | None
    ) -> None:
        self.plan, self.request, self.results = plan, request, results
        self.threads = max(1, cpu_count() // request.jobs)
        self.gpus = [] if request.run.device == "cpu" else visible_gpus()
        self.sweep_dir, self.extra, self.header, self.lock = open_sweep(root, plan)
        self.header.update(
            {
                "jobs": request.jobs,
                "threads_per_job": self.threads,
                "gpus": self.gpus,
                "fail_fast": request.fail_fast,
                "run_flags": request.run_flags(),
            }
        )
        self.rows = {run.index: member_row(run, "pending") for run in plan.runs}
        self.notify = progress or (lambda event, info: None)
        self.pending = list(plan.runs)
        self.running: dict[int, Job] = {}
        self.started = time.perf_counter()
        self.stopping = False
        self.save()
        info = {"jobs": request.jobs, "threads": self.threads, "gpus": self.gpus}
        self.notify("start", {"plan": plan, "sweep_dir": self.sweep_dir, **info})

    def save(self) -> None:
        rows = [self.rows[i] for i in sorted(self.rows)]
        write_summary(self.sweep_dir, self.header, rows, bool(self.plan.seeds), self.extra)

    def drain(self) -> None:
        """Start members as slots free up, collect them as they end, until none is left."""
        while self.pending or self.running:
            while self.pending and len(self.running) < self.request.jobs and not self.stopping:
                self.launch(self.pending.pop(0))
            for slot, job in list(self.running.items()):
                exit_code = job.process.poll() if job.process is not None else None
                if exit_code is not None:
                    self.finish(slot, exit_code)
            if self.stopping and not self.running:
                break
            elapsed = time.perf_counter() - self.started
            self.notify("tick", {"counts": status_counts(self.rows), "elapsed": elapsed})
            time.sleep(0.1)

    def launch(self, run: PlannedRun) -> None:
        slot = min(set(range(self.request.jobs)) - set(self.running))
        log_path = self.sweep_dir / "logs" / f"{run.index:03d}-{run.name}.log"
        log = open(log_path, "wb")  # noqa: SIM115 - closed in collect()
        member = member_request(self.request.run, run, self.results / f"{run.index:03d}.json")
        process = subprocess.Popen(
            member_argv(member),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,  # and it dies with the sweep:
            **child_options(job_environment(slot, self.threads, self.gpus)),
        )
        self.running[slot] = Job(run, slot, process, log_path, log, time.perf_counter())
        self.rows[run.index] = {**member_row(run, "running"), "log": str(log_path.resolve())}
        self.save()  # a sweep killed outright still shows what was running
        self.notify("launch", {"label": run.label, "counts": status_counts(self.rows)})

    def finish(self, slot: int, exit_code: int) -> None:
        job = self.running.pop(slot)
        run_dir = read_result(self.results / f"{job.run.index:03d}.json")
        row = collect(job, exit_code, self.extra, run_dir)
        self.rows[job.run.index] = row
        self.save()
        self.notify("finish", {"row": row, "label": job.run.label, "counts": status_counts(self.rows)})
        if self.request.fail_fast and row["status"] != "completed" and not self.stopping:
            self.stopping = True
            _interrupt(self.running.values())

    def stop(self, number: int) -> None:
        """Ctrl-C (or SIGTERM / SIGHUP): interrupt the running members, wait for their files, and
        write the summary with what finished."""
        _interrupt(self.running.values(), number)
        for slot, job in list(self.running.items()):
            self.finish(slot, _wait(job.process))
        self.close()

    def close(self) -> None:
        skip_unstarted(self.rows)  # --fail-fast, or a stop, left these
        wall_time = round(time.perf_counter() - self.started, 3)
        self.header.update(finished_at=now_iso(), wall_time_s=wall_time)
        self.save()
        self.lock.release()


def skip_unstarted(rows: dict[int, dict[str, Any]]) -> None:
    """Runs that never got to finish once the sweep stops are ``skipped``."""
    for index, row in rows.items():
        if row["status"] in ("pending", "running"):
            rows[index] = {**row, "status": "skipped"}


def status_counts(rows: dict[int, dict[str, Any]]) -> dict[str, int]:
    """How many members are in each status (pending, running, completed ...)."""
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
