"""One process at a time in a run directory: the run lock.

A run holds an exclusive file lock on ``RUN_DIR/.dlab-run.lock`` from the moment it
starts (or resumes) until it has written its final metrics.json. ``RUN_DIR/.dlab-run.owner.json``
holds the pid and host of the holder, and metrics.json records them as ``process``, so
that ``dlab run ... --resume RUN_DIR`` of a run that is still training is refused with
"still running (pid N on HOST)" instead of a second process training into the same
folder (two histories interleaved, 15 epochs of 12).

The lock is :class:`filelock.FileLock`: ``fcntl.flock`` on POSIX, ``LockFileEx`` on
Windows, so runs are locked there too. The operating system releases it when the
process dies, however it dies (``kill -9``, an out-of-memory kill, a power cut), so a
run that was killed never leaves a stale lock behind: its "running" status and the
files it left alone do not block a resume. Both files are removed when the run ends.

The owner record is a file of its own because the lock file belongs to filelock: a
contender opening it may truncate it (filelock 3), Windows locks its first byte against
every other reader, and on a filesystem without ``flock`` filelock keeps its own marker
in it. Each acquire makes a new ``FileLock`` (``is_singleton=False``), so a second
acquire in the same process is refused exactly like another process's; and
``thread_local=False``, because the lock belongs to the run, not to the thread that took
it: a release from another thread (a finalizer) really releases it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
from pathlib import Path
from typing import Any

from filelock import BaseFileLock, FileLock, Timeout

from dlab.errors import UsageError
from dlab.fileio import atomic_write_text

LOCK_FILE = ".dlab-run.lock"
OWNER_FILE = ".dlab-run.owner.json"


class RunStillRunning(UsageError):
    """Another live process holds the run directory's lock."""


def this_process() -> dict[str, Any]:
    """``{"pid": ..., "host": ...}`` of this process, for the owner record and metrics.json."""
    return {"pid": os.getpid(), "host": socket.gethostname()}


class RunLock:
    """The held lock of one run directory; release it with :meth:`release` or ``with``."""

    def __init__(self, run_dir: Path, lock: BaseFileLock) -> None:
        self.run_dir = run_dir
        self.owner = this_process()
        self._lock: BaseFileLock | None = lock

    @classmethod
    def acquire(cls, run_dir: str | os.PathLike[str], what: str = "", record: bool = True) -> RunLock:
        """Take the lock of ``run_dir`` without waiting.

        Args:
            what: how the user named the run, for the message (e.g. ``--resume DIR``).
            record: write the owner record (pid, host) now; :func:`check_not_running`, which
                gives the lock straight back, writes none, and ``--resume`` writes it with
                :meth:`record_owner` once the run is known to be one it may continue (a refused
                resume writes nothing into the run).

        Raises:
            RunStillRunning: a live process holds it (the message names its pid and host).
            UsageError: the lock file cannot be created (the run directory is not writable).
        """
        path = Path(run_dir)
        lock = FileLock(path / LOCK_FILE, thread_local=False, is_singleton=False)
        try:
            if not path.is_dir():  # filelock would create the folder: a run directory must exist
                raise NotADirectoryError(errno.ENOTDIR, "not a folder")
            lock.acquire(blocking=False)
        except Timeout:  # before OSError: filelock's Timeout is a TimeoutError
            raise RunStillRunning(
                f"{what or path}: that run is still running ({holder(path)}); a second "
                "process would train into the same folder. Wait for it to end, or stop it "
                "(Ctrl-C or `kill PID`: it records its finished epochs) and resume then."
            ) from None
        except OSError as error:
            raise UsageError(
                f"{what or path}: cannot create the run lock {path / LOCK_FILE} "
                f"({error.strerror or error}); the run directory must be "
                "writable."
            ) from None
        held = cls(path, lock)
        if record:
            held.record_owner()
        return held

    def record_owner(self) -> None:
        """Write the owner record (pid, host) beside the lock.

        A hint for the "still running" message (metrics.json's ``process`` is the fallback): a
        run whose record cannot be written (a full disk) still holds its lock.
        """
        with contextlib.suppress(OSError):
            atomic_write_text(self.run_dir / OWNER_FILE, json.dumps(self.owner) + "\n")

    def release(self) -> None:
        """Give the lock up: remove the owner record and the lock file while still holding it,
        then unlock, so a finished run directory holds no lock file. Removing it after unlocking
        could remove a lock file another process has just locked. Windows cannot remove a locked
        file; filelock removes it there when it unlocks. A forked child, which inherited the
        object but not the run, leaves both alone."""
        lock, self._lock = self._lock, None
        if lock is None or os.getpid() != self.owner["pid"]:
            return
        for name in (OWNER_FILE, LOCK_FILE):
            with contextlib.suppress(OSError):
                (self.run_dir / name).unlink(missing_ok=True)
        lock.release()

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.release()

    def __del__(self) -> None:
        self.release()


def holder(run_dir: Path) -> str:
    """ "pid N on HOST" of the process named in the owner record (else metrics.json), or "pid unknown"."""
    for read in (
        lambda: json.loads((run_dir / OWNER_FILE).read_text(encoding="utf-8")),
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
    RunLock.acquire(run_dir, what, record=False).release()
