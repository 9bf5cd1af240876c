"""The chief's view of its workers: who is alive, and what happens to a lost worker's trial.

keras-tuner's protocol has no heartbeat: a worker calls the chief when it asks for a trial and
when it reports one, and nothing in between. A worker killed mid-trial (``kill -9``, a node
lost, a Ray task's process killed) therefore left its trial ``RUNNING`` in the oracle forever,
and the chief, which ends the search only once no trial is running, waited forever.

dlab's workers say they are alive every :data:`HEARTBEAT_S` seconds (:mod:`dlab.tune.chief_link`)
and name themselves on every call (the :data:`WORKER_KEY` header). :class:`WorkerWatch` keeps
the time it last heard from each worker; one silent for longer than the chief's
``--worker-timeout`` (default :data:`DEFAULT_WORKER_TIMEOUT` seconds), or one that said it is
leaving (a worker stopped by SIGTERM), is *lost*:

* its trial goes back to keras-tuner's retry queue, so the next worker that asks for a trial
  runs it again from the start (same trial id, same seed), once; a trial lost twice, or lost
  when no other worker is left to run it, is ``FAILED`` with the reason as its error;
* the worker leaves the oracle's list of tuners, so the search ends once the others are done;
* every loss is kept (:meth:`WorkerWatch.record`) for metrics.json's ``tuner.lost_workers``.

A lost worker that was only slow and comes back is told its trial went elsewhere, and may ask
for another one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

HEARTBEAT_S = 2.0
"""How often a worker tells the chief it is alive while it trains."""
DEFAULT_WORKER_TIMEOUT = 60.0
"""How long the chief waits for a silent worker before it hands the worker's trial to another
(``--worker-timeout``): 30 missed heartbeats, so a worker busy building a model, collecting
garbage or on a slow network is never taken for a dead one."""
WORKER_KEY = "dlab-worker"
"""gRPC metadata: the id of the worker that makes a call."""
LEAVING_KEY = "dlab-leaving"
"""gRPC metadata: the worker is leaving the search, and why (it was stopped)."""
CLOSING = "dlab: the chief stopped the search: "
"""How the chief's answer to every call begins once it stops (a signal): workers leave at once."""
HANDED_OVER, FAILED = "handed over", "failed"


@dataclass
class LostWorker:
    """One worker the chief stopped waiting for, and what became of its trial."""

    worker: str
    reason: str
    trial: int | None
    """The trial it was running (keras-tuner's number, from 1), or None between trials."""
    outcome: str | None
    """:data:`HANDED_OVER` (to the next worker that asks), :data:`FAILED`, or None (no trial)."""


