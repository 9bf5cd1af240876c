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

A task tells the sweep's roster (:mod:`dlab.sweep.roster`) where it works as soon as its run
starts, and the driver saves that member's row as ``running`` with its node, pid, working
folder and run directory: a driver killed outright (``kill -9``) leaves a summary that says
which members were running and where their files are, and a lock nobody holds
(:mod:`dlab.sweep.owner`). On a Ray the sweep started, those members get SIGTERM when their
workers die and record themselves ``interrupted`` there (:func:`dlab.scaleout.cluster.connect`),
and Ray's own processes end within seconds (:mod:`dlab.scaleout.reaper`).

A task whose worker process or node dies is retried once by Ray (``max_retries=1``)
and then recorded as failed with Ray's reason. Ctrl-C, SIGTERM or SIGHUP on the driver (and
``--fail-fast``) cancels what is outstanding (:meth:`_RaySweep.stop`): a queued task never
starts, a running one forwards the Ctrl-C to its run and returns what it wrote, and the
summary still lists what finished.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

from dlab.pipeline.request import read_result
from dlab.run.directory import check_writable, now_iso
from dlab.scaleout.cluster import RayOptions, connect, import_ray, shutdown
from dlab.scaleout.processes import as_stop_signal, child_options
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
from dlab.sweep.roster import RosterReader
from dlab.sweep.summary import write_summary


