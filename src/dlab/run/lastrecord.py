"""The run's last record: metrics.json says how the run ended even when the disk is full.

A run's last act is writing metrics.json with its status. On a disk that filled up while the
run trained (or under a file-size limit), that write fails as well, and the run would stay
``running`` on disk with nothing saying why, while the console blamed a run directory that
"was not created". So:

- when the run starts it holds back :data:`RESERVE_BYTES` of disk in ``RUN_DIR/.dlab-run.reserve``
  (:class:`SpaceReserve`, random bytes, so a compressing filesystem cannot make it free);
- if the final metrics.json cannot be written, the reserve is deleted, which gives its blocks to
  that write, and the write is tried again;
- if it still fails, a short record (status, error, identity and times: a few hundred bytes) is
  written instead, marked ``record: short (...)``, and :class:`RecordShort` says so;
- if not even that fits, :class:`RecordLost` names the run directory and says that its
  metrics.json still reads ``running``.

The reserve is removed when the run ends, whatever happened.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlab.errors import RunFailed

if TYPE_CHECKING:
    from dlab.run.directory import RunDir

RESERVE_FILE = ".dlab-run.reserve"
RESERVE_BYTES = 64 * 1024
"""Room for a final metrics.json many times the usual few kilobytes, and its temporary copy."""

SHORT_KEYS = (
    "schema_version",
    "experiment",
    "config",
    "config_hash",
    "seed",
    "smoke",
    "run_dir",
    "started_at",
    "resumed",
    "status",
    "error",
    "finished_at",
    "wall_time_s",
)
"""What a short record keeps: who the run is, how it ended and when."""


class RecordShort(RunFailed):
    """Only a short metrics.json (status, error, times) could be written."""


class RecordLost(RunFailed):
    """Not even a short metrics.json could be written: the one on disk is out of date."""


class SpaceReserve:
    """Disk space held back in the run directory for the run's last record."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    @classmethod
    def hold(cls, run_dir: Path, size: int = RESERVE_BYTES) -> SpaceReserve:
        """Write the reserve file; on a disk that is already too full, hold nothing (and leave
        no partial file)."""
        path = Path(run_dir) / RESERVE_FILE
        try:
            with open(path, "wb") as handle:
                handle.write(os.urandom(size))
                handle.flush()
                os.fsync(handle.fileno())
        except OSError:
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
            return cls(None)
        return cls(path)

    def release(self) -> bool:
        """Delete the reserve, freeing its space; True when there was space to free."""
        path, self.path = self.path, None
        if path is None:
            return False
        try:
            path.unlink()
        except OSError:
            return False
        return True


def write_last_record(run_dir: RunDir, metrics: dict[str, Any], reserve: SpaceReserve) -> None:
    """Write the final metrics.json, using the reserve and then a short record if need be; the
    reserve is released in every case.

    Raises:
        RecordShort: only the short record could be written (the message says why).
        RecordLost: nothing could be written; metrics.json on disk still says ``running``.
    """
    try:
        failure = _write(run_dir, metrics)
        if failure is not None and reserve.release():  # its blocks are free now: it may fit
            failure = _write(run_dir, metrics)
        if failure is None:
            return
        reason = failure.strerror or str(failure)
        if _write(run_dir, short_record(metrics, reason)) is not None:
            raise RecordLost(
                f"the run {outcome(metrics)}, but its record could not be written in "
                f"{run_dir.path} ({reason}): its metrics.json still says 'running'. Free disk "
                "space (or lift the file-size limit) and run it again."
            ) from failure
        raise RecordShort(
            f"the run {outcome(metrics)}, but its full record could not be written in "
            f"{run_dir.path} ({reason}): metrics.json holds a short record (status, error, "
            "times; no results). Free disk space (or lift the file-size limit) and run it again."
        ) from failure
    finally:
        reserve.release()


def _write(run_dir: RunDir, metrics: dict[str, Any]) -> OSError | None:
    """Write metrics.json; the OSError that refused it, if any."""
    try:
        run_dir.write_metrics(metrics)
    except OSError as error:
        return error
    return None


def short_record(metrics: dict[str, Any], reason: str) -> dict[str, Any]:
    """The few fields of ``metrics`` that say how the run ended, marked as a short record; a run
    that had completed is ``failed`` in it, since its results are not there."""
    short = {key: metrics[key] for key in SHORT_KEYS if key in metrics}
    if short.get("status") == "completed":
        short["status"] = "failed"
        message = f"the run completed, but its results could not be written ({reason})"
        short["error"] = {"type": "RecordShort", "message": message}
    short["record"] = f"short ({reason}: the full metrics.json could not be written)"
    return short


def outcome(metrics: dict[str, Any]) -> str:
    """How the run ended, in words: ``failed (OSError: ...)``."""
    error = metrics.get("error")
    status = str(metrics.get("status", "ended"))
    if isinstance(error, dict):
        return f"{status} ({error.get('type', 'Error')}: {error.get('message', '')})"
    return status
