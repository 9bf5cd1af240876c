"""``dlab sweep --backend ray``: every member is a Ray task, on whichever node has room for it.

Each task runs exactly what a local job runs (``python -m dlab run ...`` in its own
process, so TensorFlow's threads and GPU are set before it starts) with the task's
resources: ``--cpus-per-run`` CPUs and ``--gpus-per-run`` GPUs, which Ray hands out
exclusively, so two runs never share a GPU. Nodes need not share a filesystem with the
driver: the task trains into a scratch folder and returns the run directory's files,
which the driver writes where a local sweep would have written them (``--shared-fs``
trains straight into ``--out`` instead, for storage every node sees). The rows,
summary, figures and ``--fail-fast`` are those of :mod:`dlab.sweep.execute`.

A task whose worker process or node dies is retried once by Ray (``max_retries=1``)
and then recorded as failed with Ray's reason; Ctrl-C cancels what is outstanding and
still writes the summary of what finished.
"""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path
from typing import Any

from dlab.run.cluster import RayOptions, connect, import_ray, shutdown
from dlab.run.directory import check_writable, now_iso
from dlab.sweep.execute import (
    RunSettings,
    SweepResult,
    _counts,
    _Job,
    _row,
    _skip_unstarted,
    collect,
    open_sweep,
)
from dlab.sweep.plan import SweepPlan
from dlab.sweep.summary import write_study_figures, write_summary

RUN_DIR_LINE = re.compile(r"^dlab: run directory (.+)$", re.MULTILINE)


def train_member(argv: list[str], env: dict[str, str], scratch: bool) -> dict[str, Any]:
    """The Ray task: run one member as ``dlab run`` and return its log (and files, without a shared fs)."""
    import os
    import shutil
    import subprocess
    import sys
    import tempfile

    argv = [sys.executable, *argv[1:]]  # this node's Python, where dlab is installed
    folder = tempfile.mkdtemp(prefix="dlab-ray-") if scratch else None
    if folder is not None:
        argv = [*argv[: argv.index("--out") + 1], folder, *argv[argv.index("--out") + 2 :]]
    done = subprocess.run(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **env},
        check=False,
    )
    result: dict[str, Any] = {
        "exit_code": done.returncode,
        "log": done.stdout,
        "files": None,
        "node": socket.gethostname(),
        "run_dir": None,
    }
    found = RUN_DIR_LINE.search(done.stdout.decode("utf-8", errors="replace"))
    if found:
        result["run_dir"] = found.group(1).strip()
    if folder is not None:
        if found:
            run_dir = Path(result["run_dir"])
            result["files"] = {
                str(path.relative_to(run_dir)): path.read_bytes()
                for path in run_dir.rglob("*")
                if path.is_file()
            }
            result["relative"] = str(run_dir.relative_to(folder))
        shutil.rmtree(folder, ignore_errors=True)
    return result


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


def _land(result: dict[str, Any], settings: RunSettings, log_path: Path) -> None:
    """Write a task's run directory (unless it trained into a shared ``--out``) and its log."""
    text = result["log"].decode("utf-8", errors="replace")
    if result.get("files") is not None and result.get("relative"):
        run_dir = Path(settings.out) / result["relative"]
        for relative, content in result["files"].items():
            target = run_dir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        text = RUN_DIR_LINE.sub(f"dlab: run directory {run_dir.resolve()}", text, count=1)
    log_path.write_text(text + f"\n[ray] node {result.get('node')}\n", encoding="utf-8")


def run_ray_sweep(
    plan: SweepPlan,
    settings: RunSettings,
    options: RayOptions,
    *,
    fail_fast: bool = False,
    progress: Any = None,
) -> SweepResult:
    """Run a planned sweep on Ray and write the sweep folder as a local sweep would.

    Raises:
        UsageError: see :func:`connect` (nothing was queued).
        KeyboardInterrupt: after cancelling the outstanding tasks and writing the summary.
    """
    root = check_writable(Path(settings.out))
    import builtins

    saved_print = builtins.print  # Ray replaces it while connected (see dlab.run.cluster.shutdown)
    started_ray = not import_ray().is_initialized()
    ray = connect(options)
    try:
        return _run_on_ray(ray, plan, settings, options, root, fail_fast, progress)
    finally:
        if started_ray:  # leave a Ray the caller started alone; stop the one this sweep started
            shutdown(ray, saved_print)