def train_member(
    argv: list[str],
    env: dict[str, str],
    scratch: bool,
    grace_s: float = 30.0,
    roster: Any = None,
    index: int = 0,
    prefix: str = "dlab-ray-",
) -> dict[str, Any]:
    """The Ray task: run one member as ``dlab run`` and return its log (and files, without a shared fs).

    The run is a child that dies with this worker (:func:`dlab.scaleout.processes.child_options`)
    and names its run directory in a result file this task chose. The task tells the sweep's
    ``roster`` (:mod:`dlab.sweep.roster`) where it works as soon as the run starts, and its run
    directory once the run has one, so that a sweep killed meanwhile still says where the files
    are. ``ray.cancel`` (Ctrl-C or SIGTERM on the driver, or ``--fail-fast``) raises
    KeyboardInterrupt here: the run gets one SIGINT, stops at a batch boundary and records itself
    interrupted, and the task still returns what it wrote (a second cancel, or ``grace_s``, kills it).
    """
    import os
    import shutil
    import sys
    import tempfile

    argv = [sys.executable, *argv[1:]]  # this node's Python, where dlab is installed
    folder = tempfile.mkdtemp(prefix=prefix) if scratch else None
    if folder is not None:
        argv = [*argv[: argv.index("--out") + 1], folder, *argv[argv.index("--out") + 2 :]]
    node = socket.gethostname()

    def announce(info: dict[str, Any]) -> None:
        if roster is not None:
            roster.report.remote(index, {"node": node, **info})

    work_dir = str(Path(argv[argv.index("--out") + 1]).resolve())
    with tempfile.TemporaryDirectory(prefix="dlab-ray-result-") as results:
        result_file = Path(results) / "result.json"
        exit_code, output, cancelled = _run_member(
            [*argv, "--result-file", str(result_file)], {**os.environ, **env}, grace_s, work_dir, announce
        )
        run_dir = read_result(result_file)
    result: dict[str, Any] = {
        "exit_code": exit_code,
        "log": output,
        "files": None,
        "node": node,
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


def _run_member(
    argv: list[str], env: dict[str, str], grace_s: float, work_dir: str, announce: Any
) -> tuple[int, bytes, bool]:
    """Run the member's process to its end; a cancel forwards one SIGINT and waits ``grace_s``.

    ``announce`` gets ``{pid, work_dir}`` once the process starts, and ``{run_dir}`` once its
    result file names the run directory (the last argument of ``argv`` is that file).

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
        announce({"pid": process.pid, "work_dir": work_dir})
        watch = _RunDirWatch(Path(argv[-1]), announce)
        try:
            exit_code = _wait(process, None, watch)  # polls, so that ray.cancel's KeyboardInterrupt lands
        except KeyboardInterrupt:
            cancelled = True
            try:
                process.send_signal(signal.SIGINT)
            except OSError:
                pass
            try:
                exit_code = _wait(process, grace_s, watch)
            except (KeyboardInterrupt, subprocess.TimeoutExpired):
                process.kill()
                exit_code = process.wait()
        log.seek(0)
        return exit_code, log.read(), cancelled


class _RunDirWatch:
    """Announces the member's run directory once its result file names it."""

    def __init__(self, result_file: Path, announce: Any) -> None:
        self.result_file = result_file
        self.announce = announce
        self.done = False

    def __call__(self) -> None:
        if not self.done:
            run_dir = read_result(self.result_file)
            if run_dir is not None:
                self.done = True
                self.announce({"run_dir": str(run_dir.resolve())})


def _wait(process: Any, timeout: float | None, poll: Any = None) -> int:
    """``process.wait`` in short steps (a blocking wait would not see ``ray.cancel``), calling
    ``poll()`` at each.

    Raises:
        subprocess.TimeoutExpired: still running after ``timeout`` seconds.
    """
    import subprocess

    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        if poll is not None:
            poll()
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
    ray = connect(request.ray, children_stop_themselves=True)  # members run under child_options
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
        prefix = f"dlab-ray-{sweep.sweep_dir.name}-{run.index:03d}-"  # says whose it is, left behind
        scratch = not options.shared_fs
        env = _member_env(options)
        ref = task.remote(argv, env, scratch, STOP_GRACE_S, sweep.roster.actor, run.index, prefix)
        sweep.outstanding[ref] = (run, time.perf_counter())
    try:
        sweep.drain(request.fail_fast)
    except KeyboardInterrupt as error:  # Ctrl-C, or SIGTERM / SIGHUP (dlab.scaleout.processes)
        sweep.stop()
        sweep.close()
        stopped = as_stop_signal(error)
        if stopped is error:
            raise
        raise stopped from None
    sweep.close()
    result = finish_sweep(plan, sweep.sweep_dir, sweep.rows)
    sweep.notify("end", {"result": result, "plan": plan, "elapsed": sweep.header["wall_time_s"]})
    return result


STOP_GRACE_S = 30.0
"""How long a cancelled member has to stop at a batch boundary and write its files."""
NOWHERE = {"node": None, "pid": None, "work_dir": None}
"""Where a member's task works, in its row: unknown until the task tells the roster."""


def _where(row: dict[str, Any]) -> dict[str, Any]:
    """The places a row last knew for its member (kept when its task is lost or killed: the files
    it left are there)."""
    return {key: row.get(key) for key in (*NOWHERE, "run_dir")}


class _RaySweep:
    """The driver's state while tasks run: what is outstanding, one row per member."""

    def __init__(self, ray: Any, plan: SweepPlan, request: SweepRequest, root: Path, progress: Any) -> None:
        self.ray = ray
        self.plan = plan
        self.request = request
        self.sweep_dir, self.extra, self.header, self.lock = open_sweep(root, plan)
        self.notify = progress or (lambda event, info: None)
        self.runs = {run.index: run for run in plan.runs}
        self.rows = {run.index: {**member_row(run, "pending"), **NOWHERE} for run in plan.runs}
        self.outstanding: dict[Any, tuple[Any, float]] = {}
        self.started = time.perf_counter()
        self.roster = RosterReader(ray)
        options = request.ray
        cluster = {k: v for k, v in ray.cluster_resources().items() if k in ("CPU", "GPU")}
        placement = {
            "address": options.address,
            "cpus_per_run": options.cpus_per_run,
            "gpus_per_run": options.gpus_per_run,
            "cluster": cluster,
        }
        bind = options.bind if options.address is None else None
        self.header.update(
            {
                "executor": "ray",
                "ray": {**placement, "shared_fs": options.shared_fs, "bind": bind},
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
        self.lock.release()

    def drain(self, fail_fast: bool) -> None:
        """Collect tasks as they finish; at the first failure under ``fail_fast``, stop the rest."""
        while self.outstanding:
            ready, _ = self.ray.wait(list(self.outstanding), num_returns=1, timeout=0.5)
            self.hear()
            for ref in ready:
                row = self.finish(ref)
                if fail_fast and row["status"] != "completed":
                    self.stop()
                    return
            elapsed = time.perf_counter() - self.started
            self.notify("tick", {"counts": status_counts(self.rows), "elapsed": elapsed})

    def hear(self) -> None:
        """Save as ``running`` each member whose task said where it works (see :mod:`dlab.sweep.roster`)."""
        changed = False
        for index, info in self.roster.new_reports():
            row = self.rows.get(index)
            if row is None or row["status"] not in ("pending", "running"):
                continue  # finished meanwhile: its row is final
            fresh = {"run_dir": None} if "work_dir" in info else {}  # a retry: a new run
            self.rows[index] = {**row, **fresh, "status": "running", **info}
            changed = True
            if row["status"] == "pending":
                self.notify("launch", {"label": self.runs[index].label, "counts": status_counts(self.rows)})
        if changed:
            self.save()  # a sweep killed outright still shows what was running, and where

    def finish(self, ref: Any) -> dict[str, Any]:
        """Record a task that returned, failed for good, or was cancelled before it started."""
        run, submitted = self.outstanding.pop(ref)
        log_path = self.sweep_dir / "logs" / f"{run.index:03d}-{run.name}.log"
        try:
            result = self.ray.get(ref)
        except self.ray.exceptions.TaskCancelledError:  # still queued when the sweep stopped
            row = {
                **member_row(run, "skipped"),
                **NOWHERE,
                "error": "cancelled before it started (the sweep was stopped)",
            }
        except Exception as error:  # the task died twice with its worker or node
            reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
            log_path.write_text(f"[ray] {type(error).__name__}: {error}\n", encoding="utf-8")
            row = {
                **member_row(run, "failed"),
                **_where(self.rows[run.index]),
                "log": str(log_path.resolve()),
                "error": f"Ray task lost after one retry: {type(error).__name__}: {reason}"[:2000],
                "wall_time_s": round(time.perf_counter() - submitted, 3),
            }
        else:
            run_dir = _land(result, Path(self.request.run.output.out), log_path)
            job = Job(run, 0, None, log_path, open(log_path, "rb"), submitted)  # noqa: SIM115
            row = collect(job, result["exit_code"], self.extra, run_dir)
            row = {**row, **NOWHERE, "node": result["node"]}
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
        what is left is force-cancelled (its worker killed, the run with it) and recorded
        with where it was working.
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
                **_where(self.rows[run.index]),
                "error": "killed: its Ray task did not stop in time after the sweep was stopped",
                "wall_time_s": round(time.perf_counter() - submitted, 3),
            }
        self.outstanding.clear()
        self.save()
