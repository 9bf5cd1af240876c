"""Reaching Ray: the optional dependency, a cluster address that answers, resources per task.

Shared by the Ray sweep backend (:mod:`dlab.sweep.ray_backend`) and Ray-started tuner
workers (:mod:`dlab.tune.ray_workers`): everything is checked before a task is queued,
so bad input (Ray missing, an address nothing answers at, more GPUs per run than the
cluster has) is a clear message and exit 2 with nothing started.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import Any

from dlab.errors import UsageError


@dataclass(frozen=True)
class RayOptions:
    """Where the cluster is and what each member gets from it."""

    address: str | None = None  # None: a local Ray on this machine; "auto" or HOST:PORT: a running cluster
    cpus_per_run: float = 1
    gpus_per_run: float = 0
    shared_fs: bool = False
    connect_timeout: float = 10.0


def import_ray() -> Any:
    """Ray, or a message saying which extra installs it.

    Raises:
        UsageError: Ray is not installed.
    """
    try:
        import ray
    except ImportError:
        raise UsageError(
            "--executor ray needs Ray, which is not installed: pip install 'dlab[ray]' (or "
            "pip install -e '.[ray]' in a checkout); or use --executor local (--jobs N)."
        ) from None
    return ray


def connect(options: RayOptions) -> Any:
    """Connect to (or start) Ray and check the cluster can hold one member; returns ``ray``.

    Raises:
        UsageError: Ray missing, an unreachable ``--address`` (within ``connect_timeout``),
            or resources per run the cluster does not have (before anything is queued).
    """
    ray = import_ray()
    if options.cpus_per_run <= 0 or options.gpus_per_run < 0:
        raise UsageError("--cpus-per-run must be above 0 and --gpus-per-run at least 0.")
    address = options.address
    if address not in (None, "auto"):
        _probe(address, options.connect_timeout)
    if not ray.is_initialized():
        try:
            if address is None:
                ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
            else:
                ray.init(address=address, log_to_driver=False, configure_logging=False)
        except (ConnectionError, RuntimeError) as error:
            raise UsageError(
                f"--address {address}: no Ray cluster to join ({str(error).splitlines()[0]}). Start one "
                "with `ray start --head`, give its HOST:PORT, or leave --address out to run Ray on this "
                "machine only; nothing was started."
            ) from None
    resources = ray.cluster_resources()
    for name, wanted, flag in (
        ("CPU", options.cpus_per_run, "--cpus-per-run"),
        ("GPU", options.gpus_per_run, "--gpus-per-run"),
    ):
        have = float(resources.get(name, 0))
        if wanted > have:
            raise UsageError(
                f"{flag} {wanted:g}: the Ray cluster has {have:g} {name}(s) in all, so no member "
                f"could ever start. Use {flag} {int(have)} or less, or add nodes with {name}s; "
                "nothing was queued."
            )
    return ray


def _probe(address: str, timeout: float) -> None:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"--address {address!r}: expected auto or HOST:PORT (the head node's GCS port).")
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, int(port)), timeout=3):
                return
        except OSError as error:
            if time.monotonic() >= deadline:
                raise UsageError(
                    f"--address {address}: nothing answers there after {timeout:.0f} s "
                    f"({error.strerror or error}). Check the head node (`ray status` on it) and its "
                    "port (6379 by default); nothing was started."
                ) from None
        time.sleep(0.5)


def shutdown(ray: Any, saved_print: Any) -> None:
    """Stop the Ray this process started, and undo what Ray changed in the process.

    Ray's progress-bar support replaces ``builtins.print`` with its own when the driver
    connects, and leaves it there after ``ray.shutdown()``; a process that goes on working
    after a sweep (a notebook, the tests, a script) gets its ``print`` back.
    """
    import builtins

    ray.shutdown()
    builtins.print = saved_print
