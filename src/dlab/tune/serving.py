"""The chief's side of a distributed search: its port from its first second, then keras-tuner's
gRPC server, watched.

* The chief answers on its port from its first second (:func:`answer_early`), long before
  keras-tuner's gRPC server exists, so that workers started with it import TensorFlow and load
  their data while the chief does the same, instead of after it.
* :func:`serve_oracle` then serves the oracle as keras-tuner's ``oracle_chief.start_server``
  does, but checks every 0.2 s whether the search is over, hears every worker's calls and
  heartbeats (:class:`~dlab.tune.liveness.WorkerWatch`: a lost worker's trial goes to another
  worker), and stops on the run's stop signal, telling its workers first.
"""

from __future__ import annotations

import functools
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent import futures
from typing import Any

from dlab.errors import UsageError
from dlab.tune.liveness import CLOSING, HEARTBEAT_S, WorkerWatch, oracle_lock


def cannot_listen(host: str, port: int, error: OSError) -> UsageError:
    """The message for a chief port that cannot be listened on (taken, or a bad address)."""
    return UsageError(
        f"--chief cannot listen on {host}:{port}: {error.strerror or error}. Choose another "
        "--port (and give the workers the same one), or stop what is using it."
    )


class _EarlyPort:
    """The chief's port, listened on and answered (accept, close) by a thread until
    :func:`serve_oracle` hands it to keras-tuner's gRPC server.

    Accepting matters: a connection left in the listen queue would hold a gRPC client in
    its handshake for 20 s; a closed one makes it retry at its own pace.
    """

    def __init__(self, host: str, port: int) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # the connections it accepts inherit this, and linger on the port after they close:
        # without it, gRPC (which sets it too) could not bind the port for a minute
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.socket.bind((host, port))
        except OSError as error:
            self.socket.close()
            raise cannot_listen(host, port, error) from None
        self.socket.listen(64)
        self.socket.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._answer, name="dlab-chief-port", daemon=True)
        self.thread.start()

    def _answer(self) -> None:
        while not self.stop.is_set():
            try:
                connection, _ = self.socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connection.close()

    def release(self) -> None:
        self.stop.set()
        self.thread.join()
        self.socket.close()


_early_port: _EarlyPort | None = None
"""This process's chief port while nothing serves it yet (see :func:`release_chief_port`)."""


def release_chief_port() -> None:
    """Stop answering on the chief's port, so that the gRPC server can listen on it."""
    global _early_port
    if _early_port is not None:
        _early_port.release()
        _early_port = None


def answer_early(host: str, port: int) -> None:
    """Listen on the chief's port and answer it from now on, until :func:`release_chief_port`."""
    global _early_port
    release_chief_port()
    _early_port = _EarlyPort(host, port)


CHIEF_POLL_S = 0.2
"""How often the chief checks whether the search is over (keras-tuner's own loop: 1 s, then 20 s)."""
RPCS = ("GetSpace", "UpdateSpace", "CreateTrial", "UpdateTrial", "EndTrial", "GetTrial", "GetBestTrials")
"""Every call of keras-tuner's oracle service (each is watched: who calls, whether it still counts)."""


