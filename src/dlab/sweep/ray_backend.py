"""``dlab sweep --executor ray``: every member is a Ray task, on whichever node has room for it.

Each task runs exactly what a local job runs (``python -m dlab run ...`` in its own
process, so TensorFlow's threads and GPU are set before it starts) with the task's
resources: ``--cpus-per-run`` CPUs and ``--gpus-per-run`` GPUs, which Ray hands out
exclusively, so two runs never share a GPU. The task chooses a result file on its node
(``--result-file``), where the member names its run directory as soon as it exists
(:func:`dlab.pipeline.request.read_result`). Nodes need not share a filesystem with the
driver: the task trains into a scratch folder and returns the run directory's files,
which the driver writes where a local sweep would have written them (``--shared-fs``
trains straight into ``--out`` instead, for storage every node sees). The rows,
summary, figures and ``--fail-fast`` are those of :mod:`dlab.sweep.execute`.

A task whose worker process or node dies is retried once by Ray (``max_retries=1``)
and then recorded as failed with Ray's reason. Ctrl-C (and ``--fail-fast``) cancels what
is outstanding (:meth:`_RaySweep.stop`): a queued task never starts, a running one
forwards the Ctrl-C to its run and returns what it wrote, and the summary still lists
what finished.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

from dlab.pipeline.request import read_result
from dlab.run.directory import check_writable, now_iso
from dlab.scaleout.cluster import RayOptions, connect, import_ray, shutdown
from dlab.scaleout.processes import child_options
from dlab.sweep.execute import (
    Job,
    Progress,
    SweepResult,
    collect,
    finish_sweep,
    member_argv,
    member_request,
    member_row,
    open_sweep,
    skip_unstarted,
    status_counts,
)
from dlab.sweep.plan import SweepPlan
from dlab.sweep.request import SweepRequest
from dlab.sweep.summary import write_summary


def train_member(
    argv: list[str], env: dict[str, str], scratch: bool, grace_s: float = 30.0
) -> dict[str, Any]:
    """The Ray task: run one member as ``dlab run`` and return its log (and files, without a shared fs).

    The run is a child that dies with this worker (:func:`dlab.scaleout.processes.child_options`)
    and names its run directory in a result file this task chose. ``ray.cancel`` (Ctrl-C on the
    driver, or ``--fail-fast``) raises KeyboardInterrupt here: the run gets one SIGINT, stops at a
    batch boundary and records itself interrupted, and the task still returns what it wrote (a
    second cancel, or ``grace_s``, kills it).
    """
    import os
    import shutil
    import sys
    import tempfile

    argv = [sys.executable, *argv[1:]]  # this node's Python, where dlab is installed
    folder = tempfile.mkdtemp(prefix="dlab-ray-") if scratch else None
    if folder is not None:
        argv = [*argv[: argv.index("--out") + 1], folder, *argv[argv.index("--out") + 2 :]]
    with tempfile.TemporaryDirectory(prefix="dlab-ray-result-") as results:
        result_file = Path(results) / "result.json"
        exit_code, output, cancelled = _run_member(
            [*argv, "--result-file", str(result_file)], {**os.environ, **env}, grace_s
        )
        run_dir = read_result(result_file)
    result: dict[str, Any] = {
        "exit_code": exit_code,
        "log": output,
        "files": None,
        "node": socket.gethostname(),
        "run_dir": None if run_dir is None else str(run_dir),
        "cancelled": cancelled,
    }
    if folder is not None:
        if run_dir is not None:
            result["files"] = {
                str(path.relative_to(run_dir)): path.read_bytes()
                for path in run_dir.rglob("*")
                if path.is_file()
            }
            result["relative"] = str(run_dir.relative_to(Path(folder).resolve()))
        shutil.rmtree(folder, ignore_errors=True)
    return result


def _run_member(argv: list[str], env: dict[str, str], grace_s: float) -> tuple[int, bytes, bool]:
    """Run the member's process to its end; a cancel forwards one SIGINT and waits ``grace_s``.

    Returns:
        Its exit code, its console output, and whether the task was cancelled.
    """
    import signal
    import subprocess
    import tempfile

    cancelled = False
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **child_options(env)
        )
        try:
            exit_code = _wait(process, None)  # polls, so that ray.cancel's KeyboardInterrupt lands
        except KeyboardInterrupt:
            cancelled = True
            try:
                process.send_signal(signal.SIGINT)
            except OSError:
                pass
            try:
                exit_code = _wait(process, grace_s)
            except (KeyboardInterrupt, subprocess.TimeoutExpired):
                process.kill()
                exit_code = process.wait()
        log.seek(0)
        return exit_code, log.read(), cancelled


def _wait(process: Any, timeout: float | None) -> int:
    """``process.wait`` in short steps (a blocking wait would not see ``ray.cancel``).

    Raises:
        subprocess.TimeoutExpired: still running after ``timeout`` seconds.
    """
    import subprocess

    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            return process.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            if deadline is not None and time.monotonic() >= deadline:
                raise


def _member_env(options: RayOptions) -> dict[str, str]:
    threads = str(max(1, int(options.cpus_per_run)))
    return {
        "TF_NUM_INTRAOP_THREADS": threads,
        "TF_NUM_INTEROP_THREADS": str(min(int(threads), 2)),
        "OMP_NUM_THREADS": threads,
        "OPENBLAS_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        "PYTHONUNBUFFERED": "1",
        "MPLBACKEND": "Agg",
    }


def _land(result: dict[str, Any], out: Path, log_path: Path) -> Path | None:
    """Write a task's run directory (unless it trained into a shared ``--out``) and its log.

    Returns:
        The run directory here (None: the member made none).
    """
    text = result["log"].decode("utf-8", errors="replace")
    run_dir = None if result.get("run_dir") is None else Path(result["run_dir"])
    if run_dir is not None and result.get("files") is not None and result.get("relative"):
        landed = (out / result["relative"]).resolve()
        for relative, content in result["files"].items():
            target = landed / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        text = text.replace(str(run_dir), str(landed))  # the log names where the run is now
        run_dir = landed
    log_path.write_text(text + f"\n[ray] node {result.get('node')}\n", encoding="utf-8")
    return run_dir


def run_ray_sweep(plan: SweepPlan, request: SweepRequest, progress: Progress | None = None) -> SweepResult:
    """Run a planned sweep on Ray (``request.ray``) and write the sweep folder as a local sweep would.

    Raises:
        UsageError: see :func:`connect` (nothing was queued).
        KeyboardInterrupt: after cancelling the outstanding tasks and writing the summary.
    """
    root = check_writable(Path(request.run.output.out))
    import builtins

    saved_print = builtins.print  # Ray replaces it while connected (see dlab.scaleout.cluster.shutdown)
    started_ray = not import_ray().is_initialized()
    ray = connect(request.ray)
    try:
        return _run_on_ray(ray, plan, request, root, progress)
    finally:
        if started_ray:  # leave a Ray the caller started alone; stop the one this sweep started
            shutdown(ray, saved_print)


def _run_on_ray(ray: Any, plan: SweepPlan, request: SweepRequest, root: Path, progress: Any) -> SweepResult:
    """:func:`run_ray_sweep` once Ray is up: queue every member, then collect them."""
    options = request.ray
    task = ray.remote(num_cpus=options.cpus_per_run, num_gpus=options.gpus_per_run, max_retries=1)(
        train_member
    )
    sweep = _RaySweep(ray, plan, request, root, progress)
    for run in plan.runs:
        argv = member_argv(member_request(request.run, run))
        if not options.shared_fs:
            argv[argv.index("--out") + 1] = "SCRATCH"
        ref = task.remote(argv, _member_env(options), not options.shared_fs, STOP_GRACE_S)
        sweep.outstanding[ref] = (run, time.perf_counter())
        sweep.rows[run.index] = member_row(run, "running")
        sweep.notify("launch", {"label": run.label, "counts": status_counts(sweep.rows)})
    try:
        sweep.drain(request.fail_fast)
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM / SIGHUP (dlab.scaleout.processes)
        sweep.stop()
        sweep.close()
        raise
    sweep.close()
    result = finish_sweep(plan, sweep.sweep_dir, sweep.rows)
    sweep.notify("end", {"result": result, "plan": plan, "elapsed": sweep.header["wall_time_s"]})
    return result


STOP_GRACE_S = 30.0
"""How long a cancelled member has to stop at a batch boundary and write its files."""


class _RaySweep:
    """The driver's state while tasks run: what is outstanding, one row per member."""

    def __init__(self, ray: Any, plan: SweepPlan, request: SweepRequest, root: Path, progress: Any) -> None:
        self.ray = ray
        self.plan = plan
        self.request = request
        self.sweep_dir, self.extra, self.header = open_sweep(root, plan)
        self.notify = progress or (lambda event, info: None)
        self.rows = {run.index: member_row(run, "pending") for run in plan.runs}
        self.outstanding: dict[Any, tuple[Any, float]] = {}
        self.started = time.perf_counter()
        options = request.ray
        cluster = {k: v for k, v in ray.cluster_resources().items() if k in ("CPU", "GPU")}
        placement = {
            "address": options.address,
            "cpus_per_run": options.cpus_per_run,
            "gpus_per_run": options.gpus_per_run,
            "cluster": cluster,
        }
        self.header.update(
            {
                "executor": "ray",
                "ray": {**placement, "shared_fs": options.shared_fs},
                "fail_fast": request.fail_fast,
                "run_flags": request.run_flags(),
            }
        )
        self.save()
        threads = int(options.cpus_per_run)
        info = {"plan": plan, "sweep_dir": self.sweep_dir, "jobs": len(plan.runs), "threads": threads}
        self.notify("start", {**info, "gpus": [], "ray": placement})

    def save(self) -> None:
        rows = [self.rows[i] for i in sorted(self.rows)]
        write_summary(self.sweep_dir, self.header, rows, bool(self.plan.seeds), self.extra)

    def close(self) -> None:
        skip_unstarted(self.rows)
        self.header.update(finished_at=now_iso(), wall_time_s=round(time.perf_counter() - self.started, 3))
        self.save()

    def drain(self, fail_fast: bool) -> None:
        """Collect tasks as they finish; at the first failure under ``fail_fast``, stop the rest."""
        while self.outstanding:
            ready, _ = self.ray.wait(list(self.outstanding), num_returns=1, timeout=0.5)
            for ref in ready:
                row = self.finish(ref)
                if fail_fast and row["status"] != "completed":
                    self.stop()
                    return
            elapsed = time.perf_counter() - self.started
            self.notify("tick", {"counts": status_counts(self.rows), "elapsed": elapsed})

    def finish(self, ref: Any) -> dict[str, Any]:
        """Record a task that returned, failed for good, or was cancelled before it started."""
        run, submitted = self.outstanding.pop(ref)
        log_path = self.sweep_dir / "logs" / f"{run.index:03d}-{run.name}.log"
        try:
            result = self.ray.get(ref)
        except self.ray.exceptions.TaskCancelledError:  # still queued when the sweep stopped
            row = {
                **member_row(run, "skipped"),
                "error": "cancelled before it started (the sweep was stopped)",
            }
        except Exception as error:  # the task died twice with its worker or node
            reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
            log_path.write_text(f"[ray] {type(error).__name__}: {error}\n", encoding="utf-8")
            row = {
                **member_row(run, "failed"),
                "log": str(log_path.resolve()),
                "error": f"Ray task lost after one retry: {type(error).__name__}: {reason}"[:2000],
                "wall_time_s": round(time.perf_counter() - submitted, 3),
            }
        else:
            run_dir = _land(result, Path(self.request.run.output.out), log_path)
            job = Job(run, 0, None, log_path, open(log_path, "rb"), submitted)  # noqa: SIM115
            row = collect(job, result["exit_code"], self.extra, run_dir)
        self.rows[run.index] = row
        self.save()
        if row["status"] != "skipped":  # as in a local sweep, a run that never started is no line
            self.notify("finish", {"row": row, "label": run.label, "counts": status_counts(self.rows)})
        return row

    def stop(self, grace_s: float = STOP_GRACE_S + 10) -> None:
        """Cancel what is outstanding, as Ctrl-C stops a local sweep.

        A queued task never starts (``skipped``); a running one interrupts its run, which
        stops at a batch boundary and records itself ``interrupted``, and its files land
        here as a finished member's would. A second Ctrl-C, or ``grace_s``, stops waiting:
        what is left is force-cancelled (its worker killed, the run with it) and recorded.
        """
        for ref in list(self.outstanding):
            try:
                self.ray.cancel(ref, force=False)
            except Exception:  # already finished or gone: collected below
                pass
        deadline = time.monotonic() + grace_s
        try:
            while self.outstanding and time.monotonic() < deadline:
                ready, _ = self.ray.wait(list(self.outstanding), num_returns=1, timeout=0.5)
                for ref in ready:
                    self.finish(ref)
        except KeyboardInterrupt:
            pass
        for ref, (run, submitted) in list(self.outstanding.items()):
            try:
                self.ray.cancel(ref, force=True)
            except Exception:
                pass
            self.rows[run.index] = {
                **member_row(run, "interrupted"),
                "error": "killed: its Ray task did not stop in time after the sweep was stopped",
                "wall_time_s": round(time.perf_counter() - submitted, 3),
            }
        self.outstanding.clear()
        self.save()
