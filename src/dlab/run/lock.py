"""One process at a time in a run directory: the run lock.

A run holds an exclusive ``fcntl.flock`` on ``RUN_DIR/.dlab-run.lock`` from the moment
it starts (or resumes) until it has written its final metrics.json. The file holds the
pid and host of the holder, and metrics.json records them as ``process``, so that
``dlab run ... --resume RUN_DIR`` of a run that is still training is refused with
"still running (pid N on HOST)" instead of a second process training into the same
folder (two histories interleaved, 15 epochs of 12).

The kernel releases the lock when the process dies, however it dies (``kill -9``, an
out-of-memory kill, a power cut), so a run that was killed never leaves a stale lock
behind: its "running" status alone does not block a resume. The file is removed when
the run ends. Without ``fcntl`` (Windows) runs are not locked.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import IO, Any

from dlab.errors import UsageError

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = ".dlab-run.lock"


class RunStillRunning(UsageError):
    """Another live process holds the run directory's lock."""


def this_process() -> dict[str, Any]:
    """``{"pid": ..., "host": ...}`` of this process, for the lock file and metrics.json."""
    return {"pid": os.getpid(), "host": socket.gethostname()}


class RunLock:
    """The held lock of one run directory; release it with :meth:`release` or ``with``."""

    def __init__(self, run_dir: Path, handle: IO[str]) -> None:
        self.run_dir = run_dir
        self.owner = this_process()
        self._handle: IO[str] | None = handle

    @classmethod
    def acquire(cls, run_dir: str | os.PathLike[str], what: str = "") -> RunLock:
        """Take the lock of ``run_dir`` without waiting.

        Args:
            what: how the user named the run, for the message (e.g. ``--resume DIR``).

        Raises:
            RunStillRunning: a live process holds it (the message names its pid and host).
        """
        path = Path(run_dir)
        try:
            handle = open(path / LOCK_FILE, "a+", encoding="utf-8")  # noqa: SIM115 - kept open
        except OSError as error:
            raise UsageError(
                f"{what or path}: cannot create the run lock {path / LOCK_FILE} "
                f"({error.strerror or error}); the run directory must be "
                "writable."
            ) from None
        if fcntl is not None:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                raise RunStillRunning(
                    f"{what or path}: that run is still running ({holder(path)}); a second "
                    "process would train into the same folder. Wait for it to end, or stop it "
                    "(Ctrl-C or `kill PID`: it records its finished epochs) and resume then."
                ) from None
        lock = cls(path, handle)
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(lock.owner) + "\n")
        handle.flush()
        return lock

    def release(self) -> None:
        """Give the lock up: remove the file while still holding it, then close it (closing
        releases the lock), so a finished run directory holds no lock file."""
        if self._handle is not None:
            (self.run_dir / LOCK_FILE).unlink(missing_ok=True)
            self._handle.close()
            self._handle = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.release()

    def __del__(self) -> None:
        self.release()


def holder(run_dir: Path) -> str:
    """ "pid N on HOST" of the process named in the lock file (else metrics.json), or "pid unknown"."""
    for read in (
        lambda: json.loads((run_dir / LOCK_FILE).read_text(encoding="utf-8")),
        lambda: json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))["process"],
    ):
        try:
            owner = read()
            return f"pid {int(owner['pid'])} on {owner['host']}"
        except (OSError, ValueError, KeyError, TypeError, RecursionError):
            continue
    return "pid unknown"


def check_not_running(run_dir: str | os.PathLike[str], what: str = "") -> None:
    """Refuse a run directory whose lock a live process holds (takes and gives the lock back).

    Raises:
        RunStillRunning: see :meth:`RunLock.acquire`.
    """
    RunLock.acquire(run_dir, what).release()