def _run_on_ray(ray, plan, settings, options, root, fail_fast, progress) -> SweepResult:
    """:func:`run_ray_sweep` once Ray is up."""
    task = ray.remote(num_cpus=options.cpus_per_run, num_gpus=options.gpus_per_run, max_retries=1)(
        train_member
    )
    sweep_dir, extra, header = open_sweep(root, plan)
    header.update(
        {
            "backend": "ray",
            "ray": {
                "address": options.address,
                "cpus_per_run": options.cpus_per_run,
                "gpus_per_run": options.gpus_per_run,
                "shared_fs": options.shared_fs,
                "cluster": {k: v for k, v in ray.cluster_resources().items() if k in ("CPU", "GPU")},
            },
            "fail_fast": fail_fast,
            "run_flags": settings.summary(),
        }
    )
    rows = {run.index: _row(run, "pending") for run in plan.runs}
    notify = progress or (lambda event, info: None)

    def save() -> None:
        write_summary(sweep_dir, header, [rows[i] for i in sorted(rows)], bool(plan.seeds), extra)

    save()
    notify(
        "start",
        {
            "plan": plan,
            "sweep_dir": sweep_dir,
            "jobs": len(plan.runs),
            "threads": int(options.cpus_per_run),
            "gpus": [],
        },
    )
    started = time.perf_counter()
    outstanding: dict[Any, tuple[Any, float]] = {}
    for run in plan.runs:
        argv = settings.argv(run)
        if not options.shared_fs:
            argv[argv.index("--out") + 1] = "SCRATCH"
        outstanding[task.remote(argv, _member_env(options), not options.shared_fs)] = (
            run,
            time.perf_counter(),
        )
        rows[run.index] = _row(run, "running")
        notify("launch", {"label": run.label, "counts": _counts(rows)})
    try:
        _drain(ray, outstanding, rows, sweep_dir, settings, extra, fail_fast, save, notify, started)
    except KeyboardInterrupt:
        _cancel(ray, outstanding)
        _skip_unstarted(rows)
        header.update(finished_at=now_iso(), wall_time_s=round(time.perf_counter() - started, 3))
        save()
        raise
    _skip_unstarted(rows)
    header.update(finished_at=now_iso(), wall_time_s=round(time.perf_counter() - started, 3))
    save()
    ordered = [rows[i] for i in sorted(rows)]
    figures = []
    if plan.study is not None:
        compare = plan.study.compare
        figures = write_study_figures(
            sweep_dir, ordered, compare.metric, compare.goal, compare.threshold, title=plan.study.study
        )
    result = SweepResult(sweep_dir, ordered, figures)
    notify("end", {"result": result, "plan": plan, "elapsed": header["wall_time_s"]})
    return result


def _drain(ray, outstanding, rows, sweep_dir, settings, extra, fail_fast, save, notify, started) -> None:
    """Collect tasks as they finish; at the first failure under ``fail_fast``, cancel the rest."""
    while outstanding:
        ready, _ = ray.wait(list(outstanding), num_returns=1, timeout=0.5)
        for ref in ready:
            run, submitted = outstanding.pop(ref)
            log_path = sweep_dir / "logs" / f"{run.index:03d}-{run.name}.log"
            try:
                result = ray.get(ref)
            except Exception as error:  # the task died twice with its worker or node, or was cancelled
                reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
                log_path.write_text(f"[ray] {type(error).__name__}: {error}\n", encoding="utf-8")
                row = {
                    **_row(run, "failed"),
                    "log": str(log_path.resolve()),
                    "error": f"Ray task lost after one retry: {type(error).__name__}: {reason}"[:2000],
                    "wall_time_s": round(time.perf_counter() - submitted, 3),
                }
            else:
                _land(result, settings, log_path)
                job = _Job(run, 0, None, log_path, open(log_path, "rb"), submitted)  # noqa: SIM115
                row = collect(job, result["exit_code"], extra)
            rows[run.index] = row
            save()
            notify("finish", {"row": row, "label": run.label, "counts": _counts(rows)})
            if fail_fast and row["status"] != "completed":
                _cancel(ray, outstanding)
                return
        notify("tick", {"counts": _counts(rows), "elapsed": time.perf_counter() - started})


def _cancel(ray: Any, outstanding: dict[Any, Any]) -> None:
    for ref in list(outstanding):
        try:
            ray.cancel(ref, force=True)
        except Exception:  # already finished or gone: nothing to cancel
            pass
    outstanding.clear()
