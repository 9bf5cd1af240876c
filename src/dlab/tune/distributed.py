"""Distributed keras-tuner: one chief serves the oracle over gRPC, workers run its trials.

keras-tuner has its own chief/worker mode: a process whose ``KERASTUNER_TUNER_ID``
contains ``chief`` serves the oracle at ``KERASTUNER_ORACLE_IP:KERASTUNER_ORACLE_PORT``
and blocks until the search is over; every other process with those variables
asks it for trials, trains them and reports their metrics back. dlab sets the
three variables (users never do) and adds what keras-tuner leaves out:

* the chief is an ordinary ``dlab tune`` run: its run directory gets trials.csv,
  best-config.yaml and metrics.json exactly as a local search does, and
  ``--resume`` continues it (the oracle's state lives on the chief);
* workers need no shared filesystem: they train in a scratch folder that is
  deleted when they finish, since everything the chief needs travels over gRPC
  (which is also why the chief then retrains the best config); with ``--shared-dir``
  they keep their checkpoints in a folder the chief sees, and the chief takes the
  best one instead (:mod:`dlab.tune.handover`);
* a worker checks that the chief answers before loading any data, and says so
  within ``connect_timeout`` seconds instead of keras-tuner's silent hour-long wait; during the
  search every call it makes has that deadline and it says it is alive every 2 s
  (:mod:`dlab.tune.chief_link`), so it leaves a chief that is gone, and the chief hands the trial
  of a worker that is gone to another one (:mod:`dlab.tune.liveness`) instead of waiting forever;
* a chief stops on SIGINT, SIGTERM or SIGHUP like any run, and its workers leave at once
  (:func:`dlab.tune.serving.serve_oracle`);
* a chief listens on 127.0.0.1 unless ``--bind`` names a wider address (:data:`LOOPBACK`);
* the chief answers on its port from its first second (:func:`tuner_environment`,
  :mod:`dlab.tune.serving`), long before keras-tuner's gRPC server exists, so that workers
  started with it import TensorFlow and load their data while the chief does the same:
  a worker then waits for the server itself (:func:`wait_for_oracle`) only once it is
  ready to train.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlab.errors import UsageError
from dlab.tune.liveness import DEFAULT_WORKER_TIMEOUT, HEARTBEAT_S
from dlab.tune.request import Distribution
from dlab.tune.serving import answer_early, cannot_listen, release_chief_port, stop_oracle_server

ENV_KEYS = ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT")
SHARED_DIR_ENV = "DLAB_TUNE_SHARED_DIR"
"""dlab's own addition to the role: the folder the chief and its workers share, if any."""
WORKER_TIMEOUT_ENV = "DLAB_TUNE_WORKER_TIMEOUT"
"""dlab's own addition to a chief's role: seconds of silence after which a worker is lost."""
DEFAULT_PORT = 8000
"""keras-tuner's documented example port."""
LOOPBACK = "127.0.0.1"
"""Where a chief listens unless ``--bind`` names a wider address: this machine only (the
oracle's gRPC service has no authentication)."""


@dataclass(frozen=True)
class Role:
    """This process's part in a distributed search."""

    tuner_id: str
    host: str
    port: int
    shared_dir: str | None = None
    """A folder every process of the search sees under this path (``--shared-dir``), or None."""
    worker_timeout: float = DEFAULT_WORKER_TIMEOUT
    """A chief's: seconds a worker may be silent before its trial goes to another (``--worker-timeout``)."""

    @property
    def is_chief(self) -> bool:
        return self.tuner_id == "chief"

    def describe(self) -> str:
        return f"{self.tuner_id} ({self.host}:{self.port})"


def parse_address(text: str, flag: str = "--chief-address") -> tuple[str, int]:
    """``HOST:PORT`` checked.

    Raises:
        UsageError: no port, a port that is not a number in 1..65535, or no host.
    """
    host, sep, port_text = str(text).strip().rpartition(":")
    if not sep or not host:
        raise UsageError(f"{flag} {text!r}: expected HOST:PORT, e.g. 10.0.0.5:8000 or 127.0.0.1:8000.")
    try:
        port = int(port_text)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise UsageError(f"{flag} {text!r}: the port must be a number from 1 to 65535.")
    return host.strip("[]"), port


def check_worker_id(worker_id: str) -> str:
    """A worker id keras-tuner will not mistake for the chief (any id containing 'chief' is one).

    Raises:
        UsageError: an empty id, one containing 'chief', or one with characters unsafe in a file name.
    """
    text = str(worker_id).strip()
    if not text or "chief" in text.lower() or not all(c.isalnum() or c in "-_." for c in text):
        raise UsageError(
            f"--worker {worker_id!r}: use a short id of letters, digits, '-', '_' or '.' (e.g. 1, "
            "gpu-node-3) that does not contain 'chief' (keras-tuner treats such a tuner as the chief)."
        )
    return text if not text.isdigit() else f"worker{text}"


