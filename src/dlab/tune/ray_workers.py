"""``dlab tune NAME --executor ray --workers N``: the chief here, N keras-tuner workers as Ray tasks.

For people who already have a Ray cluster: instead of logging into N machines to start
``dlab tune --worker``, the driver serves the search as the chief and asks Ray for N
tasks, each of which runs ``python -m dlab tune NAME --worker ray-K --chief-address
DRIVER:PORT`` with the same overrides and device (the chief's request, written as flags by
:meth:`dlab.pipeline.request.Overrides.argv`), so that its trials are the chief's configs. The
config must be a packaged name or a file every node can read. On a local Ray (no
``--address``) every worker is on this machine, so they share a scratch folder with the chief
(``--shared-dir``) and the chief takes the best trial's checkpoint instead of retraining it.
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
from dlab.tune.distributed import DEFAULT_PORT, check_shared_dir, chief_role, tuner_environment
from dlab.tune.request import SearchRequest


def worker_task(argv: list[str]) -> dict[str, Any]:
    """The Ray task: one ``dlab tune --worker`` process; returns its exit code and output."""
    done = subprocess.run(
        [sys.executable, *argv], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )
    return {"exit_code": done.returncode, "log": done.stdout.decode("utf-8", errors="replace")[-4000:]}


def start_workers(
    workers: int, config_ref: str, flags: list[str], port: int, address: str | None, cpus_per_worker: float
) -> tuple[Any, list[Any], bool, str]:
    """Connect to Ray and start the worker tasks (they wait for the chief to answer).

    Returns:
        (ray, task refs, whether this call started Ray, the host the chief must listen on).

    Raises:
        UsageError: Ray missing, an unreachable address, or ``workers`` < 1.
    """
    if workers < 1:
        raise UsageError(f"--workers {workers}: a Ray search needs at least one worker.")
    started = not import_ray().is_initialized()
    ray = connect(RayOptions(address=address, cpus_per_run=cpus_per_worker))
    host = "127.0.0.1" if address is None else ray.util.get_node_ip_address()
    task = ray.remote(num_cpus=cpus_per_worker, max_retries=0)(worker_task)
    argv = [
        "-m",
        "dlab",
        "tune",
        config_ref,
        *flags,
        "--chief-address",
        f"{host}:{port}",
        "--connect-timeout",
        "300",
    ]
    refs = [task.remote([*argv, "--worker", f"ray-{n}"]) for n in range(1, workers + 1)]
    return ray, refs, started, host


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
    try:
        ray, refs, started, host = start_workers(
            distribution.workers, search.run.config, flags, port, distribution.address, 1
        )
    except BaseException:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        raise
    try:
        role = chief_role(port, "127.0.0.1" if host == "127.0.0.1" else "0.0.0.0")
        role = dataclasses.replace(role, shared_dir=shared_dir)
        with tuner_environment(role):
            result = run_chief()
        for done in ray.get(refs):
            if done["exit_code"] != 0:
                print(f"dlab: a Ray worker ended with exit code {done['exit_code']}: {done['log'][-500:]}")
        return result
    finally:
        if started:
            shutdown(ray, saved_print)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
