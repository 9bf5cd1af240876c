"""A keras-tuner worker: runs the chief's trials until the chief says the search is over.

The worker builds the same hypermodel and tuner as a local search (so every trial
is the same target config, seeded from its trial id), but keras-tuner replaces
its oracle with a client of the chief's. Its checkpoints go to a scratch folder
that is removed at the end, because the chief keeps everything that matters;
with ``--shared-dir`` they go to the search's shared folder instead, where the
chief takes the best one (:mod:`dlab.tune.handover`).

A worker ends cleanly however the search ends: the chief says it is over; the chief is gone
or stopped (:class:`~dlab.tune.chief_link.ChiefLost` after ``--connect-timeout`` seconds of
silence, or at once when the chief says it stopped); or the worker gets SIGINT, SIGTERM or
SIGHUP, which it passes on to the chief (its trial goes to another worker) before it exits.
Its scratch folder is removed in every case (before, SIGTERM's default action killed the
process and left it behind).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlab.scaleout.processes import stop_signals_interrupt
from dlab.tune import handover
from dlab.tune.chief_link import ChiefLink, ChiefLost
from dlab.tune.distributed import Role, tuner_environment, wait_for_oracle
from dlab.tune.layout import PROJECT_NAME
from dlab.tune.search import make_hypermodel, make_tuner, startup_objects_frozen

if TYPE_CHECKING:
    from dlab.config import RunConfig
    from dlab.data import ArrayDataset
    from dlab.framework.base import Experiment


@dataclass
class WorkerResult:
    """What one worker did: the trials it ran (keras-tuner ids, 0-based) and their statuses."""

    worker: str
    chief: str
    trials: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        """0 unless every trial this worker ran failed."""
        statuses = [trial["status"] for trial in self.trials]
        return 1 if statuses and all(status != "COMPLETED" for status in statuses) else 0


def run_worker(
    config: RunConfig, target: Experiment, data: ArrayDataset, role: Role, connect_timeout: float = 30.0
) -> WorkerResult:
    """Wait for the chief to serve the search, then ask it for trials, train them and report
    their metrics; return when the chief stops.

    Args:
        config: the tuner config (the same one the chief runs: same file, flags and overrides).
        target: the experiment whose models are tuned.
        data: the target's data, loaded here (workers share no filesystem with the chief).
        role: this worker's id and the chief's address.
        connect_timeout: how long the chief may stay silent before the worker gives up: its
            port at start-up (a chief still loading answers on it; one that exited does not),
            then every call and heartbeat (:class:`~dlab.tune.chief_link.ChiefLink`).

    Raises:
        ChiefLost: the chief stopped answering or stopped the search (the CLI exits 1).
    """
    result = WorkerResult(worker=role.tuner_id, chief=f"{role.host}:{role.port}")
    if role.shared_dir is None:
        directory, keep = Path(tempfile.mkdtemp(prefix=f"dlab-tune-{role.tuner_id}-")), False
        if config.model.algorithm == "hyperband":
            print(
                f"dlab: worker {role.tuner_id}: Hyperband without --shared-dir: a later round's "
                "trial fails here when another worker ran the trial it continues (give the chief "
                "and every worker --shared-dir DIR)",
                flush=True,
            )
    else:  # one project for every worker (keras-tuner's layout): none may wipe it at start
        directory, keep = handover.search_folder(role.shared_dir, config, role.port), True
        (directory / PROJECT_NAME / f"{role.tuner_id}.json").unlink(missing_ok=True)

    def on_trial_end(tuner: Any, trial: Any) -> None:
        if keep and str(trial.status) == "COMPLETED":
            handover.claim(tuner.get_trial_dir(trial.trial_id), trial, role.tuner_id)
        row = {
            "trial": int(trial.trial_id) + 1,
            "trial_id": trial.trial_id,
            "status": str(trial.status),
            "score": None if trial.score is None else float(trial.score),
        }
        result.trials.append(row)
        score = "-" if row["score"] is None else f"{row['score']:.4f}"
        print(f"dlab: worker {role.tuner_id}: trial {row['trial']} {row['status']} (score {score})")

    started = time.perf_counter()
    try:
        with tuner_environment(role), stop_signals_interrupt():
            link = ChiefLink(role.tuner_id, role.host, role.port, deadline=connect_timeout)
            hypermodel = make_hypermodel(config, target, data, callbacks=[link.callback()])
            tuner = make_tuner(config, hypermodel, directory, not keep, on_trial_end)
            link.attach(tuner.oracle)
            wait_for_oracle(
                role.host,
                role.port,
                connect_timeout,
                lambda: print(f"dlab: worker {role.tuner_id}: ready; the chief is still loading", flush=True),
            )
            print(f"dlab: worker {role.tuner_id}: asking {result.chief} for trials", flush=True)
            with link, startup_objects_frozen():
                search(tuner, config, link, result)
    finally:
        if not keep:
            shutil.rmtree(directory, ignore_errors=True)
        result.seconds = round(time.perf_counter() - started, 3)
    print(f"dlab: worker {role.tuner_id}: the chief ended the search; {len(result.trials)} trial(s) run here")
    return result


def search(tuner: Any, config: RunConfig, link: ChiefLink, result: WorkerResult) -> None:
    """Run the chief's trials until it ends the search; a stop signal tells the chief this worker
    is leaving (its trial goes to another worker at once), and a chief that is gone ends the
    worker with the number of trials it ran.

    Raises:
        ChiefLost: the chief stopped answering or stopped the search.
        KeyboardInterrupt: SIGINT, SIGTERM or SIGHUP (the CLI exits 130 / 143 / 129).
    """
    try:
        tuner.search(epochs=config.train.epochs, verbose=1)
    except KeyboardInterrupt as error:
        link.leave(str(error) or "stopped by SIGINT")  # SIGTERM / SIGHUP say which they are
        raise
    except Exception:
        if not link.gone.is_set():
            raise
        print(flush=True)  # end a half-written progress bar before the message
        raise ChiefLost(f"{link.reason} ({len(result.trials)} trial(s) ended here)") from None
