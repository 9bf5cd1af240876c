"""Stop signals during ``dlab tune``: a trial stops at its batch boundary like any run.

keras-tuner runs every remaining trial and knows nothing of SIGINT or SIGTERM (a
KeyboardInterrupt inside a trial is not an ``Exception``, so it leaves the search).
dlab gives every trial's ``fit`` the run's :class:`~dlab.training.RunGuardCallback`,
so the first signal stops the running trial at the end of its current batch; then
:func:`record_interrupted_search` lists that trial as ``INTERRUPTED`` in trials.csv,
and the run ends ``interrupted`` (exit 130 / 143) with the way to continue it:
``dlab tune NAME --resume RUN_DIR``, which runs the interrupted trial again (keras-tuner
retries the trials that were running when its state was saved).
"""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING, Any

from dlab.tune.trials import trial_rows, write_trials

if TYPE_CHECKING:
    from dlab.run.context import RunContext

INTERRUPTED = "INTERRUPTED"


def guard_callbacks(ctx: RunContext | None) -> list[Any]:
    """The callbacks every trial's fit gets: the run's stop-signal check (no time limit:
    a trial cut short would be scored on fewer epochs than the others)."""
    if ctx is None:
        return []
    from dlab.training import RunGuardCallback  # lazy: imports keras

    return [RunGuardCallback(ctx, time_limit=False)]


def lost_workers(tuner: Any) -> dict[str, Any]:
    """metrics.json's ``tuner.lost_workers`` on a chief (:mod:`dlab.tune.liveness`); nothing elsewhere."""
    watch = getattr(tuner, "watch", None)
    return {} if watch is None else {"lost_workers": watch.record()}


def record_interrupted_search(ctx: RunContext, tuner: Any, error: BaseException) -> None:
    """Write trials.csv/json with the running trial marked ``INTERRUPTED``, and record the
    trial counts in metrics.json's ``tuner`` block. Never raises (the signal wins)."""
    try:
        rows = trial_rows(tuner, ctx.config.model)
        for row in rows:
            if row["status"] == "RUNNING":
                row.update(status=INTERRUPTED, best_epoch=None, error=str(error) or "interrupted")
        write_trials(ctx.run_dir.path, rows)
        counts = {
            status: sum(row["status"] == status for row in rows)
            for status in ("COMPLETED", "FAILED", INTERRUPTED)
        }
        ctx.record(
            tuner={
                "trials": {
                    "total": len(rows),
                    "completed": counts["COMPLETED"],
                    "failed": counts["FAILED"],
                    "interrupted": counts[INTERRUPTED],
                },
                "tuner_dir": str(tuner.directory),
                **lost_workers(tuner),
            }
        )
    except Exception:  # noqa: BLE001 - reported in run.log; the interrupt is what matters
        ctx.run_dir.append_log("while recording the interrupted search:\n" + traceback.format_exc())
