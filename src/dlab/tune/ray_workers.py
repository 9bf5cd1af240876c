"""``dlab tune NAME --executor ray --workers N``: the chief here, N keras-tuner workers as Ray tasks.

For people who already have a Ray cluster: instead of logging into N machines to start
``dlab tune --worker``, the driver serves the search as the chief and asks Ray for N
tasks, each of which runs ``python -m dlab tune NAME --worker ray-K --chief-address
DRIVER:PORT`` with the same overrides and device (the chief's request, written as flags by
:meth:`dlab.pipeline.request.Overrides.argv`), so that its trials are the chief's configs. The
config must be a packaged name or a file every node can read. On a local Ray (no
``--address``) every worker is on this machine, so they share a scratch folder with the chief
(``--shared-dir``) and the chief takes the best trial's checkpoint instead of retraining it.

The chief listens where its workers dial, and nowhere else: this machine's loopback on a local
Ray, the driver node's IP on a cluster (every interface only with ``--bind 0.0.0.0``; the
oracle's gRPC service has no authentication). A worker whose process dies (Ray does not retry
it: the task itself returns) is found by the chief's worker watch like any other
(:mod:`dlab.tune.liveness`).
"""

from __future__ import annotations

import builtins
import dataclasses
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from typing import Any

from dlab.errors import UsageError
from dlab.scaleout.cluster import RayOptions, connect, import_ray, shutdown
from dlab.tune.distributed import (
    DEFAULT_PORT,
    LOOPBACK,
    check_shared_dir,
    check_worker_timeout,
    chief_role,
    tuner_environment,
)
from dlab.tune.request import SearchRequest


def worker_task(argv: list[str]) -> dict[str, Any]:
    """The Ray task: one ``dlab tune --worker`` process; returns its exit code and output."""
    done = subprocess.run(
        [sys.executable, *argv], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )
    return {"exit_code": done.returncode, "log": done.stdout.decode("utf-8", errors="replace")[-4000:]}


WORKER_CONNECT_TIMEOUT = 60.0
"""The least ``--connect-timeout`` a Ray worker gets: a task may start before the chief's port
answers (a moment later), and a worker leaves a chief silent for this long (:mod:`dlab.tune.chief_link`)."""


def start_workers(
    workers: int,
    config_ref: str,
    flags: list[str],
    port: int,
    address: str | None,
    cpus_per_worker: float,
    bind: str | None = None,
) -> tuple[Any, list[Any], bool, str]:
    """Connect to Ray and start the worker tasks (they wait for the chief to answer).

    Returns:
        (ray, task refs, whether this call started Ray, the address the workers dial: this
        machine's loopback on a local Ray, else ``bind`` when it names one host, else the
        driver node's IP).

    Raises:
        UsageError: Ray missing, an unreachable address, or ``workers`` < 1.
    """
    if workers < 1:
        raise UsageError(f"--workers {workers}: a Ray search needs at least one worker.")
    started = not import_ray().is_initialized()
    ray = connect(RayOptions(address=address, cpus_per_run=cpus_per_worker))
    if address is None:
        host = LOOPBACK
    elif bind not in (None, LOOPBACK, "0.0.0.0", "::"):
        host = bind
    else:
        host = ray.util.get_node_ip_address()
    task = ray.remote(num_cpus=cpus_per_worker, max_retries=0)(worker_task)
    argv = [
        "-m",
        "dlab",
        "tune",
        config_ref,
        *flags,
        "--chief-address",
        f"{host}:{port}",
    ]
    refs = [task.remote([*argv, "--worker", f"ray-{n}"]) for n in range(1, workers + 1)]
    return ray, refs, started, host


def collect_workers(ray: Any, refs: list[Any], timeout: float) -> None:
    """Wait for the worker tasks (each leaves a chief silent for its ``--connect-timeout``) and
    report those that did not end well; cancel any still running after ``timeout`` seconds."""
    try:
        results = ray.get(refs, timeout=timeout)
    except ray.exceptions.GetTimeoutError:
        print(f"dlab: Ray workers still running {timeout:g} s after the search ended: cancelling them")
        for ref in refs:
            ray.cancel(ref, force=True)
        return
    for done in results:
        if done["exit_code"] != 0:
            print(f"dlab: a Ray worker ended with exit code {done['exit_code']}: {done['log'][-500:]}")


def worker_flags(search: SearchRequest) -> list[str]:
    """The flags every Ray worker gets: the chief's overrides and device (``max_trials`` among them)."""
    run = search.run
    return [*run.overrides.argv(), "--device", run.device]


def run_with_ray_workers(search: SearchRequest, run_chief: Callable[[], Any]) -> Any:
    """Start the workers on Ray, serve the search as the chief (``run_chief``), then collect them."""
    distribution = search.distribution
    flags = worker_flags(search)
    port = distribution.port or DEFAULT_PORT
    shared_dir = check_shared_dir(distribution.shared_dir)
    scratch = None
    if shared_dir is None and distribution.address is None:  # one machine: it shares its disk
        shared_dir = scratch = tempfile.mkdtemp(prefix="dlab-tune-shared-")
    if shared_dir is not None:
        flags += ["--shared-dir", shared_dir]
    saved_print = builtins.print  # Ray replaces it while connected
    connect_timeout = max(WORKER_CONNECT_TIMEOUT, float(distribution.connect_timeout))
    worker_timeout = check_worker_timeout(distribution.worker_timeout)
    try:
        ray, refs, started, host = start_workers(
            distribution.workers,
            search.run.config,
            [*flags, "--connect-timeout", f"{connect_timeout:g}"],
            port,
            distribution.address,
            1,
            distribution.bind,
        )
    except BaseException:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        raise
    try:
        # the chief listens where the workers dial (never on every interface unless --bind says so)
        bind = distribution.bind if distribution.bind in ("0.0.0.0", "::") else host
        role = chief_role(port, bind)
        role = dataclasses.replace(role, shared_dir=shared_dir, worker_timeout=worker_timeout)
        with tuner_environment(role):
            result = run_chief()
        collect_workers(ray, refs, connect_timeout + 30)
        return result
    finally:
        if started:
            shutdown(ray, saved_print)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