def serve_oracle(
    oracle: Any,
    poll_s: float = CHIEF_POLL_S,
    on_trial_end: Callable[[str], None] | None = None,
    watch: WorkerWatch | None = None,
    stop_check: Callable[[], None] | None = None,
) -> None:
    """Serve ``oracle`` to the workers over gRPC until the search is over, as keras-tuner's
    ``oracle_chief.start_server`` does, but checking every ``poll_s`` seconds, watching the
    workers, and stopping on a signal.

    keras-tuner's loop sleeps 1 s, and once the first worker has been told to stop, 20 s
    between checks that the others' last trials have ended: with two workers the chief sat
    idle for up to 20 s at the end of every search (longer than a smoke search's trials).
    The server keeps answering after this returns (as keras-tuner's does), so a worker
    that comes late is told the search is over instead of finding no chief.

    keras-tuner waits for a trial as long as it is ``RUNNING``, so a worker killed mid-trial
    held the chief forever. ``watch`` (:class:`~dlab.tune.liveness.WorkerWatch`) hears every
    call and heartbeat and, on every check, hands a silent worker's trial to another worker or
    fails it; once every worker is lost and none came for the watch's timeout, the search ends
    with the trials it has.

    ``stop_check`` is called on every check and raises to stop (the run's stop signal: keras-tuner's
    chief never reads it, so SIGTERM used to print "stopping at the end of the current batch" and
    serve on). The chief then refuses every call with the reason for a moment, so its workers
    leave at once, and raises.

    ``on_trial_end`` is called with a trial's id once a worker has ended it: keras-tuner
    calls no per-trial hook on a chief, which runs no trial itself. An error in it is
    printed, never sent back to the worker.
    """
    try:
        import grpc
        from keras_tuner.src import protos
        from keras_tuner.src.distribute.oracle_chief import OracleServicer, exit_chief
    except ImportError:  # another keras-tuner layout: its own loop is slower, not wrong
        from keras_tuner.src.distribute import oracle_chief

        release_chief_port()
        oracle_chief.start_server(oracle)
        return

    release_chief_port()

    global _oracle_server
    watch = watch if watch is not None else WorkerWatch(oracle)
    executor = futures.ThreadPoolExecutor(max_workers=1)
    server = grpc.server(executor)
    _oracle_server = (server, executor)
    servicer = _watched_servicer(OracleServicer, on_trial_end, watch)(oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    address = f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"
    if not server.add_insecure_port(address):  # gRPC only logs the failure and serves nothing
        raise RuntimeError(f"the chief could not listen on {address} (see the gRPC error above)")
    server.start()
    try:
        while not (servicer.stop_triggered and exit_chief(oracle)):
            if stop_check is not None:
                stop_check()
            watch.sweep()
            if watch.abandoned():
                print(
                    f"dlab: chief: every worker is lost and none came for {watch.timeout:g} s: ending "
                    "the search with the trials it has",
                    flush=True,
                )
                return
            time.sleep(poll_s)
    except BaseException as error:  # a stop signal: the workers hear it before the server goes
        tell_workers(watch, str(error) or type(error).__name__, poll_s)
        raise


def tell_workers(watch: WorkerWatch, reason: str, poll_s: float = CHIEF_POLL_S) -> None:
    """Refuse every call with ``reason`` until each worker still in the search has heard it
    (its heartbeat comes every :data:`~dlab.tune.liveness.HEARTBEAT_S` seconds), for at most
    one and a half heartbeats: the workers then leave at once instead of after their deadline."""
    watch.closing = reason
    deadline = time.monotonic() + 1.5 * HEARTBEAT_S + poll_s
    while time.monotonic() < deadline and not set(watch.oracle.tuner_ids) <= watch.told:
        time.sleep(poll_s)


def _watched_servicer(base: type, on_trial_end: Callable[[str], None] | None, watch: WorkerWatch) -> type:
    """keras-tuner's servicer, with every call heard by ``watch``: a stopping chief refuses it, a
    lost worker's report of a trial that went to another worker is ignored, and
    ``on_trial_end`` is called after each ``EndTrial``."""
    import grpc
    from keras_tuner.src import protos

    class WatchedServicer(base):  # type: ignore[misc, valid-type]
        def answer(self, name: str, request: Any, context: Any) -> Any:
            worker = watch.heard(context.invocation_metadata())
            if watch.closing is not None:
                watch.told.add(worker)
                context.abort(grpc.StatusCode.ABORTED, CLOSING + watch.closing)
            trial_id = _reported_trial(name, request)
            with oracle_lock(self.oracle):  # the watch may lose the worker between check and report
                counts = trial_id is None or watch.owns(worker, trial_id)
                response = getattr(super(), name)(request, context) if counts else None
            if not counts:
                print(
                    f"dlab: chief: ignoring {worker}'s report of trial {int(trial_id) + 1}: the "
                    "worker was lost and the trial went on without it",
                    flush=True,
                )
                if name == "UpdateTrial":  # the worker ends the trial and asks for another one
                    context.abort(
                        grpc.StatusCode.FAILED_PRECONDITION, "dlab: the trial went to another worker"
                    )
                return protos.get_service().EndTrialResponse()
            if name == "EndTrial" and on_trial_end is not None:
                try:
                    on_trial_end(trial_id)
                except Exception as error:  # the worker's trial is recorded either way
                    print(f"dlab: chief: reporting trial {int(trial_id) + 1} failed: {error}")
            return response

    for name in RPCS:
        setattr(WatchedServicer, name, functools.partialmethod(WatchedServicer.answer, name))
    return WatchedServicer


def _reported_trial(name: str, request: Any) -> str | None:
    """The trial a worker reports in ``request`` (UpdateTrial, EndTrial), else None."""
    if name == "UpdateTrial":
        return str(request.trial_id)
    if name == "EndTrial":
        return str(request.trial.trial_id)
    return None


_oracle_server: tuple[Any, Any] | None = None
"""The gRPC server :func:`serve_oracle` started, and its thread pool, until the chief's role ends."""


def stop_oracle_server() -> None:
    """Stop the chief's gRPC server and its thread pool (the chief's run is over).

    Their threads are not daemons: left running, they would hold the process's exit
    to a full interpreter teardown (see :mod:`dlab.cli.leave`).
    """
    global _oracle_server
    if _oracle_server is not None:
        server, executor = _oracle_server
        _oracle_server = None
        server.stop(None).wait(5)
        executor.shutdown(wait=True)
