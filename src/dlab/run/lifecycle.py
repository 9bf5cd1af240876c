"""The run lifecycle: status, failure record and the final write of metrics.json, in one place.

:func:`tracked_run` wraps an experiment's training. Whatever happens inside it,
metrics.json ends with a status (completed, interrupted or failed), the error
that stopped the run, the experiment's recorded fields, the finish time and the
wall time; an interrupted or failed run also keeps the history of its finished
epochs. Console output is copied into run.log, and stop signals are handled
(:class:`~dlab.run.guard.RunGuard`) for as long as the block runs.
"""

from __future__ import annotations

import contextlib
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from dlab.errors import DlabError, RunFailed, RunInterrupted
from dlab.run.backupfile import remove_resume_state
from dlab.run.context import RunContext
from dlab.run.directory import now_iso
from dlab.run.header import MetricsHeader


@contextlib.contextmanager
def tracked_run(
    ctx: RunContext,
    header: MetricsHeader,
    resume_hint: str,
    *,
    console: bool = True,
    on_end: Callable[[Path], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """Write metrics.json as ``running``, run the block, and record how it ended.

    Args:
        ctx: the run's context (its directory, guard, history and recorded fields).
        header: the descriptive part of metrics.json.
        resume_hint: what the interrupt message suggests (how to continue, or to start again).
        console: False (``--quiet``): what the run prints goes to run.log only.
        on_end: called with the run directory once the final metrics.json is written,
            whatever the outcome (e.g. to log the run to MLflow).

    Yields:
        The metrics dict that is written to metrics.json at the end.

    Raises:
        RunInterrupted: SIGINT/SIGTERM stopped the run (status ``interrupted``).
        RunFailed: a dlab error stopped the run after its directory existed (status ``failed``).
        Exception: anything else the block raised (status ``failed``, traceback in run.log).
    """
    metrics = header.to_dict()
    run_dir = ctx.run_dir
    run_dir.write_metrics(metrics)
    started = time.perf_counter()
    with run_dir.capture_console(console=console), ctx.guard:
        try:
            yield metrics
            ctx.guard.check_interrupt("the end of the run")  # a signal during the last steps
            metrics["status"] = "completed"
            remove_resume_state(run_dir.path)  # kept until now: a resume would evaluate again
        except KeyboardInterrupt as error:
            _record_failure(ctx, metrics, "interrupted", error)
            raise RunInterrupted(
                f"{ctx.config.name}: {str(error) or 'interrupted'}. The finished epochs are in "
                f"{run_dir.path}; {resume_hint}.",
                getattr(error, "signal_number", 2),
            ) from None
        except BaseException as error:
            print(flush=True)  # end a progress bar's line before the error message
            run_dir.append_log(traceback.format_exc())
            _record_failure(ctx, metrics, "failed", error)
            if isinstance(error, DlabError):  # the run directory exists: it is a failed run now
                raise RunFailed(f"{error} (run directory: {run_dir.path})") from error
            _mark_run_log(error, run_dir.path)
            raise
        finally:
            metrics.update(ctx.summary)
            metrics["finished_at"] = now_iso()
            metrics["wall_time_s"] = round(time.perf_counter() - started, 3)
            run_dir.write_metrics(metrics)
            if on_end is not None:  # every outcome: completed, failed or interrupted
                on_end(run_dir.path)


def _record_failure(ctx: RunContext, metrics: dict[str, Any], status: str, error: BaseException) -> None:
    metrics["status"] = status
    message = str(error) or "interrupted" if status == "interrupted" else str(error)
    metrics["error"] = {"type": type(error).__name__, "message": message}
    _record_partial_history(ctx)


def _record_partial_history(ctx: RunContext) -> None:
    """After an interrupt or a failure: the finished epochs' history, curves and summary.

    Never raises: a plotting error here must not hide why the run stopped.
    """
    if "epochs_run" in ctx.summary:  # the experiment already reported its history
        return
    try:
        from dlab.run.history import record_history

        record_history(ctx, ctx.history)
    except Exception:  # noqa: BLE001 - reported in run.log, the original error wins
        ctx.run_dir.append_log("while writing the partial history:\n" + traceback.format_exc())


def _mark_run_log(error: BaseException, run_dir: Path) -> None:
    """Tell the CLI where this error's traceback is (an error before the folder existed has none)."""
    try:
        error.dlab_run_log = run_dir / "run.log"  # type: ignore[attr-defined]
    except (AttributeError, TypeError):
        pass
