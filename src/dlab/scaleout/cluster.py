"""Reaching Ray: the optional dependency, a cluster address that answers, resources per task.

Shared by the Ray sweep backend (:mod:`dlab.sweep.ray_backend`) and Ray-started tuner
workers (:mod:`dlab.tune.ray_workers`): everything is checked before a task is queued,
so bad input (Ray missing, an address nothing answers at, more GPUs per run than the
cluster has) is a clear message and exit 2 with nothing started.

A Ray that dlab starts itself (no ``--address``) is this machine's only:

- it advertises and listens on 127.0.0.1 (:attr:`RayOptions.bind`), where Ray would otherwise
  listen on every interface and advertise the machine's address;
- its processes end with the process that started it, even after a ``kill -9``
  (:mod:`dlab.scaleout.reaper`);
- the caller keeps its own signal handlers: ``ray.init`` replaces SIGTERM's, in Python and in C
  (a crash handler that prints ``*** SIGTERM received ... PC: @`` and exits 1 at once), which made
  a SIGTERM to a sweep strand its runs instead of stopping them like Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from dlab.errors import UsageError
from dlab.scaleout.reaper import Reaper

LOOPBACK = "127.0.0.1"
_LOCAL_ONLY_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
"""Ray's switch for a one-machine Ray: with it off, Ray takes 127.0.0.1 as this node's address
instead of turning a loopback ``_node_ip_address`` into the machine's outside address."""
_reaper: Reaper | None = None


@dataclass(frozen=True)
class RayOptions:
    """Where the cluster is and what each member gets from it."""

    address: str | None = None  # None: a local Ray on this machine; "auto" or HOST:PORT: a running cluster
    cpus_per_run: float = 1
    gpus_per_run: float = 0
    shared_fs: bool = False
    connect_timeout: float = 10.0
    bind: str = LOOPBACK  # a Ray dlab starts listens here: another address of this machine, or 0.0.0.0


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


def connect(options: RayOptions, *, children_stop_themselves: bool = False) -> Any:
    """Connect to (or start) Ray and check the cluster can hold one member; returns ``ray``.

    Args:
        children_stop_themselves: the tasks start their processes with
            :func:`dlab.scaleout.processes.child_options`, so a process whose Ray worker dies
            gets SIGTERM and records itself; a Ray started here then leaves them that SIGTERM
            instead of SIGKILLing a dying worker's children (its default), which left their
            runs ``running``. A cluster that is joined keeps its own setting.

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
            with _caller_signal_handlers():
                if address is None:
                    _start_local(ray, options.bind, children_stop_themselves)
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


def _start_local(ray: Any, bind: str, children_stop_themselves: bool) -> None:
    """Start Ray on this machine, bound to ``bind``, watched by a reaper (on Linux).

    ``bind`` 0.0.0.0 (or ::) leaves Ray's default: every interface, the machine's address
    advertised, so that other machines may join with ``ray start --address``.
    """
    global _reaper
    if sys.platform.startswith("linux"):
        _reaper = Reaper.start(os.path.dirname(ray.__file__))  # before: init itself may be cut short
    system_config = {"kill_child_processes_on_worker_exit": False} if children_stop_themselves else None
    try:
        with _node_address(bind):
            ray.init(
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
                _node_ip_address=None if bind in ("0.0.0.0", "::") else bind,  # None: Ray's default
                _system_config=system_config,
            )
    except BaseException:
        _stop_reaper()
        raise


@contextmanager
def _node_address(bind: str) -> Iterator[None]:
    """While Ray starts: take a loopback ``bind`` as this node's address, as Ray's own one-machine
    switch does (its environment variable for the processes it starts, and the value Ray read
    from it when it was imported, for this one). Both are put back afterwards, so joining a
    cluster later still advertises the machine's address."""
    if bind not in (LOOPBACK, "localhost", "::1"):
        yield
        return
    constants = sys.modules.get("ray._private.ray_constants")
    saved_constant = getattr(constants, "ENABLE_RAY_CLUSTER", None)
    saved_env = os.environ.get(_LOCAL_ONLY_ENV)
    os.environ[_LOCAL_ONLY_ENV] = "0"
    if saved_constant is not None:
        constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        if saved_constant is not None:
            constants.ENABLE_RAY_CLUSTER = saved_constant
        if saved_env is None:
            os.environ.pop(_LOCAL_ONLY_ENV, None)
        else:
            os.environ[_LOCAL_ONLY_ENV] = saved_env


@contextmanager
def _caller_signal_handlers() -> Iterator[None]:
    """Put back the stop signals' handlers that ``ray.init`` replaces, and let Ray's processes
    handle SIGINT even where this one ignores it.

    Setting a handler again from Python also takes back the signal from Ray's C crash handler
    (``signal.signal`` installs Python's own C handler). A shell starts a background job
    (``dlab sweep ... &``) with SIGINT ignored, and an ignored signal stays ignored in every
    process started from it: Ray's workers would then never see the KeyboardInterrupt that
    ``ray.cancel`` raises through SIGINT's handler, and a stopped sweep could not stop its
    members. While Ray starts, SIGINT gets a handler that does nothing here (so this process
    still ignores it) and that ``exec`` resets to the default in the processes Ray starts.
    Only the main thread has handlers.
    """
    names = ("SIGINT", "SIGTERM", "SIGHUP")
    numbers = [getattr(signal, name) for name in names if hasattr(signal, name)]
    main = threading.current_thread() is threading.main_thread()
    saved = {number: signal.getsignal(number) for number in numbers} if main else {}
    if saved.get(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, _ignore)
    try:
        yield
    finally:
        for number, handler in saved.items():
            if handler is not None:  # None: set outside Python, nothing to put back
                signal.signal(number, handler)


def _ignore(number: int, frame: Any) -> None:
    """A SIGINT handler that does nothing (see :func:`_caller_signal_handlers`)."""


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
    """Stop the Ray this process started (and its reaper), and undo what Ray changed in the process.

    Ray's progress-bar support replaces ``builtins.print`` with its own when the driver
    connects, and leaves it there after ``ray.shutdown()``; a process that goes on working
    after a sweep (a notebook, the tests, a script) gets its ``print`` back.
    """
    import builtins

    ray.shutdown()
    builtins.print = saved_print
    _stop_reaper()


def _stop_reaper() -> None:
    """End what is left of the local Ray this process started (see :mod:`dlab.scaleout.reaper`)."""
    global _reaper
    reaper, _reaper = _reaper, None
    if reaper is not None:
        reaper.stop()