def chief_role(port: int, bind: str) -> Role:
    """The chief's role, after checking that it can listen on ``bind:port``.

    Raises:
        UsageError: a port outside 1..65535, or one another process already uses.
    """
    if not 1 <= int(port) <= 65535:
        raise UsageError(f"--port {port}: the port must be a number from 1 to 65535.")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((bind, int(port)))
        except OSError as error:
            raise cannot_listen(bind, int(port), error) from None
    return Role("chief", bind, int(port))


def wait_for_chief(host: str, port: int, timeout: float) -> None:
    """Return once a TCP connection to the chief succeeds; retry until ``timeout`` seconds.

    Raises:
        UsageError: the chief did not answer in time (nothing was started).
    """
    deadline = time.monotonic() + timeout
    last_error = "no answer"
    while True:
        try:
            with socket.create_connection((host, port), timeout=min(3.0, max(timeout, 0.1))):
                return
        except OSError as error:
            last_error = error.strerror or str(error)
        if time.monotonic() >= deadline:
            raise UsageError(
                f"--chief-address {host}:{port}: no chief answers there after {timeout:.0f} s "
                f"({last_error}). Start it first with `dlab tune NAME --chief --port {port}` on that "
                "machine, check the host name and that the port is open between the machines; "
                "nothing was started here."
            )
        time.sleep(0.5)


ORACLE_WAIT_S = 3600.0
"""How long a worker waits for a chief that answers on its port but never serves the search
(keras-tuner's own calls give up after an hour too): a chief hung while loading does not hold
its workers forever."""


def wait_for_oracle(
    host: str,
    port: int,
    timeout: float,
    waiting: Callable[[], None] | None = None,
    longest: float = ORACLE_WAIT_S,
) -> None:
    """Return once the chief's gRPC server answers, for up to ``longest`` seconds while the chief
    loads, as long as something answers on its port (``waiting`` is called once if it does not
    answer at once).

    A worker gets here after loading its data. keras-tuner's own calls wait for the server
    too, but with gRPC's default reconnection backoff (1 s, growing to 2 min), so a worker
    that asked while the chief was still loading would find the server late; this channel
    retries every 0.2 s, and keras-tuner's first call then connects at once.

    Raises:
        UsageError: nothing answered on the port for ``timeout`` seconds (the chief exited), or
            the chief answered but did not serve the search within ``longest`` seconds.
    """
    import grpc

    backoff = [("grpc.initial_reconnect_backoff_ms", 200), ("grpc.min_reconnect_backoff_ms", 200)]
    backoff += [("grpc.max_reconnect_backoff_ms", 500)]
    channel = grpc.insecure_channel(f"{host}:{port}", options=backoff)
    ready = grpc.channel_ready_future(channel)
    silent_since: float | None = None
    started = time.monotonic()
    try:
        try:
            ready.result(timeout=0.5)
            return
        except grpc.FutureTimeoutError:
            if waiting is not None:
                waiting()
        while True:
            try:
                ready.result(timeout=1.0)
                return
            except grpc.FutureTimeoutError:
                pass
            if _answers(host, port):
                silent_since = None
            elif silent_since is None:
                silent_since = time.monotonic()
            elif time.monotonic() - silent_since >= timeout:
                raise UsageError(
                    f"--chief-address {host}:{port}: the chief stopped answering before it served "
                    f"the search (nothing there for {timeout:.0f} s); its own output says why."
                )
            if time.monotonic() - started >= longest:
                raise UsageError(
                    f"--chief-address {host}:{port}: the chief answered but did not serve the search "
                    f"within {longest:.0f} s; its own output says where it stopped. Restart it, then "
                    "the workers."
                )
    finally:
        ready.cancel()
        channel.close()


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2.0):
            return True
    except OSError:
        return False


@contextmanager
def tuner_environment(role: Role | None) -> Iterator[None]:
    """keras-tuner's three variables for the block (restored afterwards); nothing for a local search.

    A chief also answers on its port from here on (:class:`_EarlyPort`): a worker started
    with it sees a chief at once and loads while the chief loads.
    """
    if role is None:
        yield
        return
    saved = {key: os.environ.get(key) for key in (*ENV_KEYS, SHARED_DIR_ENV, WORKER_TIMEOUT_ENV)}
    values = (role.tuner_id, role.host, str(role.port))
    if role.is_chief:
        answer_early(role.host, role.port)
    os.environ.update(dict(zip(ENV_KEYS, values, strict=True)))
    os.environ[WORKER_TIMEOUT_ENV] = str(role.worker_timeout)
    if role.shared_dir is not None:
        os.environ[SHARED_DIR_ENV] = str(role.shared_dir)
    else:
        os.environ.pop(SHARED_DIR_ENV, None)
    try:
        yield
    finally:
        if role.is_chief:
            release_chief_port()
            stop_oracle_server()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def current_role() -> Role | None:
    """The role the environment gives this process (set by :func:`tuner_environment`)."""
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return None
    return Role(
        os.environ.get("KERASTUNER_TUNER_ID", "tuner0"),
        os.environ["KERASTUNER_ORACLE_IP"],
        int(os.environ.get("KERASTUNER_ORACLE_PORT", "0")),
        os.environ.get(SHARED_DIR_ENV) or None,
        float(os.environ.get(WORKER_TIMEOUT_ENV) or DEFAULT_WORKER_TIMEOUT),
    )


