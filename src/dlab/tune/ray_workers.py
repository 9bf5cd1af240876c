"""``dlab tune NAME --backend ray --workers N``: the chief here, N keras-tuner workers as Ray tasks.

For people who already have a Ray cluster: instead of logging into N machines to start
``dlab tune --worker``, the driver serves the search as the chief and asks Ray for N
tasks, each of which runs ``python -m dlab tune NAME --worker ray-K --chief-address
DRIVER:PORT`` with the same flags. The config must be a packaged name or a file every
node can read. On a local Ray (no ``--address``) every worker is on this machine, so
they share a scratch folder with the chief (``--shared-dir``) and the chief takes the
best trial's checkpoint instead of retraining it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dlab.errors import UsageError


def worker_task(argv: list[str]) -> dict[str, Any]:
    """The Ray task: one ``dlab tune --worker`` process; returns its exit code and output."""
    import subprocess
    import sys

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
    from dlab.scaleout.cluster import RayOptions, connect, import_ray

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


def run_with_ray_workers(
    config_ref: str, overrides: tuple, distributed: dict, device: str, run_chief: Callable[[], Any]
) -> Any:
    """Start the workers on Ray, serve the search as the chief (``run_chief``), then collect them.

    ``overrides`` is :func:`dlab.api.tune`'s (epochs, batch size, seed, sets, smoke, wall time):
    the workers get the same flags, so their trials are the chief's configs.
    """
    import dataclasses
    import shutil
    import tempfile

    from dlab.tune.distributed import DEFAULT_PORT, check_shared_dir, chief_role, tuner_environment

    epochs, batch_size, seed, sets, smoke, _ = overrides
    flags = [*(["--smoke"] if smoke else []), "--device", device]
    for flag, value in (("--epochs", epochs), ("--batch-size", batch_size), ("--seed", seed)):
        flags += [flag, str(value)] if value is not None else []
    for assignment in sets:  # max_trials is already among them
        flags += ["--set", assignment]
    port = distributed.get("port") or DEFAULT_PORT
    workers = int(distributed.get("workers") or 1)
    shared_dir = check_shared_dir(distributed.get("shared_dir"))
    scratch = None
    if shared_dir is None and distributed.get("address") is None:  # one machine: it shares its disk
        shared_dir = scratch = tempfile.mkdtemp(prefix="dlab-tune-shared-")
    if shared_dir is not None:
        flags += ["--shared-dir", shared_dir]
    import builtins

    from dlab.scaleout.cluster import shutdown

    saved_print = builtins.print  # Ray replaces it while connected
    try:
        ray, refs, started, host = start_workers(
            workers, config_ref, flags, port, distributed.get("address"), 1
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
