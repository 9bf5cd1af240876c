"""A worker's line to its chief: a deadline on every call, a heartbeat, a clear end when the chief goes.

keras-tuner's client gives each call to the chief an hour (``wait_for_ready``, 60 minutes), so
a worker whose chief was killed sat in ``get_trial`` or ``create_trial`` for up to an hour, and
one in the middle of a trial trained it to the end first. :class:`ChiefLink` replaces the
client's stub with one that:

* gives every call the worker's deadline (``--connect-timeout``, the same silence a worker
  accepts at start-up) and names the worker (:data:`~dlab.tune.liveness.WORKER_KEY`);
* says the worker is alive every :data:`~dlab.tune.liveness.HEARTBEAT_S` seconds from a thread,
  which is how the chief tells a worker killed mid-trial from a slow one
  (:mod:`dlab.tune.liveness`), and notices a chief that stopped answering while the worker trains;
* once the chief is gone (no answer for the deadline) or says it stopped the search, ends the
  search from the next call and from the running trial's next batch (:meth:`ChiefLink.callback`),
  so the worker leaves within seconds with one clear message (:class:`ChiefLost`) and cleans its
  scratch folder (:func:`dlab.tune.worker.run_worker`).
"""

from __future__ import annotations

import functools
import threading
import time
from typing import Any

from dlab.errors import DlabError
from dlab.tune.liveness import CLOSING, HEARTBEAT_S, LEAVING_KEY, WORKER_KEY


class ChiefLost(DlabError):
    """The chief stopped answering, or stopped the search: the worker leaves (exit code 1)."""


@functools.cache
def chief_gone() -> type[Exception]:
    """What :class:`ChiefLink` raises inside the search once the chief is gone: a keras-tuner
    ``FatalError``, which keras-tuner passes on instead of failing the trial with a printed
    traceback and asking the chief again. The worker turns it into :class:`ChiefLost`."""
    import keras_tuner

    class ChiefGone(keras_tuner.errors.FatalError):
        """The chief is gone (see :attr:`ChiefLink.reason`)."""

    return ChiefGone


GONE = ("UNAVAILABLE", "DEADLINE_EXCEEDED", "CANCELLED")
"""gRPC status codes of a call that never reached a chief (killed, unreachable, hung)."""


class ChiefLink:
    """The calls of one worker to its chief (see the module's description).

    Args:
        worker: the worker's id (keras-tuner's tuner id).
        host, port: the chief's address.
        deadline: seconds a call may wait, and the heartbeat may go unanswered, before the
            chief counts as gone.
        heartbeat_s: seconds between two heartbeats.
    """

    def __init__(
        self, worker: str, host: str, port: int, deadline: float, heartbeat_s: float = HEARTBEAT_S
    ) -> None:
        import grpc
        from keras_tuner.src import protos

        self.worker, self.address = worker, f"{host}:{port}"
        self.deadline, self.heartbeat_s = float(deadline), float(heartbeat_s)
        self.metadata = ((WORKER_KEY, worker),)
        # reconnect within a second of the chief coming back, not after gRPC's growing backoff
        options = [("grpc.initial_reconnect_backoff_ms", 200), ("grpc.max_reconnect_backoff_ms", 1000)]
        self.channel = grpc.insecure_channel(self.address, options=options)
        self.stub = protos.get_service_grpc().OracleStub(self.channel)
        self.space_request = protos.get_service().GetSpaceRequest
        self.gone = threading.Event()
        self.reason = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- keras-tuner's calls ------------------------------------------------------------------

    def attach(self, client: Any) -> None:
        """Send ``client``'s calls (keras-tuner's ``OracleClient``) through this link."""
        client.stub = _DeadlineStub(self)

    def call(self, name: str, request: Any, **kwargs: Any) -> Any:
        """One of keras-tuner's calls, with this worker's deadline and name.

        Raises:
            ChiefGone: the chief is gone or stopped the search, now or earlier (:func:`chief_gone`).
            grpc.RpcError: any other error of the call (the chief refused it).
        """
        import grpc

        self.check()
        kwargs["timeout"] = min(float(kwargs.get("timeout") or self.deadline), self.deadline)
        kwargs["metadata"] = self.metadata
        try:
            return getattr(self.stub, name)(request, **kwargs)
        except grpc.RpcError as error:
            if self._gone_because(error) is None:
                raise
            raise chief_gone()(self.reason) from None

    def check(self) -> None:
        """Raise :func:`chief_gone`'s error once the chief is gone."""
        if self.gone.is_set():
            raise chief_gone()(self.reason)

    def callback(self) -> Any:
        """A Keras callback that ends the running trial at its next batch once the chief is gone
        (the trial's result could not be reported anyway)."""
        import keras

        link = self

        class ChiefWatch(keras.callbacks.Callback):
            def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
                link.check()

        return ChiefWatch()

    # -- the heartbeat --------------------------------------------------------------------

    def __enter__(self) -> ChiefLink:
        """Start the heartbeat."""
        self._thread = threading.Thread(target=self._beat, name="dlab-worker-heartbeat", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.heartbeat_s + 1)
        self.channel.close()

    def _beat(self) -> None:
        import grpc

        answered = time.monotonic()
        while not self._stop.wait(self.heartbeat_s):
            try:
                self.stub.GetSpace(
                    self.space_request(), timeout=min(self.deadline, 10.0), metadata=self.metadata
                )
                answered = time.monotonic()
            except grpc.RpcError as error:
                if self._gone_because(error, silent_for=time.monotonic() - answered) is not None:
                    return
            except ValueError:  # the channel was closed under it: the worker is done
                return

    def _gone_because(self, error: Any, silent_for: float | None = None) -> str | None:
        """The reason the chief counts as gone after ``error`` (and ``silent_for`` seconds without
        an answer, for a heartbeat), recorded once; None while it may still answer."""
        code, details = error.code(), error.details() or ""
        if details.startswith(CLOSING):
            reason = f"the chief at {self.address} stopped the search ({details[len(CLOSING) :]})"
        elif code.name in GONE and (silent_for is None or silent_for >= self.deadline):
            waited = self.deadline if silent_for is None else silent_for
            reason = (
                f"the chief at {self.address} stopped answering ({code.name}: {details or 'no answer'}; "
                f"nothing for {waited:.0f} s, --connect-timeout {self.deadline:g})"
            )
        else:
            return None
        if not self.gone.is_set():
            self.reason = f"worker {self.worker}: {reason}: leaving the search"
            self.gone.set()
        return self.reason

    def leave(self, why: str) -> None:
        """Tell the chief this worker is leaving (a stop signal), so that its trial goes to another
        worker now rather than after the chief's ``--worker-timeout``. Never raises."""
        import grpc

        if self.gone.is_set():
            return
        try:
            self.stub.GetSpace(
                self.space_request(),
                timeout=min(self.deadline, 3.0),
                metadata=(*self.metadata, (LEAVING_KEY, why or "stopped")),
            )
        except grpc.RpcError:
            pass


class _DeadlineStub:
    """Stands for keras-tuner's ``OracleStub``: every method goes through :meth:`ChiefLink.call`."""

    def __init__(self, link: ChiefLink) -> None:
        self._link = link

    def __getattr__(self, name: str) -> Any:
        return functools.partial(self._link.call, name)