def adopt_tuner_state(project_dir: Path, tuner_id: str) -> None:
    """Let a resumed search reload its state whatever ran it before (a local tuner or a chief).

    keras-tuner keeps a tuner's state in ``<project>/<tuner id>.json`` (``tuner0`` locally,
    ``chief`` for a chief) and reloads the oracle's trials only when that file exists.
    """
    wanted = project_dir / f"{tuner_id}.json"
    if wanted.exists():
        return
    for other in ("tuner0", "chief"):
        if (project_dir / f"{other}.json").exists():
            shutil.copyfile(project_dir / f"{other}.json", wanted)
            return


def chief_from_flags(distribution: Distribution) -> Role | None:
    """``--chief [--port P] [--bind HOST]`` (and ``--executor``) checked; None for a local search.

    Raises:
        UsageError: an unknown executor, ``--port`` without ``--chief``, or a port that is taken.
    """
    executor = distribution.executor
    if executor not in ("local", "ray"):
        raise UsageError(f"--executor {executor!r}: allowed: local, ray (with --workers N).")
    if not distribution.chief:
        if distribution.port is not None and executor != "ray":
            raise UsageError("--port is the chief's: add --chief (or use --chief-address on a worker).")
        if distribution.worker_timeout is not None and executor != "ray":
            raise UsageError(
                "--worker-timeout is the chief's (how long it waits for a silent worker): add --chief "
                "(a worker's own limit on a silent chief is --connect-timeout)."
            )
        if distribution.shared_dir is not None and executor != "ray":
            raise UsageError(
                "--shared-dir is for a distributed search: give it to the --chief and to every "
                "--worker (or use it with --executor ray)."
            )
        return None
    port = distribution.port
    role = chief_role(DEFAULT_PORT if port is None else port, distribution.bind or LOOPBACK)
    return dataclasses.replace(
        role,
        shared_dir=check_shared_dir(distribution.shared_dir),
        worker_timeout=check_worker_timeout(distribution.worker_timeout),
    )


def check_worker_timeout(seconds: float | None) -> float:
    """``--worker-timeout`` checked: at least two heartbeats, so a live worker is never taken for a
    lost one between two of them (None: the default).

    Raises:
        UsageError: fewer seconds than two heartbeats.
    """
    if seconds is None:
        return DEFAULT_WORKER_TIMEOUT
    if not float(seconds) >= 2 * HEARTBEAT_S:
        raise UsageError(
            f"--worker-timeout {seconds:g}: give at least {2 * HEARTBEAT_S:g} seconds (workers say they "
            f"are alive every {HEARTBEAT_S:g} s); the default is {DEFAULT_WORKER_TIMEOUT:g}."
        )
    return float(seconds)


def check_shared_dir(path: str | os.PathLike[str] | None) -> str | None:
    """``--shared-dir`` checked: an existing folder this process can write to (or None).

    Raises:
        UsageError: no such folder, not a folder, or not writable.
    """
    if path is None:
        return None
    folder = Path(path).expanduser().absolute()
    if not folder.is_dir():
        raise UsageError(
            f"--shared-dir {path}: no such folder. Create it on storage the chief and every "
            "worker see under the same path (a shared disk, NFS), or leave --shared-dir out "
            "(the chief then retrains the best config)."
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"--shared-dir {path}: this process cannot write there; choose a folder it can.")
    return str(folder)


def worker_from_flags(config_ref: str | None, distribution: Distribution, resume: Any = None) -> Role:
    """``--worker ID --chief-address HOST:PORT`` checked, before anything loads.

    Raises:
        UsageError: a missing half of the pair, ``--chief`` too, no config, ``--resume``, a bad id or address.
    """
    if distribution.chief:
        raise UsageError("--chief and --worker are different processes: give only one of them.")
    if distribution.worker is None:
        raise UsageError("--chief-address is for workers: add --worker ID (e.g. --worker 1).")
    if distribution.chief_address is None:
        raise UsageError(
            "--worker needs --chief-address HOST:PORT: the address of the machine running "
            "`dlab tune NAME --chief --port PORT`."
        )
    if not config_ref or resume is not None:
        raise UsageError("a worker needs the tuner config the chief runs (NAME|FILE), and no --resume.")
    if distribution.worker_timeout is not None:
        raise UsageError(
            "--worker-timeout is the chief's; a worker's limit on a silent chief is --connect-timeout."
        )
    if not float(distribution.connect_timeout) > 0:
        raise UsageError(
            f"--connect-timeout {distribution.connect_timeout:g}: give a number of seconds above 0."
        )
    worker_id = check_worker_id(distribution.worker)
    host, port = parse_address(distribution.chief_address)
    return Role(worker_id, host, port, check_shared_dir(distribution.shared_dir))
