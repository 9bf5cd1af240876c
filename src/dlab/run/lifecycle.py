"""The run lifecycle: status, failure record and the final write of metrics.json, in one place.

:func:`tracked_run` wraps an experiment's training. Whatever happens inside it,
metrics.json ends with a status (completed, interrupted or failed), the error
that stopped the run, the experiment's recorded fields, the finish time and the
wall time; an interrupted or failed run also keeps the history of its finished
epochs. Console output is copied into run.log, and stop signals are handled
(:class:`~dlab.run.guard.RunGuard`) for as long as the block runs.

The record stays consistent however the run ends: a further stop signal while a stopped run
writes its history and curves abandons them (it means "stop at once") and the error message
says so; the status and the final metrics.json are written with signals deferred; and on a
disk that filled up, the final write uses space held back at the start
(:mod:`dlab.run.lastrecord`) or says which run directory lacks its record.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from dlab.errors import DlabError, RunFailed, RunInterrupted
from dlab.run.backupfile import remove_resume_state
from dlab.run.context import RunContext
from dlab.run.directory import RunDir, now_iso
from dlab.run.header import MetricsHeader
from dlab.run.lastrecord import RecordLost, SpaceReserve, write_last_record


@contextlib.contextmanager
def tracked_run(
    ctx: RunContext,
    header: MetricsHeader,
    resume_hint: str | Callable[[], str],
    *,
    console: bool = True,
    on_end: Callable[[Path], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """Write metrics.json as ``running``, run the block, and record how it ended.

    Args:
        ctx: the run's context (its directory, guard, history and recorded fields).
        header: the descriptive part of metrics.json.
        resume_hint: what the interrupt message suggests (how to continue, or to start again);
            a callable is asked when the run stops, since whether there is anything to resume
            depends on what the run backed up by then.
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
    _write_first_record(run_dir, metrics)
    reserve = SpaceReserve.hold(run_dir.path)  # room for the last record, if the disk fills up
    started = time.perf_counter()
    with run_dir.capture_console(console=console), ctx.guard:
        try:
            yield metrics
            ctx.guard.check_interrupt("the end of the run")  # a signal during the last steps
            metrics["status"] = "completed"
            remove_resume_state(run_dir.path)  # kept until now: a resume would evaluate again
        except KeyboardInterrupt as error:
            _record_failure(ctx, metrics, "interrupted", error)
            hint = resume_hint() if callable(resume_hint) else resume_hint
            raise RunInterrupted(
                f"{ctx.config.name}: {metrics['error']['message']}. The finished epochs are in "
                f"{run_dir.path}; {hint}.",
                getattr(error, "signal_number", 2),
            ) from None
        except BaseException as error:
            print(flush=True)  # end a progress bar's line before the error message
            unlogged = _append_log(run_dir, traceback.format_exc())
            _record_failure(ctx, metrics, "failed", error)
            if isinstance(error, DlabError):  # the run directory exists: it is a failed run now
                raise RunFailed(f"{error} (run directory: {run_dir.path})") from error
            if unlogged:  # the CLI would point to a run.log that lacks the traceback
                raise RunFailed(
                    f"the run failed: {type(error).__name__}: {error} (run directory: "
                    f"{run_dir.path}; its run.log could not take the traceback: {unlogged})"
                ) from error
            _mark_run_log(error, run_dir.path)
            raise
        finally:
            with ctx.guard.deferred():  # a signal now would leave metrics.json half updated
                stopped = sys.exc_info()[1]  # a signal may have cut the recording short
                if metrics.get("status") == "running" and stopped is not None:
                    _record_status(metrics, stopped)
                metrics.update(ctx.summary)
                metrics["finished_at"] = now_iso()
                metrics["wall_time_s"] = round(time.perf_counter() - started, 3)
                write_last_record(run_dir, metrics, reserve)
            if on_end is not None:  # every outcome: completed, failed or interrupted
                on_end(run_dir.path)


def _write_first_record(run_dir: RunDir, metrics: dict[str, Any]) -> None:
    """metrics.json saying ``running``; a disk too full for it stops the run before it trains.

    Raises:
        RecordLost: the write failed; the message names the run directory.
    """
    try:
        run_dir.write_metrics(metrics)
    except OSError as error:
        raise RecordLost(
            f"the run could not write its record (metrics.json) in {run_dir.path} "
            f"({error.strerror or error}), so it did not start training. Free disk space and "
            "run it again."
        ) from error


def _record_failure(ctx: RunContext, metrics: dict[str, Any], status: str, error: BaseException) -> None:
    """The status and error, then the finished epochs' history and curves; a stop signal while
    those are written cuts them short, and the error message says so."""
    with ctx.guard.deferred():
        _record_status(metrics, error, status)
    late = _record_partial_history(ctx)
    if late is not None:
        with ctx.guard.deferred():
            name = signal.Signals(getattr(late, "signal_number", signal.SIGINT)).name
            metrics["error"]["message"] += (
                f"; a {ctx.guard.nth_signal()} {name} stopped the final write before the history "
                "and curves of the finished epochs were all written"
            )


def _record_status(metrics: dict[str, Any], error: BaseException | None, status: str = "") -> None:
    """``status`` and ``error`` for how the run stopped (interrupted: a KeyboardInterrupt)."""
    interrupted = isinstance(error, KeyboardInterrupt)
    metrics["status"] = status or ("interrupted" if interrupted else "failed")
    message = str(error) or "interrupted" if interrupted else str(error)
    metrics["error"] = {"type": type(error).__name__, "message": message}


def _record_partial_history(ctx: RunContext) -> KeyboardInterrupt | None:
    """After an interrupt or a failure: the finished epochs' history, curves and summary.

    Never raises: a plotting error here must not hide why the run stopped, and a stop signal
    (a second one: "stop at once") ends the drawing, which is returned.
    """
    if "epochs_run" in ctx.summary:  # the experiment already reported its history
        return None
    try:
        from dlab.run.history import record_history

        record_history(ctx, ctx.history)
    except KeyboardInterrupt as late:
        return late
    except Exception:  # noqa: BLE001 - reported in run.log, the original error wins
        _append_log(ctx.run_dir, "while writing the partial history:\n" + traceback.format_exc())
    return None


def _append_log(run_dir: RunDir, text: str) -> str | None:
    """Append to run.log; on a full disk, the reason it could not (the run's error wins)."""
    try:
        run_dir.append_log(text)
    except OSError as error:
        return error.strerror or str(error)
    return None


def _mark_run_log(error: BaseException, run_dir: Path) -> None:
    """Tell the CLI where this error's traceback is (an error before the folder existed has none)."""
    try:
        error.dlab_run_log = run_dir / "run.log"  # type: ignore[attr-defined]
    except (AttributeError, TypeError):
        pass