class WorkerWatch:
    """When the chief last heard from each worker, and the losses it declared.

    Args:
        oracle: the chief's keras-tuner oracle (its trials, running trials and tuners).
        timeout: seconds of silence after which a worker is lost.
        on_failed: called with a trial id the watch marked ``FAILED`` (the chief's report).
        clock: seconds, monotonic (a test may pass its own).
    """

    def __init__(
        self,
        oracle: Any,
        timeout: float = DEFAULT_WORKER_TIMEOUT,
        on_failed: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.oracle = oracle
        self.timeout = float(timeout)
        self.on_failed = on_failed
        self.clock = clock
        self.last_seen: dict[str, float] = {}
        self.leaving: dict[str, str] = {}
        self.lost: list[LostWorker] = []
        self.queued: dict[str, LostWorker] = {}
        """Trials handed over and not yet taken by a worker, with the loss that queued them."""
        self.last_loss: float | None = None
        self.closing: str | None = None
        """Set when the chief stops: every call is then refused with this reason."""
        self.told: set[str | None] = set()
        """The workers whose calls were refused since the chief began to stop."""

    # -- what the workers say -----------------------------------------------------------

    def heard(self, metadata: Any) -> str | None:
        """Note a call's worker (from its :data:`WORKER_KEY` header) as alive, or leaving; return
        its id (None: a caller that does not name itself, e.g. a plain keras-tuner worker)."""
        headers = dict(metadata or ())
        worker = headers.get(WORKER_KEY)
        if worker is None:
            return None
        self.last_seen[worker] = self.clock()
        if LEAVING_KEY in headers:
            self.leaving[worker] = headers[LEAVING_KEY]
        return worker

    def owns(self, worker: str | None, trial_id: str) -> bool:
        """Whether ``worker``'s report of ``trial_id`` counts: it still runs that trial (a worker
        declared lost that comes back does not)."""
        if worker is None:
            return True
        trial = self.oracle.ongoing_trials.get(worker)
        return trial is not None and trial.trial_id == trial_id

    # -- what the chief decides -------------------------------------------------------------

    def sweep(self) -> list[LostWorker]:
        """Declare every silent or leaving worker lost and deal with its trial (under the oracle's
        lock, as keras-tuner's own calls are); return the losses found now."""
        with oracle_lock(self.oracle):
            return self._sweep()

    def abandoned(self) -> bool:
        """True when the workers that came are all lost, none came back or joined for
        ``timeout`` seconds, and no trial is running: nobody is left to finish the search."""
        if self.last_loss is None or self.oracle.ongoing_trials or self.oracle.tuner_ids:
            return False
        latest = max(self.last_seen.values(), default=self.last_loss)
        return self.clock() - max(latest, self.last_loss) >= self.timeout

    def record(self) -> list[dict[str, Any]]:
        """The losses, for metrics.json (``tuner.lost_workers``)."""
        return [asdict(loss) for loss in self.lost]

    def _sweep(self) -> list[LostWorker]:
        oracle, now = self.oracle, self.clock()
        found = []
        for worker in sorted({*oracle.tuner_ids, *oracle.ongoing_trials, *self.leaving}):
            reason = self._silent(worker, now)
            if reason is not None:
                found.append(self._lose(worker, reason))
        for trial_id in list(self.queued):
            if trial_id not in oracle._retry_queue:  # a worker took it
                self.queued.pop(trial_id)
            elif not oracle.tuner_ids and not oracle.ongoing_trials:  # nobody left to take it
                oracle._retry_queue.remove(trial_id)
                self._fail(oracle.trials[trial_id], self.queued.pop(trial_id), "no worker is left")
        return found

    def _silent(self, worker: str, now: float) -> str | None:
        """Why ``worker`` is lost now, or None while it is alive."""
        if worker in self.leaving:
            return f"it left the search: {self.leaving[worker]}"
        seen = self.last_seen.setdefault(worker, now)  # a worker never heard from: from now on
        if now - seen >= self.timeout:
            return f"no sign of life for {now - seen:.0f} s, --worker-timeout {self.timeout:g}"
        return None

    def _lose(self, worker: str, reason: str) -> LostWorker:
        """Take ``worker`` out of the search; its trial goes to another worker or fails."""
        oracle = self.oracle
        trial = oracle.ongoing_trials.pop(worker, None)
        oracle.tuner_ids.discard(worker)
        self.leaving.pop(worker, None)
        self.last_seen.pop(worker, None)
        self.last_loss = self.clock()
        loss = LostWorker(worker, reason, None if trial is None else int(trial.trial_id) + 1, None)
        self.lost.append(loss)
        if trial is None:
            print(f"dlab: chief: worker {worker} is lost ({reason}); it was running no trial", flush=True)
        elif not oracle.tuner_ids:
            self._fail(trial, loss, "no worker is left")
        elif any(earlier.trial == loss.trial for earlier in self.lost[:-1]):
            self._fail(trial, loss, "it was lost once already")
        else:
            self._hand_over(trial, loss)
        return loss

    def _hand_over(self, trial: Any, loss: LostWorker) -> None:
        """Queue ``trial`` for the next worker that asks (keras-tuner's retry queue)."""
        from keras_tuner.src.engine.trial import TrialStatus

        loss.outcome = HANDED_OVER
        trial.status = TrialStatus.IDLE
        trial.message = f"lost with worker {loss.worker} ({loss.reason}); handed to the next worker"
        self.oracle._retry_queue.append(trial.trial_id)
        self.queued[trial.trial_id] = loss
        self._save(trial)
        print(
            f"dlab: chief: worker {loss.worker} is lost ({loss.reason}): its trial {loss.trial} goes "
            f"to the next worker that asks ({', '.join(sorted(self.oracle.tuner_ids))} left)",
            flush=True,
        )

    def _fail(self, trial: Any, loss: LostWorker, why: str) -> None:
        """End ``trial`` as ``FAILED``, saying which worker it was lost with and why it is not run again."""
        from keras_tuner.src.engine.trial import TrialStatus

        loss.outcome = FAILED
        trial.status = TrialStatus.FAILED
        trial.message = f"lost with worker {loss.worker} ({loss.reason}); not run again: {why}"
        self.oracle.end_order.append(trial.trial_id)
        self._save(trial)
        # said whichever way the trial ends: the loss is the news (a race decides which way it ends)
        print(
            f"dlab: chief: worker {loss.worker} is lost ({loss.reason}): trial {loss.trial} FAILED, {why}",
            flush=True,
        )
        if self.on_failed is not None:  # the chief's report: trials.csv and its trial line
            self.on_failed(trial.trial_id)

    def _save(self, trial: Any) -> None:
        """keras-tuner's own record of the trial and the oracle (what a resume reloads)."""
        self.oracle._save_trial(trial)
        self.oracle.save()


@contextmanager
def oracle_lock(oracle: Any) -> Iterator[None]:
    """Hold keras-tuner's lock of ``oracle`` (the one its ``@synchronized`` methods take, re-entered
    by the thread that holds it) for the block, and release it even when the block raises.

    keras-tuner's decorator does not release the lock when the method raises (``end_trial`` does,
    after too many failed trials in a row): every later call, the chief's own check among them,
    would then wait forever.
    """
    from keras_tuner.src.engine.oracle import LOCKS, THREADS

    name = threading.current_thread().name
    if THREADS[oracle] == name:
        yield
        return
    LOCKS[oracle].acquire()
    THREADS[oracle] = name
    try:
        yield
    finally:
        THREADS[oracle] = None
        LOCKS[oracle].release()
